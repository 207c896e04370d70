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

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import RunnerError
from runner.interrupts import stop_signals_interrupt
from runner.project import Project


class RefError(RunnerError):
    """`--ref` cannot be used: no git repository, an unknown revision, a project missing from it."""


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


def repository_top(path: Path) -> Path:
    """The work tree's top folder of the repository holding `path`."""
    done = _git(path, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise RefError(f"{path} is not in a git repository: --ref needs one (run `git init` and commit, "
                       f"or drop --ref to use the working tree)")
    return Path(done.stdout.strip()).resolve()


def _resolve(root: Path, ref: str) -> tuple[str, dict[str, Any]]:
    from runner.gitmeta import UnknownCommitError, git_metadata

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
    if _git(top, "cat-file", "-e", tree).returncode != 0:
        raise RefError(f"the project folder {inside} is not in commit {commit[:8]}: commit it first")
    proc = subprocess.Popen(["git", "-C", str(top), "archive", "--format=tar", tree],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_git_env())
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


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], check=False, cwd=cwd, capture_output=True, text=True, env=clean_git_env())
    except FileNotFoundError:
        raise RefError("git is not installed: --ref needs it") from None


def clean_git_env() -> dict[str, str]:
    """Inside a git hook, GIT_DIR/GIT_INDEX_FILE point at the committing repository's
    files (a partial commit's index is a temp file that is gone by now): drop them."""
    return {k: v for k, v in os.environ.items()
            if k not in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX")}
