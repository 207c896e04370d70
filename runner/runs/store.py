"""Writes to the run history. Each change is one SQLite transaction.

Lifecycle: queued -> preparing -> running -> finalizing -> completed | failed | canceled,
and `lost` for a run whose runner died (marked by the next apply). Every status change
is also an event row with its timestamp.
"""

from __future__ import annotations

import json
import os
import posixpath
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runner.errors import StateError
from runner.state.db import is_not_utf8, not_utf8, now, transaction

ACTIVE = ("queued", "preparing", "running", "finalizing")
ENDED = ("completed", "failed", "canceled", "lost")


@dataclass(frozen=True)
class NewRun:
    job: str
    experiment: str
    fingerprint: str
    components: dict[str, Any]
    reasons: list[str]
    params: dict[str, Any]
    snapshot: str
    environment: str
    git: dict[str, Any]
    attempt: int = 1
    sweep_id: str | None = None  # a sweep's trial: its sweep and trial number
    trial: int | None = None


class RunStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def create(self, run: NewRun) -> str:
        with transaction(self.conn) as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs WHERE job = ?", (run.job,)).fetchone()[0]
            run_id, at = f"{run.job}-{seq}", now()
            db.execute(
                "INSERT INTO runs (id, job, seq, experiment, status, fingerprint, components, reasons, params,"
                " snapshot, environment, git, created_at, owner_pid, attempt, sweep_id, trial)"
                " VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, run.job, seq, run.experiment, run.fingerprint, _j(run.components), _j(run.reasons),
                 _j(run.params), run.snapshot, run.environment, _j(run.git), at, os.getpid(), run.attempt,
                 run.sweep_id, run.trial))
            db.execute("INSERT INTO run_events (run_id, status, at) VALUES (?, 'queued', ?)", (run_id, at))
        return run_id

    def set_status(self, run_id: str, status: str, *, detail: str | None = None, **fields: Any) -> None:
        at = now()
        columns = {"status": status, **fields}
        if status == "running":
            columns["started_at"] = at
        if status in ENDED:
            columns["ended_at"] = at
        if detail is not None and status in ENDED:
            columns["error"] = detail
        assignments = ", ".join(f"{key} = ?" for key in columns)
        with transaction(self.conn) as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*columns.values(), run_id))
            db.execute("INSERT INTO run_events (run_id, status, at, detail) VALUES (?, ?, ?, ?)",
                       (run_id, status, at, detail))

    def add_files(self, run_id: str, kind: str, files: Iterable[tuple[str, str, int]]) -> None:
        with transaction(self.conn) as db:
            db.executemany("INSERT OR REPLACE INTO run_files (run_id, kind, path, digest, size) VALUES (?, ?, ?, ?, ?)",
                           [(run_id, kind, path, digest, size) for path, digest, size in files])

    def add_metrics(self, run_id: str, records: Iterable[dict[str, Any]]) -> None:
        """Store what `runner.tracking` wrote (metrics, logged params, tags), replacing earlier ingests."""
        metrics, params, tags = [], {}, {}
        for record in records:
            kind = record.get("type")
            if kind == "metric":
                metrics.append((run_id, str(record["name"]), int(record.get("step", 0)),
                                _float(record.get("value")), str(record.get("time", "")), int(record.get("rank", 0))))
            elif kind == "params":
                params.update(record.get("params", {}))
            elif kind == "tags":
                tags.update(record.get("tags", {}))
        with transaction(self.conn) as db:
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.executemany("INSERT INTO metrics (run_id, name, step, value, time, rank) VALUES (?, ?, ?, ?, ?, ?)",
                           metrics)
            db.execute("UPDATE runs SET logged_params = ?, tags = ? WHERE id = ?", (_j(params), _j(tags), run_id))

    def active_runs(self, *, remote: bool = False) -> list[sqlite3.Row]:
        """Runs still active in the database: local ones (id, owner_pid, pgid, status), or with
        `remote`, those on a cluster (id, remote_id, remote)."""
        columns, where = ("id, remote_id, remote", "IS NOT NULL") if remote else ("id, owner_pid, pgid, status", "IS NULL")
        with damage_named(self.conn):
            cursor = self.conn.execute(f"SELECT {columns} FROM runs WHERE remote_id {where} AND status IN "
                                       f"({', '.join('?' * len(ACTIVE))})", ACTIVE)
            return cursor.fetchall()

    def latest(self, job: str, *, status: str | None = None) -> dict[str, Any] | None:
        query = "SELECT * FROM runs WHERE job = ?" + (" AND status = ?" if status else "") + " ORDER BY seq DESC LIMIT 1"
        with damage_named(self.conn):
            row = self.conn.execute(query, (job, status) if status else (job,)).fetchone()
            return row_dict(self.conn, row)

    def files(self, run_id: str, kind: str = "outputs") -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT path, digest, size FROM run_files WHERE run_id = ? AND kind = ? ORDER BY path", (run_id, kind))]


