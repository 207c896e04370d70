"""Where a project lives: its root folder, its train.yaml and its state folder."""

from __future__ import annotations

import os
from pathlib import Path

from runner.errors import ProjectNotFound
from runner.values import Value

SPEC_NAME = "train.yaml"


class Project(Value):
    __slots__ = ("root", "spec_file", "display", "state_root")  # noqa: RUF023 (field order: repr)

    def __init__(self, root: Path, spec_file: Path, display: str, state_root: Path | None = None) -> None:
        self.root = root
        self.spec_file = spec_file
        self.display = display  # the spec file's path as the user should read it in messages
        # Set for a commit's exported tree (`--ref`): its runs still belong to the original project.
        self.state_root = state_root

    @property
    def spec_name(self) -> str:
        """The spec file as the project knows it: `train.yaml`, `train.docker.yaml`, `ml/train.yaml`."""
        try:
            return self.spec_file.relative_to(self.root).as_posix()
        except ValueError:
            return self.spec_file.name

    @property
    def snapshot_omit(self) -> frozenset[str]:
        """The spec file, project-relative, which snapshots leave out: its fields reach the
        fingerprint one by one, so editing a model's description must not rerun `code: .` jobs."""
        try:
            return frozenset({self.spec_file.relative_to(self.root).as_posix()})
        except ValueError:
            return frozenset()

    @property
    def state_dir(self) -> Path:
        """`.runner/` in the project, or `$RUNNER_STATE_DIR` (e.g. off a network filesystem)."""
        if self.state_root is not None:
            return self.state_root
        moved = os.environ.get("RUNNER_STATE_DIR")
        return Path(moved).resolve() if moved else self.root / ".runner"


def find_project(project_dir: str | os.PathLike[str] | None = None,
                 spec_file: str | os.PathLike[str] | None = None) -> Project:
    """Locate train.yaml: `-C DIR` (default: the current folder), or `-f FILE`.

    A relative FILE is read against DIR when DIR is given, else against the current
    folder, and then the file's own folder is the project root.
    """
    base = Path(project_dir) if project_dir is not None else Path(".")
    if spec_file is None:
        spec = base / SPEC_NAME
        root = base
    else:
        spec = Path(spec_file) if project_dir is None else base / spec_file
        root = base if project_dir is not None else spec.parent
    if not root.is_dir():
        raise ProjectNotFound(f"{root}: no such folder")
    if not spec.is_file():
        hint = " (run `runner init` to create one)" if spec_file is None else ""
        raise ProjectNotFound(f"{_display(spec)}: no such file{hint}")
    return Project(root=root.resolve(), spec_file=spec.resolve(), display=_display(spec))


def _display(path: Path) -> str:
    text = os.path.normpath(str(path))
    return text if not os.path.isabs(text) else _relative_if_below_cwd(text)


def _relative_if_below_cwd(text: str) -> str:
    rel = os.path.relpath(text)
    return text if rel.startswith("..") else rel
