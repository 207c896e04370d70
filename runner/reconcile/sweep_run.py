"""Running a sweep: its missing trials, `max_concurrent_trials` at once, each a run of the job.

Each trial goes through the same `RunExecutor` as any run (staging, environment, compute,
collection), with its own `Cancelled` so the early-termination policy can stop it alone.
While trials run, the driver reads the primary metric from their `metrics.jsonl` as they
log it and judges each new report (`runner.sweeps.policies`); a stopped trial ends
`canceled` with the policy's reason. Params are recorded before a trial starts, so an
interrupted sweep resumes with the same ones, and a trial whose fingerprint matches a
completed run reuses it instead of running.
"""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.reconcile.execute import Cancelled, RunExecutor
from runner.reconcile.results import RunOutcome
from runner.reconcile.sweep_plan import missing, trial_fingerprint
from runner.state.layout import LOGS
from runner.sweeps.policies import judge
from runner.sweeps.space import params_of
from runner.sweeps.store import EARLY, SweepStore, Trial, best
from runner.sweeps.study import Past, planned_total, suggest
from runner.tracking import METRICS_FILE

if TYPE_CHECKING:
    from runner.reconcile.context import RunContext
    from runner.reconcile.plan import RunWork, SweepWork
    from runner.reconcile.results import ApplyEvents

POLL = 0.1  # seconds between reads of the running trials' metrics


@dataclass
class Live:
    """A trial in flight."""

    trial: int
    raw: dict[str, Any]
    cancel: Cancelled
    run_id: str | None = None
    offset: int = 0           # how far its metrics file was read
    stopped: bool = False     # the policy (or the sweep's timeout) stopped it
    future: Future[RunOutcome] | None = field(default=None, repr=False)


