"""Apply: execute a Plan, in DAG order, N jobs at a time, then reconcile the models.

apply is the only writer of run state and holds the project lock throughout, so any run
still "active" in the database when it starts belongs to a runner that died: it is
marked `lost` (its leftover processes killed) and planned again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from runner.reconcile.planner import make_plan
from runner.reconcile.repair import repair_lost
from runner.reconcile.results import ApplyEvents, ApplyResult, RunOutcome

if TYPE_CHECKING:
    from runner.project import Project
    from runner.reconcile.execute import Cancelled
    from runner.spec.types import Spec
    from runner.state import State


def apply(project: Project, spec: Spec, state: State, *, targets: Iterable[str] = (), force: Iterable[str] = (),
          jobs: int | None = None, events: ApplyEvents | None = None, git: dict[str, Any] | None = None,
          cancelled: Cancelled | None = None, prune: bool = False) -> ApplyResult:
    events = events or ApplyEvents()
    with state.lock():
        repaired = repair_lost(state)
        for run_id in repaired:
            events.note(f"run {run_id} was left active by a runner that died: marked lost")
        reattached = _reattach(project, spec, state, events)
        plan = make_plan(project, spec, state, targets=targets, force=force, record=True, prune=prune)
        events.plan(plan)
        if not plan.changes:
            return ApplyResult(plan, reattached, repaired=tuple(repaired))
        git = git if git is not None else _git(project)
        outcomes: tuple[RunOutcome, ...] = reattached
        if plan.runs():  # imported here: a no-op apply never pays for the executor
            from runner.reconcile.context import RunContext
            from runner.reconcile.execute import Cancelled
            from runner.reconcile.schedule import Scheduler

            ctx = RunContext(project, spec, state, git)
            outcomes = reattached + tuple(Scheduler(plan, ctx, events, max(1, jobs or 1), cancelled or Cancelled(),
                                                    cap=jobs).run())
        from runner.reconcile.register import (
            apply_models,  # after the runs: models need their outputs
        )

        models = apply_models(spec, state, plan, outcomes, prune=prune, commit=git.get("commit"),
                              report=events.model, source=project.spec_name)
        return ApplyResult(plan, outcomes, tuple(repaired), models)


def _reattach(project: Project, spec: Spec, state: State, events: ApplyEvents) -> tuple[RunOutcome, ...]:
    """Runs a dead runner left on a cluster: followed to their end or collected (before planning,
    so a job whose run completed meanwhile is up to date)."""
    from runner.runs.store import RunStore

    if not RunStore(state.db).active_runs(remote=True):
        return ()
    from runner.reconcile.context import RunContext
    from runner.reconcile.reattach import reattach_remote

    return tuple(reattach_remote(state, events, RunContext(project, spec, state, {})))


def _git(project: Project) -> dict[str, Any]:
    from runner.git.meta import git_metadata

    return git_metadata(project.root).as_dict()
