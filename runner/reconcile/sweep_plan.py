"""Planning a sweep: its identity, its trials' fingerprints, and the one plan action it gets.

A sweep's fingerprint is the job's without the swept params, plus the sweep block without
its `limits` (how far to go is not what is searched): raising `max_total_trials` keeps the
sweep and runs only the new trials; changed code, data or search space make a new one. A
trial's fingerprint is the job's with the trial's params, so a trial whose params and
inputs match a completed run reuses it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from runner.reconcile.fingerprint import VERSION, Fingerprint, digest_json, explain, make_fingerprint
from runner.reconcile.plan import Action, Kind, Reason, RunWork, SweepWork, Why
from runner.sweeps.store import SweepStore, Trial, best
from runner.sweeps.study import planned_total

if TYPE_CHECKING:
    from runner.spec.types import Scalar, Sweep


@dataclass(frozen=True)
class SweepFacts:
    """What deciding a sweep needs from state: its trials so far and the job's previous sweep."""

    trials: tuple[Trial, ...]
    known: bool                       # this sweep was started before
    previous: dict[str, Any] | None   # the job's most recent sweep (another one when `known` is false)


def sweep_work(base: RunWork, sweep: Sweep) -> SweepWork:
    sweep_id, components = identity(base.fingerprint, sweep)
    return SweepWork(base=base, sweep=sweep, sweep_id=sweep_id, components=components)


def identity(fp: Fingerprint, sweep: Sweep) -> tuple[str, dict[str, Any]]:
    job = dict(fp.components["job"])
    job["params"] = {k: v for k, v in job.get("params", {}).items() if k not in sweep.search_space}
    searched = {key: value for key, value in sweep.as_dict().items() if key != "limits"}
    components = {**fp.components, "job": job, "sweep": searched}
    return digest_json({"version": VERSION, "kind": "sweep", **components}), components


def trial_fingerprint(fp: Fingerprint, params: dict[str, Scalar]) -> Fingerprint:
    """The job's fingerprint with a trial's params (what a plain run with those params would have)."""
    parts = fp.components
    return make_fingerprint({**parts["job"], "params": dict(sorted(params.items()))}, parts["snapshot"],
                            parts["environment"], parts["data"], parts["upstream"])


def with_upstream(work: SweepWork, upstream: dict[str, str]) -> SweepWork:
    base = replace(work.base, fingerprint=work.base.fingerprint.with_upstream(upstream))
    return sweep_work(base, work.sweep)


def read_facts(conn: sqlite3.Connection, work: SweepWork) -> SweepFacts:
    store = SweepStore(conn)
    known = store.sweep(work.sweep_id)
    trials = store.trials(work.sweep_id, work.sweep.objective.primary_metric) if known else []
    return SweepFacts(tuple(trials), known is not None, known or store.latest(work.base.job))


def missing(work: SweepWork, trials: tuple[Trial, ...] | list[Trial], *, forced: bool) -> list[int]:
    """The trial numbers still to run, in order."""
    done = {t.trial for t in trials if t.done}
    return [n for n in range(1, planned_total(work.sweep) + 1) if forced or n not in done]


def decide_sweep(work: SweepWork, facts: SweepFacts, *, forced: bool, after: tuple[str, ...] = ()) -> Action:
    sweep, total = work.sweep, planned_total(work.sweep)
    todo = missing(work, facts.trials, forced=forced)
    symbol = "~" if facts.previous is not None else "+"
    if after:
        return _action(work, (Reason(Why.AFTER, f"after {', '.join(after)}"), _summary(sweep, len(todo))), symbol,
                       after)
    if forced:
        return _action(work, (_summary(sweep, total), Reason(Why.FORCED, "forced")), symbol)
    if not todo:
        return Action(Kind.SKIP, work.base.job, (Reason(Why.UP_TO_DATE, _up_to_date(work, facts)),), symbol="=",
                      work=work.base, sweep=work)
    if facts.known:
        done = total - len(todo)
        return _action(work, (_summary(sweep, len(todo)), *_limit_change(facts.previous, sweep),
                              Reason(Why.NOT_COMPLETED, f"sweep {work.sweep_id[:12]}: {done} of {total} trials done")),
                       symbol)
    if facts.previous is None:
        return _action(work, (_summary(sweep, total),), symbol)
    return _action(work, (_summary(sweep, total), *_changes(facts.previous["components"], work.components,
                                                            work.base.history.code_reasons)), symbol)


def _action(work: SweepWork, reasons: tuple[Reason, ...], symbol: str, after: tuple[str, ...] = ()) -> Action:
    return Action(Kind.SWEEP, work.base.job, reasons, symbol=symbol, after=after, work=work.base, sweep=work)


def _summary(sweep: Sweep, trials: int) -> Reason:
    """`20 trials, 4 at once, bayesian, maximize accuracy`."""
    objective = sweep.objective
    return Reason(Why.NEW, f"{trials} trial{'' if trials == 1 else 's'}, {sweep.limits.max_concurrent_trials} at once, "
                           f"{sweep.sampling_algorithm}, {objective.goal} {objective.primary_metric}")


def _up_to_date(work: SweepWork, facts: SweepFacts) -> str:
    found = best(list(facts.trials), work.sweep.objective.goal)
    total = planned_total(work.sweep)
    text = f"up to date: sweep {work.sweep_id[:12]}, {total} trial{'' if total == 1 else 's'}"
    if found is not None:
        text += f", best {found.run_id} ({work.sweep.objective.primary_metric} {found.value:.4g})"
    return text


def _limit_change(previous: dict[str, Any] | None, sweep: Sweep) -> list[Reason]:
    old = ((previous or {}).get("definition") or {}).get("limits", {}).get("max_total_trials")
    new = sweep.limits.max_total_trials
    return [Reason(Why.CHANGED, f"limits.max_total_trials: {old} -> {new}")] if old != new else []


def _changes(old: dict[str, Any], new: dict[str, Any], code_reasons: tuple[str, ...]) -> list[Reason]:
    texts = [f"sweep.{key} changed" for key in sorted(set(old.get("sweep", {})) | set(new["sweep"]))
             if old.get("sweep", {}).get(key) != new["sweep"].get(key)]
    others = explain(old, new, code_reasons)
    if texts and others == ["fingerprint changed"]:
        others = []
    return [Reason(Why.CHANGED, text) for text in [*others, *texts]]
