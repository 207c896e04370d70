"""The scheduler of `apply`: start each planned run once its upstream jobs ended, never more
than `--jobs` at once, in threads; decide again a job planned "after" an upstream."""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext

from runner.reconcile.context import RunContext
from runner.reconcile.decide import redecide
from runner.reconcile.execute import Cancelled, RunExecutor
from runner.reconcile.plan import Action, Kind, Plan, RunWork, SweepWork, Why
from runner.reconcile.planner import upstream_digests
from runner.reconcile.results import ApplyEvents, RunOutcome


class Scheduler:
    """Start each planned run once its upstream jobs ended; never more than `jobs` at once.

    A sweep takes one of those places and runs up to `max_concurrent_trials` trials; `cap`
    (`--jobs` when given) bounds every run of the apply, trials included."""

    def __init__(self, plan: Plan, ctx: RunContext, events: ApplyEvents, jobs: int, cancelled: Cancelled,
                 cap: int | None = None) -> None:
        self.plan, self.ctx, self.events = plan, ctx, events
        self.jobs, self.cancelled = jobs, cancelled
        self.results: dict[str, RunOutcome] = {}
        self.slots = threading.BoundedSemaphore(cap) if cap else None

    def run(self) -> list[RunOutcome]:
        pending = self.plan.runs()
        running: dict[Future[RunOutcome], str] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            try:
                while pending or running:
                    for action in self._ready(pending, len(running)):
                        if action.kind is Kind.SWEEP:
                            swept = self._resolve_sweep(action)
                            if swept is not None:
                                running[pool.submit(self._sweep, swept, action.has(Why.FORCED))] = action.target
                            continue
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
            failed = [dep for dep in action.after if dep in self.results and not self.results[dep].ok]
            if failed or self.cancelled.event.is_set():
                pending.remove(action)
                detail = f"{failed[0]} {self.results[failed[0]].status}" if failed else "apply canceled before it started"
                self._record(RunOutcome(action.target, None, "skipped", detail=detail))
            elif busy + len(ready) < self.jobs and all(dep in self.results for dep in action.after):
                pending.remove(action)
                ready.append(action)
        return ready

    def _resolve(self, action: Action) -> tuple[RunWork, list[str]] | None:
        """What to run. A job planned "after" an upstream is decided again now, from the upstream
        outputs as they are after it ran (read here, in this thread: SQLite connections are per thread)."""
        assert action.work is not None
        if action.error:  # known at plan time (a docker base image that is not there): no run is created
            self._record(RunOutcome(action.target, None, "failed", detail=action.error))
            return None
        if not action.after:
            return action.work, list(action.texts)
        fresh = redecide(action, upstream_digests(self.ctx.thread_store(), action.work.definition))
        if fresh.kind is Kind.SKIP:
            self._record(RunOutcome(action.target, None, "up to date",
                                    detail=f"{fresh.texts[0]}; upstream outputs unchanged"))
            return None
        assert fresh.work is not None
        return fresh.work, list(fresh.texts)

    def _resolve_sweep(self, action: Action) -> SweepWork | None:
        """A sweep planned "after" its upstream gets its fingerprint now; one whose trials are all
        done (its upstream gave the same outputs as last time) has nothing to run."""
        assert action.sweep is not None
        if action.error:  # known at plan time (a docker base image that is not there): no trial is created
            self._record(RunOutcome(action.target, None, "failed", detail=action.error))
            return None
        # Sweeps only: a job without a sweep does without them (~10 ms to import).
        from runner.reconcile.sweep_plan import decide_sweep, read_facts, with_upstream

        work = action.sweep
        if action.after:
            work = with_upstream(work, upstream_digests(self.ctx.thread_store(), work.base.definition))
            fresh = decide_sweep(work, read_facts(self.ctx.thread_store().conn, work), forced=action.has(Why.FORCED))
            if fresh.kind is Kind.SKIP:
                self._record(RunOutcome(action.target, None, "up to date",
                                        detail=f"{fresh.texts[0]}; upstream outputs unchanged"))
                return None
        return work

    def _sweep(self, work: SweepWork, forced: bool) -> RunOutcome:
        from runner.reconcile.sweep_run import SweepRun

        return SweepRun(self.ctx, self.events, self.cancelled, self.slots, work, forced=forced).run()

    def _record(self, outcome: RunOutcome) -> None:
        self.results[outcome.job] = outcome
        self.events.ended(outcome)

    def _one(self, work: RunWork, reasons: list[str]) -> RunOutcome:
        store = self.ctx.thread_store()
        executor = RunExecutor(self.ctx, store, self.events.line, self.cancelled, self.events.started)
        with self.slots or nullcontext():
            return self._attempts(executor, work, reasons)

    def _attempts(self, executor: RunExecutor, work: RunWork, reasons: list[str]) -> RunOutcome:
        retries = work.definition.retries
        outcome = executor.run(work, reasons)
        for attempt in range(2, retries + 2):
            if outcome.status != "failed" or self.cancelled.event.is_set():
                break
            outcome = executor.run(work, [f"retry {attempt - 1} of {retries} after {outcome.run_id} failed"],
                                   attempt=attempt)
        return outcome
