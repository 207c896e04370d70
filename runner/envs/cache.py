"""The environment cache: `$RUNNER_CACHE_DIR/envs/<digest>`, shared by every project of a user.

check -> per-fingerprint file lock -> check again -> build in a staging folder -> write
the versioned marker last -> rename into place. A folder without a marker (a killed
build) is never used; the next builder of that digest removes it under the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runner import progress
from runner.atomic import atomic_write
from runner.envs.errors import EnvError
from runner.envs.fingerprint import EnvFingerprint
from runner.state import layout

MARKER = ".runner-env.json"
MARKER_VERSION = 1
USE_RESOLUTION = 60.0  # seconds: last use is rewritten at most this often, keeping cache hits cheap

Log = Callable[[str], None]
# Builds into a folder, writing tool output to the log; returns facts for the marker.
BuildFn = Callable[[Path, IO[str], Path], dict[str, Any]]


def envs_dir() -> Path:
    return Path(layout.envs_dir())


def env_path(digest: str) -> Path:
    return Path(layout.env_file(digest))


def side_file(digest: str, suffix: str) -> Path:
    """`.lock`, `.owner`, `.used` or `.inuse` beside the environment's folder."""
    return Path(layout.env_file(digest, suffix))


def log_path(digest: str) -> Path:
    return Path(layout.env_log(digest))


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a complete env, or None (missing, unreadable, or another digest)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(marker, dict) or marker.get("version") != MARKER_VERSION \
            or marker.get("fingerprint") != folder.name:
        return None
    return marker


def is_cached(digest: str) -> bool:
    return read_marker(env_path(digest)) is not None


@dataclass(frozen=True)
class Ensured:
    folder: Path
    cache: str  # "hit" | "built"


def ensure(fp: EnvFingerprint, build: BuildFn, *, relocatable: bool, log: Log) -> Ensured:
    """The env folder of `fp`, built once however many processes ask at the same time."""
    folder = env_path(fp.digest)
    if read_marker(folder) is not None:
        record_use(fp.digest)
        return Ensured(folder, "hit")
    with _BuildLock(fp.digest, log):
        if read_marker(folder) is not None:
            record_use(fp.digest)
            return Ensured(folder, "hit")
        remove_leftovers(fp.digest)
        try:
            _build(fp, build, folder, relocatable=relocatable)
        except EnvError as exc:
            raise type(exc)(f"environment {fp.label}: {exc}") from None
    record_use(fp.digest)
    return Ensured(folder, "built")


def _build(fp: EnvFingerprint, build: BuildFn, folder: Path, *, relocatable: bool) -> None:
    # conda prefixes hold absolute paths: they are built in place, the marker alone says "done".
    staging = envs_dir() / f".tmp-{fp.digest}-{uuid.uuid4().hex[:8]}" if relocatable else folder
    logfile = log_path(fp.digest)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(logfile, "w", encoding="utf-8") as handle, progress.phase(f"building environment {fp.label}"):
            facts = build(staging, handle, logfile)
        atomic_write(staging / MARKER, json.dumps(_marker(fp, facts), indent=2, sort_keys=True))
        if staging != folder:
            os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _marker(fp: EnvFingerprint, facts: dict[str, Any]) -> dict[str, Any]:
    return {"version": MARKER_VERSION, "fingerprint": fp.digest, "kind": fp.kind,
            "components": fp.components, "created_at": time.time(), **facts}


def remove_leftovers(digest: str) -> None:
    """Remove half-built folders of `digest`; call only while holding its lock."""
    root = envs_dir()
    for stale in root.glob(f".tmp-{digest}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = root / digest
    if folder.exists() and read_marker(folder) is None:
        shutil.rmtree(folder, ignore_errors=True)


class _BuildLock:
    """The per-fingerprint lock; while waiting, say who holds it."""

    def __init__(self, digest: str, log: Log) -> None:
        from filelock import FileLock

        self.owner = side_file(digest, ".owner")
        envs_dir().mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(side_file(digest, ".lock")))
        self.log = log

    def __enter__(self) -> None:
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            self.log(f"waiting for {_owner_text(self.owner)} building this environment")
            self.lock.acquire()
        atomic_write(self.owner, json.dumps({"pid": os.getpid(), "host": os.uname().nodename,
                                             "since": time.time()}))

    def __exit__(self, *exc: object) -> None:
        self.owner.unlink(missing_ok=True)
        self.lock.release()


def _owner_text(owner: Path) -> str:
    try:
        data = json.loads(owner.read_text(encoding="utf-8"))
        return f"process {data['pid']} on {data['host']}"
    except (OSError, ValueError, KeyError):
        return "another process"


def record_use(digest: str) -> None:
    """Remember when an env was last used (for `runner envs prune`), at most once a minute."""
    used = side_file(digest, ".used")
    try:
        if time.time() - used.stat().st_mtime < USE_RESOLUTION:
            return
    except OSError:
        pass
    atomic_write(used, json.dumps({"version": 1, "last_used": time.time()}))


def last_used(digest: str) -> float | None:
    try:
        return float(json.loads((side_file(digest, ".used")).read_text(encoding="utf-8"))["last_used"])
    except (OSError, ValueError, KeyError, TypeError):
        marker = read_marker(env_path(digest))
        return float(marker["created_at"]) if marker else None


# Envs this process runs jobs in: a shared flock on `<digest>.inuse`, held until the process
# ends (an apply, or a watch session), so `runner envs prune` never removes an env under a run.
_HELD: dict[str, int] = {}


def hold_in_use(digest: str) -> None:
    import fcntl

    if digest in _HELD:
        return
    envs_dir().mkdir(parents=True, exist_ok=True)
    fd = os.open(side_file(digest, ".inuse"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _HELD[digest] = fd


def in_use(digest: str) -> bool:
    """Whether some process holds the env (asked by prune, which then keeps it)."""
    import fcntl

    path = side_file(digest, ".inuse")
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock taken just to ask
    return False