class SweepRun:
    def __init__(self, ctx: RunContext, events: ApplyEvents, cancelled: Cancelled,
                 slots: threading.Semaphore | None, work: SweepWork, *, forced: bool = False) -> None:
        self.ctx, self.events, self.parent, self.slots = ctx, events, cancelled, slots
        self.work, self.sweep, self.forced = work, work.sweep, forced
        self.metric, self.goal = work.sweep.objective.primary_metric, work.sweep.objective.goal
        self.curves: dict[int, list[float]] = {}
        self.past: list[Past] = []
        self.timed_out = False

    def run(self) -> RunOutcome:
        store = SweepStore(self.ctx.thread_store().conn)
        store.ensure(self.work.sweep_id, self.work.base.job, self.sweep, self.work.components)
        trials = {t.trial: t for t in store.trials(self.work.sweep_id, self.metric)}
        for t in trials.values():
            if t.done and not self.forced:
                self._learn(store, t.trial, t.raw, t.run_id, t.status, t.reason)
        self._loop(store, trials, missing(self.work, list(trials.values()), forced=self.forced))
        return self._outcome(store)

    def _loop(self, store: SweepStore, known: dict[int, Trial], todo: list[int]) -> None:
        limit = self.sweep.limits
        deadline = None if limit.timeout is None else time.monotonic() + limit.timeout
        running: dict[Future[RunOutcome], Live] = {}
        with ThreadPoolExecutor(max_workers=limit.max_concurrent_trials) as pool:
            while running or (todo and not self._stopping()):
                while todo and len(running) < limit.max_concurrent_trials and not self._stopping() \
                        and self._slot(block=not running):
                    live = self._start(store, pool, todo.pop(0), known)
                    if live is not None and live.future is not None:
                        running[live.future] = live
                done, _ = wait(list(running), timeout=POLL, return_when=FIRST_COMPLETED) if running else (set(), None)
                self._watch(store, list(running.values()))
                if deadline is not None and time.monotonic() >= deadline and not self.timed_out:
                    self.timed_out = True
                    for live in running.values():
                        live.cancel.cancel_all(f"sweep timeout after {limit.timeout}s")
                if self.parent.event.is_set():
                    for live in running.values():
                        live.cancel.cancel_all(self.parent.reason)
                for future in done:
                    self._ended(store, running.pop(future), future.result())

    def _stopping(self) -> bool:
        return self.timed_out or self.parent.event.is_set()

    def _slot(self, *, block: bool) -> bool:
        """A place under `--jobs` when it was given (shared with the apply's other runs)."""
        if self.slots is None:
            return True
        return self.slots.acquire(timeout=POLL) if block else self.slots.acquire(blocking=False)

    def _release(self) -> None:
        if self.slots is not None:
            self.slots.release()

    def _start(self, store: SweepStore, pool: ThreadPoolExecutor, n: int, known: dict[int, Trial]) -> Live | None:
        sweep_id, base = self.work.sweep_id, self.work.base
        if n in known:
            raw, swept = known[n].raw, known[n].params
        else:
            raw = suggest(self.sweep, n, self.past)
            swept = params_of(self.sweep, raw)
            store.record(sweep_id, n, swept, raw)
        params = {**base.params, **swept}
        fp = trial_fingerprint(base.fingerprint, params)
        reused = None if self.forced else store.reusable(base.job, fp.digest)
        if reused is not None:
            self._release()
            store.link(sweep_id, n, reused, reused=True)
            self.events.ended(RunOutcome(base.job, reused, "up to date", detail=f"trial {n} reuses {reused}"))
            self._learn(store, n, raw, reused, "completed", None)
            return None
        work = replace(base, params=params, fingerprint=fp, trial=(sweep_id, n), definition=self._definition())
        live = Live(trial=n, raw=raw, cancel=Cancelled())
        reasons = [f"sweep {sweep_id[:12]} trial {n} of {planned_total(self.sweep)}"]
        live.future = pool.submit(self._trial, work, reasons, live)
        return live

    def _definition(self) -> Any:
        """The job, with `trial_timeout` as its timeout when set."""
        job = self.work.base.definition
        timeout = self.sweep.limits.trial_timeout
        if timeout is None:
            return job
        return type(job)(**{**{name: getattr(job, name) for name in job.__slots__}, "timeout": timeout})

    def _trial(self, work: RunWork, reasons: list[str], live: Live) -> RunOutcome:
        def started(job: str, run_id: str) -> None:
            live.run_id = run_id
            self.events.started(job, run_id)

        try:
            executor = RunExecutor(self.ctx, self.ctx.thread_store(), self.events.line, live.cancel, started)
            return executor.run(work, reasons)
        finally:
            self._release()

    def _watch(self, store: SweepStore, lives: list[Live]) -> None:
        """Read what the running trials logged since last time; judge each new report."""
        policy = self.sweep.early_termination
        for live in lives:
            if live.run_id is None or live.stopped:
                continue
            for value in self._read(live):
                curve = self.curves.setdefault(live.trial, [])
                curve.append(value)
                if policy is None or live.stopped:
                    continue
                others = [c for n, c in self.curves.items() if n != live.trial]
                reason = judge(policy, self.goal, curve, others)
                if reason is not None:
                    live.stopped = True
                    live.cancel.cancel_all(f"{EARLY}{reason})")

    def _read(self, live: Live) -> list[float]:
        path = Path(self.ctx.state.layout.run_dir(live.run_id or "")) / LOGS / METRICS_FILE
        try:
            with open(path, "rb") as handle:
                handle.seek(live.offset)
                chunk = handle.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        live.offset += end
        values = []
        for line in chunk[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("type") == "metric" and record.get("name") == self.metric:
                values.append(_number(record.get("value")))
        return values

    def _ended(self, store: SweepStore, live: Live, outcome: RunOutcome) -> None:
        if outcome.run_id is not None:
            store.link(self.work.sweep_id, live.trial, outcome.run_id)
        self.events.ended(outcome)
        self._learn(store, live.trial, live.raw, outcome.run_id, outcome.status, outcome.detail)

    def _learn(self, store: SweepStore, n: int, raw: dict[str, Any], run_id: str | None, status: str,
               reason: str | None) -> None:
        """A finished trial's curve (for the policy) and result (for the sampler)."""
        curve = store.curve(run_id, self.metric) if run_id else []
        self.curves[n] = curve
        counts = status == "completed" or (status == "canceled" and (reason or "").startswith(EARLY))
        if counts or status == "failed":
            last = curve[-1] if counts and curve and math.isfinite(curve[-1]) else None
            self.past.append(Past(trial=n, raw=raw, value=last))

    def _outcome(self, store: SweepStore) -> RunOutcome:
        job, sweep_id = self.work.base.job, self.work.sweep_id
        trials = store.trials(sweep_id, self.metric)[:planned_total(self.sweep)]
        done = [t for t in trials if t.done]
        found = best(trials, self.goal)
        tally = f"{len(done)} of {planned_total(self.sweep)} trials done"
        if self.parent.event.is_set():
            return RunOutcome(job, None, "canceled", detail=f"{self.parent.reason}: {tally}; apply again to resume")
        if self.timed_out:
            return RunOutcome(job, None, "canceled",
                              detail=f"sweep timeout after {self.sweep.limits.timeout}s: {tally}; apply again to resume")
        if found is None:
            return RunOutcome(job, None, "failed", detail=f"no trial completed with a value of {self.metric} ({tally})")
        stopped = sum(1 for t in done if t.early)
        failed = sum(1 for t in done if t.status == "failed")
        extra = "".join(f", {n} {what}" for n, what in ((stopped, "stopped early"), (failed, "failed")) if n)
        return RunOutcome(job, found.run_id, "completed",
                          detail=f"sweep {sweep_id[:12]}: {tally}{extra}; best {found.run_id} trial {found.trial} "
                                 f"{self.metric} {found.value:.4g}")


def _number(value: Any) -> float:
    try:
        return float(value)  # tracking writes NaN and the infinities as strings
    except (TypeError, ValueError):
        return math.nan
