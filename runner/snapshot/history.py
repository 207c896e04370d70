"""Recorded snapshots of a job, and what changed since one of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import StateError
from runner.snapshot.manifest import SnapshotDiff, diff_manifests, load_manifest
from runner.snapshot.take import take_snapshot

if TYPE_CHECKING:
    from runner.state import State


@dataclass(frozen=True)
class JobDiff:
    old: str
    new: str
    diff: SnapshotDiff


def recorded(state: State, job: str | None) -> list[str]:
    """The job's snapshot digests, newest first: those `runner snapshot JOB` recorded and
    those its runs ran with (plan and apply record snapshots per code folder, not per job)."""
    rows = state.db.execute(
        "SELECT digest, created_at FROM snapshots WHERE job IS ? "
        "UNION ALL SELECT snapshot, created_at FROM runs WHERE job IS ? AND snapshot IS NOT NULL "
        "ORDER BY created_at DESC", (job, job))
    return list(dict.fromkeys(row[0] for row in rows))


def resolve(state: State, ref: str) -> str:
    """A recorded snapshot digest from its full hex or a unique prefix (at least 4 characters)."""
    ref = ref.strip().lower().removeprefix("sha256:")
    rows = state.db.execute("SELECT digest FROM snapshots WHERE digest >= ?1 AND digest < ?2 UNION "
                            "SELECT snapshot FROM runs WHERE snapshot >= ?1 AND snapshot < ?2",
                            (ref, ref + "g")).fetchall() if len(ref) >= 4 else []
    if len(rows) == 1:
        return str(rows[0][0])
    problem = "matches several snapshots; give more characters" if rows else "is not a recorded snapshot"
    raise StateError(f"{ref!r} {problem} (digests are printed by `runner snapshot JOB`)")


def diff_job(project_root: Path, code: str, state: State, job: str, old: str | None = None,
             limits: Any = None, omit: frozenset[str] = frozenset()) -> JobDiff:
    """Compare the working tree's snapshot of `job` with `old` (default: the newest recorded
    snapshot of the job that differs from now; no change if every recorded one equals now)."""
    now = take_snapshot(project_root, code, state, job=job, limits=limits, record=False, omit=omit)
    if old is not None:
        base = resolve(state, old)
    else:
        history = recorded(state, job)
        if not history:
            raise StateError(f"no recorded snapshot of job {job!r} yet; run `runner snapshot {job}` first")
        base = next((d for d in history if d != now.digest), now.digest)
    return JobDiff(base, now.digest, diff_manifests(load_manifest(state, base), now.files))
