"""The `sweeps` and `sweep_trials` tables: each sweep of a job, its trials and the run each one is.

A trial's params are recorded before its run starts, so an interrupted sweep resumes
with the same params; its run is linked when it is created (or when an earlier run with
the same fingerprint is reused). A trial is *done* when its run completed, failed, or was
stopped by the early-termination policy; one whose run was lost or canceled by Ctrl-C
(or the sweep's timeout) runs again.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.runs.store import shown_status
from runner.state.db import now, transaction

if TYPE_CHECKING:
    from runner.spec.types import Sweep

EARLY = "early termination ("  # how the reason of a trial the policy stopped begins


@dataclass(frozen=True)
class Trial:
    trial: int
    params: dict[str, Any]
    raw: dict[str, Any]
    run_id: str | None
    reused: bool
    status: str          # the run's status (`lost` for a dead runner's), or `pending` with no run yet
    reason: str | None   # the run's detail: why it failed or was canceled
    value: float | None  # the last value of the primary metric the run logged
    started_at: str | None = None
    ended_at: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("completed", "failed") or (self.status == "canceled" and self.early)

    @property
    def early(self) -> bool:
        return (self.reason or "").startswith(EARLY)

    @property
    def candidate(self) -> bool:
        """It may be the best trial: it completed and logged the primary metric (a finite value)."""
        return self.status == "completed" and self.value is not None and math.isfinite(self.value)


class SweepStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def ensure(self, sweep_id: str, job: str, sweep: Sweep, components: dict[str, Any]) -> None:
        at = now()
        objective = _j(sweep.objective.as_dict())
        with transaction(self.conn) as db:
            db.execute("INSERT OR IGNORE INTO sweeps (id, job, sampling_algorithm, objective, definition, components,"
                       " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (sweep_id, job, sweep.sampling_algorithm, objective, _j(sweep.as_dict()), _j(components), at, at))
            db.execute("UPDATE sweeps SET definition = ?, updated_at = ? WHERE id = ?",
                       (_j(sweep.as_dict()), at, sweep_id))

    def record(self, sweep_id: str, trial: int, params: dict[str, Any], raw: dict[str, Any]) -> None:
        with transaction(self.conn) as db:
            db.execute("INSERT OR IGNORE INTO sweep_trials (sweep_id, trial, params, raw) VALUES (?, ?, ?, ?)",
                       (sweep_id, trial, _j(params), _j(raw)))

    def link(self, sweep_id: str, trial: int, run_id: str, *, reused: bool = False) -> None:
        with transaction(self.conn) as db:
            db.execute("UPDATE sweep_trials SET run_id = ?, reused = ? WHERE sweep_id = ? AND trial = ?",
                       (run_id, int(reused), sweep_id, trial))

    def sweep(self, sweep_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        return _sweep_row(self.conn, row)

    def latest(self, job: str) -> dict[str, Any] | None:
        """The job's sweep that ran most recently."""
        row = self.conn.execute("SELECT * FROM sweeps WHERE job = ? ORDER BY updated_at DESC, rowid DESC LIMIT 1",
                                (job,)).fetchone()
        return _sweep_row(self.conn, row)

    def sweeps(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM sweeps ORDER BY updated_at DESC").fetchall()
        return [r for r in (_sweep_row(self.conn, row) for row in rows) if r is not None]

    def trials(self, sweep_id: str, metric: str) -> list[Trial]:
        # A trial's run is the newest run made for it (recorded in the run itself, so a runner
        # killed mid-trial leaves it findable), else the earlier run it reused.
        rows = self.conn.execute(
            "WITH t AS (SELECT trial, params, raw, reused, COALESCE((SELECT id FROM runs WHERE runs.sweep_id ="
            " sweep_trials.sweep_id AND runs.trial = sweep_trials.trial ORDER BY seq DESC LIMIT 1), run_id) AS run_id"
            " FROM sweep_trials WHERE sweep_id = ?)"
            " SELECT t.trial, t.params, t.raw, t.run_id, t.reused, r.status, r.error, r.owner_pid, r.started_at,"
            " r.ended_at, (SELECT value FROM metrics m WHERE m.run_id = t.run_id AND m.name = ?"
            " ORDER BY m.rowid DESC LIMIT 1)"
            " FROM t LEFT JOIN runs r ON r.id = t.run_id ORDER BY t.trial",
            (sweep_id, metric)).fetchall()
        return [Trial(trial=n, params=json.loads(params), raw=json.loads(raw), run_id=run_id, reused=bool(reused),
                      status=shown_status(status, pid) if status else "pending", reason=error, value=value,
                      started_at=started, ended_at=ended)
                for n, params, raw, run_id, reused, status, error, pid, started, ended, value in rows]

    def curve(self, run_id: str, metric: str) -> list[float]:
        """The values a finished run reported for `metric`, in the order it logged them."""
        return [_float(v) for (v,) in self.conn.execute(
            "SELECT value FROM metrics WHERE run_id = ? AND name = ? ORDER BY rowid", (run_id, metric))]

    def reusable(self, job: str, fingerprint: str) -> str | None:
        """The newest completed run of `job` with this fingerprint: a trial with it needs no run."""
        row = self.conn.execute("SELECT id FROM runs WHERE job = ? AND fingerprint = ? AND status = 'completed'"
                                " ORDER BY seq DESC LIMIT 1", (job, fingerprint)).fetchone()
        return row[0] if row else None


def best(trials: list[Trial], goal: str) -> Trial | None:
    """The trial whose last value of the primary metric is best; the first such trial on a tie."""
    found = [t for t in trials if t.candidate]
    if not found:
        return None
    sign = 1.0 if goal == "maximize" else -1.0
    return max(found, key=lambda t: (sign * (t.value or 0.0), -t.trial))


def _sweep_row(conn: sqlite3.Connection, row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    record = dict(zip([d[0] for d in conn.execute("SELECT * FROM sweeps LIMIT 0").description], row))
    for key in ("objective", "definition", "components"):
        record[key] = json.loads(record[key])
    return record


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def best_trial(conn: sqlite3.Connection, job: str) -> tuple[str, Trial] | None:
    """(sweep id, trial) of the best trial of the job's most recent sweep, or None when it has none."""
    store = SweepStore(conn)
    sweep = store.latest(job)
    if sweep is None:
        return None
    found = best(store.trials(sweep["id"], sweep["objective"]["primary_metric"]), sweep["objective"]["goal"])
    return (sweep["id"], found) if found is not None else None
