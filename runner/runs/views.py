"""Read-only views of the run history: list, show, metrics, logs, downloads, diffs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.runs.paths import line_rewriter, rewrite_bytes
from runner.runs.store import ACTIVE, RunStore, metric_value, row_dict

if TYPE_CHECKING:
    from runner.masking import Masker
    from runner.state import State

LIST_FIELDS = ("id", "job", "experiment", "status", "fingerprint", "created_at", "started_at", "ended_at", "exit_code")
GIT_FIELDS = ("commit", "branch", "dirty", "repository")


def list_runs(state: State, *, job: str | None = None, status: str | None = None,
              damaged: list[str] | None = None) -> list[dict[str, Any]]:
    """Runs, newest first. A row that cannot be read (text that is not UTF-8, JSON that does
    not parse: state.db was altered) is left out and its run id added to `damaged`."""
    query, args = "SELECT * FROM runs WHERE 1=1", []
    if job:
        query, args = query + " AND job = ?", [*args, job]
    runs = []
    for row in _readable_rows(state.db, query + " ORDER BY created_at DESC, seq DESC", args):
        try:
            if isinstance(row, _Damaged):
                raise ValueError(row.run_id)
            runs.append(summary(row_dict(state.db, row)))
        except (ValueError, TypeError, KeyError, AttributeError):
            if damaged is not None:
                damaged.append(row.run_id if isinstance(row, _Damaged) else str(row[0]))
    # Filtered on the status shown, which says `lost` for a run whose runner died.
    return [run for run in runs if not status or run["status"] == status]


class _Damaged:
    """A row with text that is not UTF-8 (its id as well as it can be read)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id


def _readable_rows(db: Any, query: str, args: list[Any]) -> list[Any]:
    """The rows of `query`; when one holds text that is not UTF-8 (SQLite then fails the whole
    query), the rows read again as bytes: each readable one decoded, each other a `_Damaged`."""
    import sqlite3

    try:
        return db.execute(query, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc).lower():
            raise
    saved = db.text_factory
    db.text_factory = bytes
    try:
        raw = db.execute(query, args).fetchall()
    finally:
        db.text_factory = saved
    rows: list[Any] = []
    for row in raw:
        try:
            rows.append(tuple(v.decode("utf-8") if isinstance(v, bytes) else v for v in row))
        except UnicodeDecodeError:
            first = row[0]
            rows.append(_Damaged(first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)))
    return rows


def summary(run: dict[str, Any]) -> dict[str, Any]:
    out = {key: run[key] for key in LIST_FIELDS}
    out["git"] = {key: run["git"].get(key) for key in GIT_FIELDS}
    return out


def resolve(state: State, ref: str) -> dict[str, Any]:
    """A run id, or a job name meaning its latest run."""
    row = state.db.execute("SELECT * FROM runs WHERE id = ?", (ref,)).fetchone()
    run = row_dict(state.db, row) or RunStore(state.db).latest(ref)
    if run is None:
        raise RunnerError(f"no run or job named {ref!r} in the run history; see `runner runs list`")
    return run


def show(state: State, ref: str, masker: Masker | None = None) -> dict[str, Any]:
    """One run's record; `masker`: see `metrics`."""
    run = resolve(state, ref)
    series = metrics(state, run["id"], masker=masker)
    return {**summary(run), "params": run["params"], "metrics": {k: v[-1]["value"] for k, v in series.items() if v},
            "outputs": [{"path": p, "digest": d, "size": s} for p, d, s in RunStore(state.db).files(run["id"])],
            "snapshot": run["snapshot"], "reasons": run["reasons"], "error": run["error"],
            "attempt": run["attempt"], "environment": run["environment"],
            "logged_params": run["logged_params"], "tags": run["tags"], "git_full": run["git"],
            "sweep": {"id": run["sweep_id"], "trial": run["trial"]} if run.get("sweep_id") else None}


def metrics(state: State, run_id: str, rank: int | None = 0,
            masker: Masker | None = None) -> dict[str, list[dict[str, Any]]]:
    """Metric series of one rank (0: a single-process run's), or of all (`rank=None`: each point
    then says its rank); for a run still going, read straight from the file tracking appends to,
    with `masker` (its job's secret values) over what the script wrote there: only a collected
    run's metrics are masked already."""
    status = state.db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if rank and status not in ACTIVE and rank >= (count := ranks_of(state, {"id": run_id})):
        raise _no_rank(run_id, rank, count, "metrics")
    if status in ACTIVE:
        from runner.capture import run_records

        records = [r for r in run_records(state.root / "runs" / run_id / "logs")
                   if r.get("type") == "metric" and (rank is None or r.get("rank", 0) == rank)]
        rows = [(r["name"], int(r.get("step", 0)), r.get("value"), r.get("time", ""), r.get("rank", 0))
                for r in records]
        if masker:
            rows = [(masker.text(str(name)), step, masker.value(value), masker.value(time), at)
                    for name, step, value, time, at in rows]
    else:
        where = "" if rank is None else " AND rank = ?"
        rows = state.db.execute(f"SELECT name, step, value, time, rank FROM metrics WHERE run_id = ?{where}"
                                " ORDER BY rowid", (run_id,) if rank is None else (run_id, rank)).fetchall()
    series: dict[str, list[dict[str, Any]]] = {}
    for name, step, value, time, at in rows:
        point = {"step": step, "value": metric_value(value), "time": time}
        if rank is None:
            point["rank"] = at
        series.setdefault(name, []).append(point)
    return series


