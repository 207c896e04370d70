"""`runner envs prune`: remove cached environments not used for a while, and build leftovers."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.envs.cache import (
    env_path,
    envs_dir,
    in_use,
    last_used,
    log_path,
    read_marker,
    side_file,
)
from runner.envs.errors import EnvError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_age(text: str) -> float:
    """`30d`, `12h`, `90m`, `45s`, `2w` -> seconds."""
    match = _AGE_RE.match(text)
    if not match:
        raise EnvError(f"--older-than {text!r}: use a number and a unit (s, m, h, d, w), e.g. 30d")
    return float(match.group(1)) * UNITS[match.group(2)]


@dataclass(frozen=True)
class Pruned:
    fingerprint: str
    location: str
    last_used: float | None  # epoch seconds; None for a half-built leftover
    removed: bool  # False under --dry-run, or when a build holds the env's lock

    def as_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "location": self.location,
                "last_used": self.last_used, "removed": self.removed}


def prune_envs(older_than: float, *, dry_run: bool = False, now: float | None = None) -> list[Pruned]:
    """Remove envs last used more than `older_than` seconds ago; leftovers of killed builds too."""
    root = envs_dir()
    if not root.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - older_than
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "logs"):
        if folder.name.startswith(".trash-"):  # an interrupted earlier prune
            shutil.rmtree(folder, ignore_errors=True)
            continue
        digest = _digest_of(folder)
        used = last_used(digest) if read_marker(folder) is not None else None
        if used is not None and used >= cutoff:
            continue
        found.append(Pruned(digest, str(folder), used, not dry_run and _remove(folder, digest)))
    return found


def _digest_of(folder: Path) -> str:
    name = folder.name
    return name.split("-")[1] if name.startswith(".tmp-") else name


def _remove(folder: Path, digest: str) -> bool:
    """Remove under the env's lock, so a build in progress is never pulled away."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(side_file(digest, ".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    try:
        if in_use(digest):  # a run (or a watch session) is using it right now
            return False
        _rename_then_delete(folder)
        if not env_path(digest).exists():
            for suffix in (".used", ".owner"):  # never `.inuse`: a run may hold it
                side_file(digest, suffix).unlink(missing_ok=True)
            log_path(digest).unlink(missing_ok=True)
    finally:
        lock.release()
    return True


def _rename_then_delete(folder: Path) -> None:
    # The rename is atomic: a reader sees the whole env with its marker, or no env at all.
    trash = folder.parent / f".trash-{uuid.uuid4().hex[:8]}"
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
