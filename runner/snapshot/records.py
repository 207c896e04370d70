"""The `snapshots` table: which snapshots were recorded, for which job and code folder.

A run records the snapshot it ran with in its own row (`runs.snapshot`); this table holds
the snapshots `runner snapshot JOB` and applies recorded, so `snapshot diff` and gc know them.
"""

from __future__ import annotations

from runner.errors import StateError
from runner.state.db import (
    now,  # one timestamp format: snapshots and runs sort together
)

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    import sqlite3


def latest(db: sqlite3.Connection, job: str | None, code: str) -> str | None:
    """The digest last recorded for `job` (None: a plan's) of the folder `code`."""
    row = db.execute("SELECT digest FROM snapshots WHERE job IS ? AND code IS ? ORDER BY id DESC LIMIT 1",
                     (job, code)).fetchone()
    return row[0] if row else None


def record(db: sqlite3.Connection, job: str | None, code: str, digest: str, files: int, size: int) -> None:
    """Add a row, in the caller's transaction."""
    db.execute("INSERT INTO snapshots (job, digest, files, bytes, created_at, code) VALUES (?, ?, ?, ?, ?, ?)",
               (job, digest, files, size, now(), code))


def recorded(db: sqlite3.Connection, job: str | None) -> list[str]:
    """The job's snapshot digests, newest first: those `runner snapshot JOB` recorded and
    those its runs ran with (plan and apply record snapshots per code folder, not per job)."""
    rows = db.execute(
        "SELECT digest, created_at FROM snapshots WHERE job IS ? "
        "UNION ALL SELECT snapshot, created_at FROM runs WHERE job IS ? AND snapshot IS NOT NULL "
        "ORDER BY created_at DESC", (job, job))
    return list(dict.fromkeys(row[0] for row in rows))


def resolve(db: sqlite3.Connection, ref: str) -> str:
    """A recorded snapshot digest from its full hex or a unique prefix (at least 4 characters)."""
    ref = ref.strip().lower().removeprefix("sha256:")
    rows = db.execute("SELECT digest FROM snapshots WHERE digest >= ?1 AND digest < ?2 UNION "
                      "SELECT snapshot FROM runs WHERE snapshot >= ?1 AND snapshot < ?2",
                      (ref, ref + "g")).fetchall() if len(ref) >= 4 else []
    if len(rows) == 1:
        return str(rows[0][0])
    problem = "matches several snapshots; give more characters" if rows else "is not a recorded snapshot"
    raise StateError(f"{ref!r} {problem} (digests are printed by `runner snapshot JOB`)")