@contextmanager
def damage_named(conn: sqlite3.Connection) -> Iterator[None]:
    """A run row with text that is not UTF-8 (SQLite stores what it is given; `PRAGMA
    integrity_check` does not look) becomes one error naming the run, not an internal error."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if not is_not_utf8(exc):
            raise
        runs = "; ".join(not_utf8(conn, "runs")) or "(none found now)"
        where = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "") or "state.db"
        raise StateError(f"{where}: the run history holds text that is not UTF-8: run {runs}; fix or delete "
                         f"that row with sqlite3 (`runner doctor` checks the rest of the state)") from None


FileRow = tuple[str, str, int]  # (path, digest, size)


def select(files: Iterable[FileRow], path: str) -> tuple[str, list[FileRow]]:
    """A run's files at `path` (e.g. outputs/model.joblib): ("file", [(its name, digest, size)]),
    ("folder", [(path inside the folder, digest, size), ...]), or ("missing", [])."""
    inside: list[FileRow] = []
    for rel, digest, size in files:
        if rel == path:
            return "file", [(posixpath.basename(rel), digest, size)]
        if rel.startswith(path + "/"):
            inside.append((rel[len(path) + 1:], digest, size))
    return ("folder", sorted(inside)) if inside else ("missing", [])


def row_dict(conn: sqlite3.Connection, row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    record = dict(zip(_columns(conn), row))
    for key in ("components", "reasons", "params", "git", "tags", "logged_params"):
        record[key] = json.loads(record[key]) if record.get(key) else ({} if key != "reasons" else [])
    record["status"] = shown_status(record["status"], record.get("owner_pid"), remote=bool(record.get("remote_id")))
    return record


def shown_status(status: str, owner_pid: int | None, *, remote: bool = False) -> str:
    """`lost` for an active run whose runner died (kill -9): the next apply marks it so; readers say so
    already. A run on a cluster lives on without its runner: the next apply reattaches or collects it."""
    return "lost" if status in ACTIVE and not remote and not _alive(owner_pid) else status


_COLUMNS: list[str] = []


def _columns(conn: sqlite3.Connection) -> list[str]:
    """The runs table's column names, asked once: every database is migrated to this
    runner's schema when it is opened (`runs list` calls row_dict once per row)."""
    if not _COLUMNS:
        _COLUMNS.extend(d[0] for d in conn.execute("SELECT * FROM runs LIMIT 0").description)
    return _COLUMNS


def _alive(pid: int | None) -> bool:
    if not pid:
        return True  # no owner recorded: trust the status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _float(value: Any) -> float | str | None:
    """A metric value as stored: a float, or the text "NaN" (SQLite stores a NaN REAL as NULL;
    infinities it keeps). Tracking's "NaN"/"Infinity"/"-Infinity" strings are numbers too."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return "NaN" if number != number else number


def metric_value(stored: Any) -> float | None:
    """A metric value as `_float` stored it, back as a float (NaN included)."""
    return float("nan") if stored == "NaN" else stored
