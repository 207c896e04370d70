"""Where a project lives: its root folder, its train.yaml and its state folder."""

from __future__ import annotations

import os

from runner.errors import ProjectNotFound
from runner.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

SPEC_NAME = "train.yaml"


class Project(Value):
    """Where a project lives. Its places are kept as strings (`root_path`, `spec_path`,
    `state_path`) and handed out as `Path`s (`root`, `spec_file`, `state_dir`) on use:
    `runner snapshot JOB` needs only the strings, and importing pathlib would cost it ~8 ms."""

    __slots__ = ("root_path", "spec_path", "display", "state_root_path")  # noqa: RUF023 (field order: repr)

    def __init__(self, root: str | os.PathLike[str], spec_file: str | os.PathLike[str], display: str,
                 state_root: str | os.PathLike[str] | None = None) -> None:
        self.root_path = os.fspath(root)
        self.spec_path = os.fspath(spec_file)
        self.display = display  # the spec file's path as the user should read it in messages
        # Set for a commit's exported tree (`--ref`): its runs still belong to the original project.
        self.state_root_path = None if state_root is None else os.fspath(state_root)

    @property
    def root(self) -> Path:
        return _path(self.root_path)

    @property
    def spec_file(self) -> Path:
        return _path(self.spec_path)

    @property
    def state_root(self) -> Path | None:
        return None if self.state_root_path is None else _path(self.state_root_path)

    @property
    def spec_name(self) -> str:
        """The spec file as the project knows it: `train.yaml`, `train.docker.yaml`, `ml/train.yaml`."""
        return self._spec_in_root() or os.path.basename(self.spec_path)

    @property
    def snapshot_omit(self) -> frozenset[str]:
        """The spec file, project-relative, which snapshots leave out: its fields reach the
        fingerprint one by one, so editing a model's description must not rerun `code: .` jobs."""
        inside = self._spec_in_root()
        return frozenset({inside}) if inside else frozenset()

    def _spec_in_root(self) -> str | None:
        """The spec file relative to the root, `/`-separated, or None when it is not below it
        (what `Path.relative_to` says, for the clean paths a Project holds)."""
        root = self.root_path.rstrip(os.sep) + os.sep
        if not self.spec_path.startswith(root):
            return None
        return self.spec_path[len(root):].replace(os.sep, "/")

    @property
    def state_path(self) -> str:
        """`.runner/` in the project, or `$RUNNER_STATE_DIR` (e.g. off a network filesystem)."""
        if self.state_root_path is not None:
            return self.state_root_path
        moved = os.environ.get("RUNNER_STATE_DIR")
        return os.path.realpath(moved) if moved else os.path.join(self.root_path, ".runner")

    @property
    def state_dir(self) -> Path:
        return _path(self.state_path)


def _path(text: str) -> Path:
    from pathlib import Path

    return Path(text)


def find_project(project_dir: str | os.PathLike[str] | None = None,
                 spec_file: str | os.PathLike[str] | None = None) -> Project:
    """Locate train.yaml: `-C DIR` (default: the current folder), or `-f FILE`.

    A relative FILE is read against DIR when DIR is given, else against the current
    folder, and then the file's own folder is the project root. With neither, and no
    train.yaml here, the nearest one above is used, as git finds `.git` (`found_above`).
    """
    if project_dir is None and spec_file is None and not os.path.isfile(SPEC_NAME):
        above = found_above()
        if above is not None:
            folder = os.path.dirname(above)
            return Project(root=os.path.realpath(folder), spec_file=os.path.realpath(above),
                           display=os.path.relpath(above))
    base = _clean(os.fspath(project_dir)) if project_dir is not None else "."
    if spec_file is None:
        spec = _clean(os.path.join(base, SPEC_NAME))
        root = base
    else:
        spec = _clean(os.path.join(base, os.fspath(spec_file)))  # an absolute FILE stays as it is
        root = base if project_dir is not None else os.path.dirname(spec) or "."
    if not os.path.isdir(root):
        raise ProjectNotFound(f"{root}: no such folder")
    if not os.path.isfile(spec):
        hint = " (run `runner init` to create one)" if spec_file is None else ""
        raise ProjectNotFound(f"{_display(spec)}: no such file{hint}")
    return Project(root=os.path.realpath(root), spec_file=os.path.realpath(spec), display=_display(spec))


def where_note(found: Project) -> str | None:
    """`runner: using ../train.yaml` when `found` (located without -C/-f) is not in the current
    folder, else None."""
    if found.root_path == os.path.realpath("."):
        return None
    return f"runner: using {found.display}"


def found_above(start: str = ".") -> str | None:
    """The nearest train.yaml in a folder above `start` (absolute path), looking no higher than
    the git repository's top (the first folder with a `.git`) or `/`; None when there is none."""
    folder = os.path.abspath(start)
    while not os.path.exists(os.path.join(folder, ".git")):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
        if os.path.isfile(os.path.join(folder, SPEC_NAME)):
            return os.path.join(folder, SPEC_NAME)
    return None


def _clean(path: str) -> str:
    """`path` as pathlib spells it: without empty or `.` parts (`a//b/./c/` is `a/b/c`), `.` for
    nothing. `..` stays: `link/..` is not `.` when `link` is a symlink."""
    head = os.sep if path.startswith(os.sep) else ""
    return head + os.sep.join(part for part in path.split(os.sep) if part not in ("", ".")) or "."


def _display(path: str) -> str:
    text = os.path.normpath(path)
    return text if not os.path.isabs(text) else _relative_if_below_cwd(text)


def _relative_if_below_cwd(text: str) -> str:
    rel = os.path.relpath(text)
    return text if rel.startswith("..") else rel
