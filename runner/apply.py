"""Apply: take the plan's actions and close the difference, in DAG order, N jobs at a time.

apply is the only writer of run state and holds the project lock throughout, so any run
still "active" in the database when it starts belongs to a runner that died: it is
marked `lost` (its leftover processes killed) and planned again.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from runner.execute import Cancelled, RunExecutor, RunOutcome
from runner.plan import Action, Plan, Planner, make_plan
from runner.project import Project
from runner.runs.context import RunContext
from runner.runs.store import RunStore


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
        return all(_succeeded(o) for o in self.outcomes) and all(m.ok for m in self.models)

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
        if plan.count("run"):
            ctx = RunContext(project, spec, state, git)
            scheduler = _Scheduler(plan, planner, ctx, events, max(1, jobs), cancelled or Cancelled(), set(force))
            outcomes = tuple(scheduler.run())
        from runner.registry.sync import apply_models  # after the runs: models need their outputs

        models = apply_models(spec, state, plan, outcomes, prune=prune, git=git, report=events.model)
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


class _Scheduler:
    """Start each planned run once its upstream jobs ended; never more than `jobs` at once."""

    def __init__(self, plan: Plan, planner: Planner, ctx: RunContext, events: ApplyEvents, jobs: int,
                 cancelled: Cancelled, force: set[str]) -> None:
        self.plan, self.planner, self.ctx, self.events = plan, planner, ctx, events
        self.jobs, self.cancelled, self.force = jobs, cancelled, force
        self.results: dict[str, RunOutcome] = {}

    def run(self) -> list[RunOutcome]:
        pending = [a for a in self.plan.actions if a.action == "run"]
        running: dict[Future[RunOutcome], str] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            try:
                while pending or running:
                    for action in self._ready(pending, len(running)):
                        submitted = self._resolve(action)
                        if submitted is not None:
                            running[pool.submit(self._one, *submitted)] = action.target
                    if not running:
                        continue
                    # A timed wait: a Ctrl-C whose signal lands while this thread sleeps in an
                    # untimed lock wait can go unnoticed until a job ends (seen with docker runs).
                    done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        self._record(future.result())
            except KeyboardInterrupt:
                self.cancelled.cancel_all()
                for future in running:
                    self._record(future.result())
                raise
        return [self.results[a.target] for a in self.plan.actions if a.target in self.results]

    def _ready(self, pending: list[Action], busy: int) -> list[Action]:
        """Remove and return the actions that can start now; drop those whose upstream failed."""
        ready: list[Action] = []
        for action in list(pending):
            failed = [dep for dep in action.after if dep in self.results and not _succeeded(self.results[dep])]
            if failed or self.cancelled.event.is_set():
                pending.remove(action)
                detail = f"skipped: {failed[0]} failed" if failed else "skipped: canceled"
                self._record(RunOutcome(action.target, None, "skipped", detail=detail))
            elif busy + len(ready) < self.jobs and all(dep in self.results for dep in action.after):
                pending.remove(action)
                ready.append(action)
        return ready

    def _resolve(self, action: Action) -> tuple[str, Any, list[str]] | None:
        """The fingerprint to run with. A job planned "after" an upstream is looked at again now
        (in this thread: the planner's database connection is not shared)."""
        if action.fingerprint is not None:
            return action.target, action.fingerprint, list(action.reasons)
        fresh = self.planner.decide(action.target, will_run=set(), force=self.force)
        if fresh.action == "skip":
            self._record(RunOutcome(action.target, None, "up to date",
                                    detail=f"{fresh.reasons[0]}; upstream outputs unchanged"))
            return None
        return action.target, fresh.fingerprint, [*action.reasons[:1], *fresh.reasons]

    def _record(self, outcome: RunOutcome) -> None:
        self.results[outcome.job] = outcome
        self.events.ended(outcome)

    def _one(self, name: str, fp: Any, reasons: list[str]) -> RunOutcome:
        store = self.ctx.thread_store()
        executor = RunExecutor(self.ctx, store, self.events.line, self.cancelled, self.events.started)
        retries = self.ctx.spec.jobs[name].retries
        outcome = executor.run(name, fp, reasons)
        for attempt in range(2, retries + 2):
            if outcome.status != "failed" or self.cancelled.event.is_set():
                break
            outcome = executor.run(name, fp, [f"retry {attempt - 1} of {retries} after {outcome.run_id} failed"],
                                   attempt=attempt)
        return outcome


def _succeeded(outcome: RunOutcome) -> bool:
    return outcome.status in ("completed", "up to date")
