"""Apply: take the plan's actions and close the difference, in DAG order, N jobs at a time.

apply is the only writer of run state and holds the project lock throughout, so any run
still "active" in the database when it starts belongs to a runner that died: it is
marked `lost` (its leftover processes killed) and planned again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from runner.plan import Plan, make_plan
from runner.project import Project
from runner.runs.store import RunStore

if TYPE_CHECKING:
    from runner.execute import Cancelled, RunOutcome


@dataclass
class ApplyEvents:
    """What apply reports while it works; the CLI renders these (Rich or JSON on stderr)."""

    plan: Callable[[Plan], None] = lambda plan: None
    line: Callable[[str, str], None] = lambda job, line: None
    started: Callable[[str, str], None] = lambda job, run_id: None
    ended: Callable[[RunOutcome], None] = lambda outcome: None
    note: Callable[[str], None] = lambda message: None
    model: Callable[[Any], None] = lambda outcome: None  # a runner.registry.sync.ModelOutcome


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    outcomes: tuple[RunOutcome, ...] = field(default_factory=tuple)
    repaired: tuple[str, ...] = ()
    models: tuple[Any, ...] = ()  # runner.registry.sync.ModelOutcome, one per model action

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes) and all(m.ok for m in self.models)

    def as_json(self) -> dict[str, Any]:
        return {**self.plan.as_json(), "ok": self.ok, "repaired": list(self.repaired),
                "runs": [{"job": o.job, "id": o.run_id, "status": o.status, "exit_code": o.exit_code,
                          "detail": o.detail} for o in self.outcomes],
                "models": [m.as_json() for m in self.models]}


def apply(project: Project, spec: Any, state: Any, *, targets: Iterable[str] = (), force: Iterable[str] = (),
          jobs: int = 1, events: ApplyEvents | None = None, git: dict[str, Any] | None = None,
          cancelled: Cancelled | None = None, prune: bool = False) -> ApplyResult:
    events = events or ApplyEvents()
    with state.lock():
        repaired = repair_lost(state)
        for run_id in repaired:
            events.note(f"run {run_id} was left active by a runner that died: marked lost")
        plan, planner = make_plan(project, spec, state, targets=targets, force=force, record=True,
                                  prune=prune)
        events.plan(plan)
        if not plan.changes:
            return ApplyResult(plan, repaired=tuple(repaired))
        git = git if git is not None else _git(project)
        outcomes: tuple[RunOutcome, ...] = ()
        if plan.count("run"):  # imported here: a no-op apply never pays for the executor
            from runner.execute import Cancelled
            from runner.runs.context import RunContext
            from runner.schedule import Scheduler

            ctx = RunContext(project, spec, state, git)
            scheduler = Scheduler(plan, planner, ctx, events, max(1, jobs), cancelled or Cancelled(), set(force))
            outcomes = tuple(scheduler.run())
        from runner.registry.sync import apply_models  # after the runs: models need their outputs

        models = apply_models(spec, state, plan, outcomes, prune=prune, git=git, report=events.model,
                              source=project.spec_name)
        return ApplyResult(plan, outcomes, tuple(repaired), models)


def _git(project: Project) -> dict[str, Any]:
    from runner.gitmeta import git_metadata

    return git_metadata(project.root).as_dict()


def repair_lost(state: Any) -> list[str]:
    """Mark every active run lost (we hold the lock: its runner is gone) and kill what it left."""
    from runner.compute.local import kill_group

    store = RunStore(state.db)
    lost = []
    for run_id, _owner, pgid, _status in store.active_runs():
        if pgid and _belongs_to(pgid, state.root / "runs" / run_id):
            kill_group(pgid)
        store.set_status(run_id, "lost", detail="its runner stopped before it ended")
        lost.append(run_id)
    if lost:  # a docker run has no process group here: its container is found by label
        from runner.compute.docker import remove_orphans

        remove_orphans(state.root, lost)
    return lost


def _belongs_to(pgid: int, run_dir: Path) -> bool:
    """Only kill a process group whose leader still works in that run's folder (pids get reused)."""
    try:
        return Path(os.readlink(f"/proc/{pgid}/cwd")) == run_dir
    except OSError:
        return False
