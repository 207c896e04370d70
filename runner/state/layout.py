"""Every path runner owns: the state folder (`.runner/` or `$RUNNER_STATE_DIR`) and the shared
cache (`$RUNNER_CACHE_DIR`, default `~/.cache/runner`). No other module joins these names.

Paths are strings: `runner snapshot JOB` goes through here and importing pathlib would
cost it ~8 ms. The README's "State and caches" section describes each one.
"""

from __future__ import annotations

import os
import sys

# In the state folder.
DB = "state.db"
OBJECTS = "objects"
RUNS = "runs"
WORKSPACES = "workspaces"  # reusable code workspaces, a pool per job (runner.snapshot.workspace)
HOOKS = "hooks"
CACHE = "cache"
LOCK = "lock"
LOCK_PID = "lock.pid"
OWNER = "project"  # which project a $RUNNER_STATE_DIR belongs to
GITIGNORE = ".gitignore"

# In a run folder.
OUTPUTS = "outputs"
LOGS = "logs"
INPUTS = "inputs"
STD_LOG = "std_log.txt"  # in logs/: the run's stdout and stderr together (Azure ML's name)


class StateLayout:
    """The places inside one state folder."""

    __slots__ = ("root",)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)

    def _at(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def db(self) -> str:
        return self._at(DB)

    @property
    def objects(self) -> str:
        return self._at(OBJECTS)

    @property
    def runs(self) -> str:
        return self._at(RUNS)

    def run_dir(self, run_id: str) -> str:
        return self._at(RUNS, run_id)

    def run_log(self, run_id: str) -> str:
        return self._at(RUNS, run_id, LOGS, STD_LOG)

    @property
    def workspaces(self) -> str:
        return self._at(WORKSPACES)

    def workspace_pool(self, job: str) -> str:
        """The job's pool of code workspaces; a job name that is not a plain file name is hashed."""
        plain = job and job[0] != "." and all(c.isalnum() or c in "._-" for c in job) and len(job) <= 100
        if not plain:
            import hashlib

            job = "job-" + hashlib.sha256(job.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self._at(WORKSPACES, job)

    @property
    def hooks(self) -> str:
        return self._at(HOOKS)

    def cache_file(self, name: str) -> str:
        """A cache of runner's own under `cache/` (see `runner.state.cachefile`)."""
        return self._at(CACHE, name)

    @property
    def lock(self) -> str:
        return self._at(LOCK)

    @property
    def lock_pid(self) -> str:
        return self._at(LOCK_PID)

    @property
    def owner(self) -> str:
        return self._at(OWNER)

    @property
    def gitignore(self) -> str:
        return self._at(GITIGNORE)


def shared_cache() -> str:
    """`$RUNNER_CACHE_DIR`, or the user cache folder (`$XDG_CACHE_HOME/runner`, else `~/.cache/runner`
    on Linux, as platformdirs says; platformdirs itself, ~10 ms to import, only elsewhere)."""
    moved = os.environ.get("RUNNER_CACHE_DIR")
    if moved:
        return os.path.realpath(os.path.expanduser(moved))
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        return os.path.join(xdg if xdg.strip() else os.path.expanduser("~/.cache"), "runner")
    from platformdirs import user_cache_dir

    return user_cache_dir("runner")


def envs_dir() -> str:
    """Built host environments, one folder per fingerprint, and their side files."""
    return os.path.join(shared_cache(), "envs")


def env_file(digest: str, suffix: str = "") -> str:
    """An environment's folder (`suffix` ""), or a side file of it: `.lock`, `.owner`, `.used`, `.inuse`."""
    return os.path.join(envs_dir(), digest + suffix)


def env_log(digest: str) -> str:
    return os.path.join(envs_dir(), "logs", f"{digest}.log")


def shim_dir(digest: str) -> str:
    """The folder put first on every run's PYTHONPATH: the tracking module (and capture shims)."""
    return os.path.join(shared_cache(), "shim", digest)


def interpreter_links(key: str) -> str:
    """A folder of `python` links to a user_managed interpreter, put first on PATH."""
    return os.path.join(shared_cache(), "bin", key)


def interpreter_versions() -> str:
    """The version each probed interpreter reported, keyed by its path and stat."""
    return os.path.join(shared_cache(), "interpreters.marshal")
