"""Recorded snapshots of a job, and what changed since one of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import StateError
from runner.snapshot.manifest import SnapshotDiff, diff_manifests, load_manifest
from runner.snapshot.records import recorded, resolve
from runner.snapshot.take import take_snapshot

if TYPE_CHECKING:
    from runner.state import State


@dataclass(frozen=True)
class JobDiff:
    old: str
    new: str
    diff: SnapshotDiff


def diff_job(project_root: Path, code: str, state: State, job: str, old: str | None = None,
             limits: Any = None, omit: frozenset[str] = frozenset()) -> JobDiff:
    """Compare the working tree's snapshot of `job` with `old` (default: the newest recorded
    snapshot of the job that differs from now; no change if every recorded one equals now)."""
    now = take_snapshot(project_root, code, state, job=job, limits=limits, record=False, omit=omit)
    if old is not None:
        base = resolve(state.db, old)
    else:
        history = recorded(state.db, job)
        if not history:
            raise StateError(f"no recorded snapshot of job {job!r} yet; run `runner snapshot {job}` first")
        base = next((d for d in history if d != now.digest), now.digest)
    return JobDiff(base, now.digest, diff_manifests(load_manifest(state, base), now.files))
