"""`--ref REV`: plan and apply from a commit's tree instead of the working tree.

The commit's tree is exported with `git archive` (read by `tarfile`) into a fresh
temporary folder, rather than checked out with `git worktree add`: an export writes
nothing into the repository (no `.git/worktrees` entry left behind if runner is killed,
no git lock taken beside a `git commit` that is running our hook) and works the same in
a shallow clone. Only the project's folder is exported, so a project in a subfolder of
the repository becomes the export's root. As with any export of a commit, it holds only
what git tracks: a dataset kept out of git is missing, submodules are empty, and files
marked `export-ignore` in `.gitattributes` are left out.

train.yaml, code snapshots and datasets all come from the export; the state stays the
original project's (`Project.state_root`), and runs record the commit with `dirty: false`.
The export is removed when the `with` block ends: on success, error, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.git.command import run_git, start_git
from runner.git.repo import RefError, repository_top
from runner.interrupts import stop_signals_interrupt
from runner.project import Project


@dataclass(frozen=True)
class RefTree:
    project: Project  # rooted in the export; its state is the original project's
    commit: str
    git: dict[str, Any]  # git metadata for the runs (the commit, dirty False)


@contextmanager
def ref_tree(project: Project, ref: str) -> Iterator[RefTree]:
    """Export the project's folder as it is in commit `ref`; removed again on the way out."""
    top = repository_top(project.root)
    commit, git = _resolve(project.root, ref)
    inside = _relative(project.root, top)
    spec_rel = _spec_in_project(project)
    export = Path(tempfile.mkdtemp(prefix=f"runner-ref-{commit[:8]}-"))
    try:
        with stop_signals_interrupt(signal.SIGTERM):
            _export(top, commit, inside, export)
            spec = export / spec_rel
            if not spec.is_file():
                raise RefError(f"{project.display} is not in commit {commit[:8]} "
                               f"({ref}): commit it first, or pass another --ref")
            yield RefTree(Project(export, spec, f"{commit[:8]}:{project.display}", state_root=project.state_dir),
                          commit, git)
    finally:
        shutil.rmtree(export, ignore_errors=True)


def _resolve(root: Path, ref: str) -> tuple[str, dict[str, Any]]:
    from runner.git.meta import UnknownCommitError, git_metadata

    try:
        meta = git_metadata(root, commit=ref)
    except UnknownCommitError as exc:
        raise RefError(f"--ref {ref}: no such commit in {root}; pass a commit sha, branch or tag "
                       f"(in a shallow clone, fetch it first)") from exc
    if meta.commit is None:
        raise RefError(f"--ref {ref}: cannot read commits in {root} (no commits yet, or git is missing)")
    return meta.commit, meta.as_dict()


def _relative(root: Path, top: Path) -> str:
    try:
        return root.resolve().relative_to(top).as_posix()
    except ValueError:
        raise RefError(f"{root} is not inside the git work tree {top}") from None


def _spec_in_project(project: Project) -> Path:
    try:
        return project.spec_file.resolve().relative_to(project.root.resolve())
    except ValueError:
        raise RefError(f"{project.display} is outside the project folder {project.root}; "
                       f"--ref reads train.yaml from the project's folder in the commit") from None


def _export(top: Path, commit: str, inside: str, dest: Path) -> None:
    """`git archive COMMIT:FOLDER | tar -x` into `dest`, without a shell or a tar binary."""
    import tarfile

    tree = f"{commit}:{inside}" if inside != "." else f"{commit}^{{tree}}"
    if run_git(top, "cat-file", "-e", tree).returncode != 0:
        raise RefError(f"the project folder {inside} is not in commit {commit[:8]}: commit it first")
    proc = start_git(top, "archive", "--format=tar", tree)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            archive.extractall(dest, filter="data")
    except tarfile.TarError as exc:  # e.g. a symlink that leads outside the project
        raise RefError(f"cannot export commit {commit[:8]}: {exc}") from None
    finally:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        code = proc.wait()
    if code != 0:
        raise RefError(f"git archive of {commit[:8]} failed: {err.strip()}")