def ranks_of(state: State, run: dict[str, Any]) -> int:
    """How many processes the run had (the rank logs it wrote; 1 for a single process)."""
    names = {rel for rel, _digest, _size in RunStore(state.db).files(run["id"], "logs")}
    folder = state.root / "runs" / run["id"] / "logs"
    if folder.is_dir():
        names |= {f"logs/{path.name}" for path in folder.glob("rank-*.txt")}
    return max(1, sum(1 for name in names if name.startswith("logs/rank-")))


def log_path(state: State, run: dict[str, Any], rank: int | None = None) -> Path:
    name = "std_log.txt" if rank is None else f"rank-{rank}.txt"
    return state.root / "runs" / run["id"] / "logs" / name


def read_log(state: State, run: dict[str, Any], rank: int | None = None) -> bytes:
    """The run's log (or one rank's) from its folder, or from the object store when the folder is gone."""
    path = log_path(state, run, rank)
    if path.exists():
        return path.read_bytes()
    for rel, digest, _size in RunStore(state.db).files(run["id"], "logs"):
        if rel == f"logs/{path.name}":
            return state.objects.read_bytes(digest)
    if rank is None:
        return b""
    count = ranks_of(state, run)
    if count == 1 and rank == 0:  # a single process is rank 0
        return read_log(state, run)
    if run["status"] in ACTIVE:
        return b""  # not started yet
    raise _no_rank(run["id"], rank, count, "log")


def _no_rank(run_id: str, rank: int, count: int, what: str) -> RunnerError:
    return RunnerError(f"run {run_id} has no {what} of rank {rank}: "
                       + (f"its ranks are 0-{count - 1}" if count > 1 else "it ran one process"))


def shown_log(state: State, run: dict[str, Any], rank: int | None = None) -> bytes:
    """The run's log (or one rank's) as `runs logs` shows it: paths of the staged code read as the project's."""
    return rewrite_bytes(read_log(state, run, rank), log_rewriter(state, run))


def log_rewriter(state: State, run: dict[str, Any]) -> Callable[[str], str]:
    """The display rewrite of run `run`'s output lines (see runner.runs.paths)."""
    run_dir = str(state.root / "runs" / run["id"])
    return line_rewriter((run_dir, os.path.realpath(run_dir)), staged_code(run), snapshot_files(state, run["snapshot"]))


def staged_code(run: dict[str, Any]) -> str:
    """The project-relative code folder the run's snapshot was taken from."""
    return str(((run.get("components") or {}).get("job") or {}).get("code") or ".")


def snapshot_files(state: State, digest: str | None) -> frozenset[str] | None:
    """The paths of a snapshot; None when its manifest is gone (gc'd): every staged path is rewritten."""
    if not digest:
        return None
    from runner.snapshot import load_manifest
    from runner.state.objects import ObjectError

    try:
        return frozenset(entry.path for entry in load_manifest(state, digest))
    except ObjectError:
        return None


def download(state: State, ref: str, dest: Path) -> list[Path]:
    """Write a run's outputs and logs under `dest`, each verified against its digest."""
    from runner.state.export import write_files

    run = resolve(state, ref)
    store = RunStore(state.db)
    rows = [(rel, digest) for kind in ("outputs", "logs") for rel, digest, _size in store.files(run["id"], kind)]
    return write_files(state.objects, dest, rows, f"run {run['id']}")


def diff(state: State, a: str, b: str) -> dict[str, Any]:
    left, right = show(state, a), show(state, b)
    inputs = [resolve(state, ref)["components"] for ref in (left["id"], right["id"])]
    return {
        "runs": [left["id"], right["id"]],
        "params": _changed(left["params"], right["params"]),
        # What the runs read: data inputs and upstream outputs, by digest.
        "inputs": _changed({**inputs[0].get("data", {}), **inputs[0].get("upstream", {})},
                           {**inputs[1].get("data", {}), **inputs[1].get("upstream", {})}),
        "metrics": _changed(left["metrics"], right["metrics"]),
        "snapshot": _snapshot_diff(state, left["snapshot"], right["snapshot"]),
        "environment": None if left["environment"] == right["environment"] else [left["environment"], right["environment"]],
        "git": None if left["git"]["commit"] == right["git"]["commit"] else [left["git"]["commit"], right["git"]["commit"]],
    }


def _changed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if not _same(old.get(k), new.get(k))}


def _same(a: Any, b: Any) -> bool:
    """Equal, counting NaN as equal to NaN (a metric that stayed NaN did not change)."""
    return a == b or (a != a and b != b)


def _snapshot_diff(state: State, old: str | None, new: str | None) -> dict[str, list[str]]:
    if not old or not new or old == new:
        return {"added": [], "removed": [], "modified": []}
    from runner.snapshot.manifest import diff_snapshots

    return diff_snapshots(state, old, new).as_json()
