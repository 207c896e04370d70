"""Questions about the repository that holds a folder: its top, a commit, ancestry, hook paths."""

from __future__ import annotations

from pathlib import Path

from runner.errors import RunnerError
from runner.git.command import git_output, run_git


class RefError(RunnerError):
    """A git revision or repository cannot be used: no repository, an unknown revision."""


def repository_top(path: Path) -> Path:
    """The work tree's top folder of the repository holding `path`."""
    done = run_git(path, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise RefError(f"{path} is not in a git repository: --ref needs one (run `git init` and commit, "
                       f"or drop --ref to use the working tree)")
    return Path(done.stdout.strip()).resolve()


def rev_parse(root: Path, rev: str) -> str | None:
    """The full sha of commit `rev`, or None (a leading dash is never passed on as an option)."""
    if rev.startswith("-"):
        return None
    return git_output(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")


def resolve_commit(root: Path, rev: str) -> str:
    repository_top(root)  # a clear error outside git
    commit = rev_parse(root, rev)
    if commit is None:
        raise RefError(f"{rev}: no such commit in {root}; pass a commit sha, branch or tag")
    return commit


def is_ancestor(root: Path, ancestor: str, commit: str) -> bool:
    return run_git(root, "merge-base", "--is-ancestor", ancestor, commit).returncode == 0


def git_path(root: Path, name: str) -> Path | None:
    """Where git keeps `name` (`hooks`, honouring core.hooksPath) for the repository holding
    `root`, or None outside a repository."""
    out = git_output(root, "rev-parse", "--git-path", name)
    # Relative to the folder git ran in (a relative core.hooksPath is already resolved from the top).
    return None if out is None else root / out
