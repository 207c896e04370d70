"""Run git, always with one environment convention.

- Variables a git hook exports (`GIT_DIR`, `GIT_INDEX_FILE`, ...) are dropped: inside a
  post-commit hook they point at the committing repository's files (a partial commit's
  index is a temp file that is gone by now), and runner always means the repository that
  holds the folder it runs git in.
- `GIT_OPTIONAL_LOCKS=0`: `git status` never takes index.lock beside a commit in progress.
- `LC_ALL=C`: output runner parses is never translated.

Plain `git` calls (about 5 ms each), not GitPython, whose import alone costs ~0.1 s.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from runner.errors import RunnerError

if TYPE_CHECKING:
    from pathlib import Path

HOOK_VARIABLES = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX")
_SETTINGS = {"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


class GitMissing(RunnerError):
    """The git binary is not installed (or the folder to run it in is gone)."""


def git_env() -> dict[str, str]:
    """runner's environment for git and for anything started from a git hook."""
    env = {k: v for k, v in os.environ.items() if k not in HOOK_VARIABLES}
    env.update(_SETTINGS)
    return env


def run_git(cwd: str | Path, *args: str, text: bool = True) -> subprocess.CompletedProcess[str]:
    """`git ARGS` in `cwd`, output captured; GitMissing when git cannot be started there."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=text, check=False,
                              env=git_env(), stdin=subprocess.DEVNULL)
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise GitMissing(f"cannot run git in {cwd}: {exc.strerror or exc}; install git") from None


def git_output(cwd: str | Path, *args: str) -> str | None:
    """stdout of `git ARGS` without its final newline, or None when it fails or git is missing."""
    try:
        done = run_git(cwd, *args)
    except GitMissing:
        return None
    return done.stdout.removesuffix("\n") if done.returncode == 0 else None


def start_git(cwd: str | Path, *args: str) -> subprocess.Popen[bytes]:
    """`git ARGS` streaming its stdout (`git archive`)."""
    try:
        return subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=git_env())
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise GitMissing(f"cannot run git in {cwd}: {exc.strerror or exc}; install git") from None
