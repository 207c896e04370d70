"""Deciding a job's action: pure functions of its work, its history and the upstream digests.

`decide` is what the planner calls for every job. A job whose upstream runs in the same
apply is planned `after` it with a provisional fingerprint; once the upstream ended,
`redecide` gives the final action from the new upstream digests alone, so apply never
asks a planner again.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from runner.reconcile.fingerprint import explain
from runner.reconcile.plan import Action, Kind, Reason, RunWork, Why


class Verdict(Enum):
    FORCED = "forced"
    NEW = "new"
    NOT_COMPLETED = "not completed"
    UP_TO_DATE = "up to date"
    CHANGED = "changed"


def verdict(work: RunWork, *, forced: bool) -> tuple[Verdict, list[Reason]]:
    """Whether the job must run, compared with its last completed run, and why."""
    history = work.history
    last, fp = history.last_completed, work.fingerprint
    if forced:
        return Verdict.FORCED, [Reason(Why.FORCED, "forced")]
    if last is None:
        if history.latest is None:
            return Verdict.NEW, [Reason(Why.NEW, "no previous run")]
        latest = history.latest
        return Verdict.NOT_COMPLETED, [Reason(Why.NOT_COMPLETED, f"previous run {latest.id} {latest.status}")]
    if last.fingerprint == fp.digest and history.outputs_missing:
        return Verdict.CHANGED, [Reason(Why.CHANGED, history.outputs_missing)]
    if last.fingerprint == fp.digest:
        return Verdict.UP_TO_DATE, [Reason(Why.UP_TO_DATE, f"up to date: run {last.id}")]
    changes = explain(last.components, fp.components, history.code_reasons)
    return Verdict.CHANGED, [Reason(Why.CHANGED, text) for text in changes]


def decide(work: RunWork, *, forced: bool, after: tuple[str, ...] = ()) -> Action:
    """The job's action. With `after` (upstream jobs that run first), a run planned again later."""
    found, reasons = verdict(work, forced=forced)
    symbol = "~" if work.history.last_completed else "+"
    if after:
        # Decided again once the upstream ran; until then only what is already known shows.
        kept = [] if found in (Verdict.UP_TO_DATE, Verdict.NEW) else reasons
        return Action(Kind.RUN, work.job, (_after(after), *kept), symbol=symbol, after=after, work=work)
    if found is Verdict.UP_TO_DATE:
        return Action(Kind.SKIP, work.job, tuple(reasons), symbol="=", work=work)
    return Action(Kind.RUN, work.job, tuple(reasons), symbol=symbol, work=work)


def redecide(action: Action, upstream: dict[str, str]) -> Action:
    """A job planned `after` its upstream, decided now that the upstream outputs are known.

    A `skip` means the upstream gave the same outputs as last time: the job is up to date."""
    assert action.work is not None and action.after, "only a job planned after its upstream is decided again"
    work = replace(action.work, fingerprint=action.work.fingerprint.with_upstream(upstream))
    fresh = decide(work, forced=action.has(Why.FORCED))
    if fresh.kind is Kind.SKIP:
        return fresh
    return replace(fresh, reasons=(_after(action.after), *fresh.reasons))


def _after(upstream: tuple[str, ...]) -> Reason:
    return Reason(Why.AFTER, f"after {', '.join(upstream)}")
