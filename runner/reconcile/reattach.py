"""Runs on a cluster that a runner left behind: reattached and followed to their end, or collected.

A run on a ray compute records its Ray submission id. When apply finds such a run still
active (its runner died: kill -9, a closed laptop), it asks the cluster instead of calling
it lost: a job still going is followed to its end (its log, then its results), a job that
ended meanwhile is collected as completed, failed or canceled; only a job the cluster no
longer knows is marked lost. Either way the run's events say `reattached to raysubmit_...`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import RunnerError
from runner.reconcile.results import ApplyEvents, RunOutcome
from runner.runs.store import RunStore

if TYPE_CHECKING:
    from runner.compute.ray import RayHandle
    from runner.reconcile.context import RunContext
    from runner.state import State


def reattach_remote(state: State, events: ApplyEvents, ctx: RunContext) -> list[RunOutcome]:
    """Follow or collect every active run that lives on a cluster; their outcomes. The run's
    secrets are masked in what it prints and in what is stored of it, as in a first apply."""
    store = RunStore(state.db)
    outcomes = []
    for run_id, remote_id, remote in store.active_runs(remote=True):
        outcome = _one(state, store, run_id, remote_id, remote, events, ctx)
        if outcome is not None:
            events.ended(outcome)
            outcomes.append(outcome)
    return outcomes


def _one(state: State, store: RunStore, run_id: str, remote_id: str, remote: str, events: ApplyEvents,
         ctx: RunContext) -> RunOutcome | None:
    from runner.compute.ray import Remote, attach, fetch

    job = run_id.rsplit("-", 1)[0]
    run_dir = Path(state.layout.run_dir(run_id))
    why = f"reattached to {remote_id}"
    masker = ctx.job_masker(job)
    try:
        handle, gone = attach(Remote.from_json(remote), run_dir, lambda line: events.line(job, line), masker)
    except RunnerError as exc:  # the cluster does not answer: the job may live on; ask again next time
        events.note(f"run {run_id}: {exc}; left as it is")
        return None
    if handle is None:
        store.set_status(run_id, "lost", detail=gone)
        events.note(f"run {run_id}: {gone}: marked lost")
        return RunOutcome(job, run_id, "lost", detail=gone)
    store.set_status(run_id, "running", detail=why, owner_pid=os.getpid())
    events.note(f"run {run_id}: {why}")
    code = _follow(handle, store, run_id, why)
    store.set_status(run_id, "finalizing", exit_code=code)
    status, detail = _status(handle.status, code, handle.reason, why)
    try:
        fetch(handle.remote, run_dir)
    except RunnerError as exc:
        if status != "canceled":
            status, detail = "failed", f"{exc} ({why})"
    ctx.collect(run_id, run_dir, store, masker=masker)
    detail = masker.text(detail)
    store.set_status(run_id, status, detail=detail)
    return RunOutcome(job, run_id, status, code, detail)


def _follow(handle: RayHandle, store: RunStore, run_id: str, why: str) -> int | None:
    """Wait for the job's end; Ctrl-C stops it (stop_job) and cancels the run, as in a first apply."""
    try:
        while (code := handle.wait(0.5)) is None:
            pass
    except KeyboardInterrupt:
        handle.cancel()
        store.set_status(run_id, "canceled", detail=f"canceled ({why})")
        raise
    return code


def _status(ray_status: str | None, code: int | None, reason: str | None, why: str) -> tuple[str, str]:
    if ray_status == "STOPPED":
        return "canceled", f"its Ray job was stopped ({why})"
    if ray_status == "SUCCEEDED" and code == 0:
        return "completed", why
    return "failed", f"{reason or f'exit code {code}'} ({why})"
