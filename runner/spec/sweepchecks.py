"""The whole-file checks of sweeps: what a sweep block cannot know alone.

Swept names must be params of the job; `grid` takes only `choice`; `bayesian` only the
types Optuna's TPE samples; random and bayesian need `max_total_trials`; loguniform
bounds are exponents (a slip like `max_value: 100` gets a hint); a model of a swept job
says `from: best`, and only such a model does; nothing reads a swept job's outputs as an
input (a sweep has many runs, not one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.spec.source import Located, Mark, Path_
    from runner.spec.types import Job, Model, Sweep

    Found = tuple[Mark, Path_, str]

BAYESIAN_TYPES = ("choice", "randint", "uniform", "quniform", "loguniform", "qloguniform")
LOG_TYPES = ("loguniform", "qloguniform")
MAX_EXPONENT = 30  # exp(30) = 1.1e13: beyond that a bound is a value written where an exponent goes


def sweep_problems(doc: Located, jobs: dict[str, Job], models: dict[str, Model]) -> Iterator[Found]:
    """`doc` is the document; `jobs` and `models` the items that validated (and the well-formed
    fields of those that did not)."""
    swept = {name for name, job in jobs.items() if job.sweep is not None}
    for name, job in jobs.items():
        if job.sweep is not None:
            yield from _sweep(doc, name, job, job.sweep)
        for key, item in job.inputs.items():
            if item.job in swept:
                yield _at(doc, ("jobs", name, "inputs", key, "job"),
                          f"job {item.job!r} is a sweep (many trials, no single output): register its best trial "
                          f"with a model `from: best` and read that, or drop the sweep")
        for i, need in enumerate(job.needs):
            if need in swept:
                yield _at(doc, ("jobs", name, "needs", i), f"job {need!r} is a sweep: jobs cannot need a sweep")
    for name, model in models.items():
        if model.job in swept and model.from_ is None and not _says_from(doc, name):
            yield (doc.key_mark(("models", name)), ("models", name),
                   f"job {model.job!r} is a sweep: say which trial to register with `from: best`")
        elif model.from_ is not None and model.job in jobs and model.job not in swept:
            yield _at(doc, ("models", name, "from"), f"`from: {model.from_}` needs a job with a `sweep:`; "
                                                     f"job {model.job!r} has none")


def _says_from(doc: Located, model: str) -> bool:
    """The model has a `from:` (a wrong one is reported by validation, not again here)."""
    models = doc.data.get("models") if isinstance(doc.data, dict) else None
    raw = models.get(model) if isinstance(models, dict) else None
    return isinstance(raw, dict) and "from" in raw


def _sweep(doc: Located, name: str, job: Job, sweep: Sweep) -> Iterator[Found]:
    base = ("jobs", name, "sweep")
    for key, dist in sweep.search_space.items():
        where = (*base, "search_space", key)
        if key not in job.params:
            known = ", ".join(job.params) or "none"
            yield (doc.key_mark(where), where,
                   f"swept name {key!r} is not a param of job {name!r} (params: {known}); add it to `params:`")
        if sweep.sampling_algorithm == "grid" and dist.type != "choice":
            yield _at(doc, (*where, "type"), f"grid sampling takes only `type: choice` (got {dist.type})")
        if sweep.sampling_algorithm == "bayesian" and dist.type not in BAYESIAN_TYPES:
            yield _at(doc, (*where, "type"), f"bayesian sampling takes {', '.join(BAYESIAN_TYPES)} (got {dist.type})")
        if dist.type in LOG_TYPES:
            yield from _exponents(doc, where, dist.min_value, dist.max_value)
    if sweep.limits.max_total_trials is None and sweep.sampling_algorithm != "grid":
        yield (doc.key_mark(base), base, f"{sweep.sampling_algorithm} sampling needs "
                                             f"`limits: {{max_total_trials: N}}`")


def _exponents(doc: Located, where: tuple[str, ...], low: float | None, high: float | None) -> Iterator[Found]:
    if low is None or high is None or max(abs(low), abs(high)) <= MAX_EXPONENT:
        return
    field = "max_value" if abs(high) >= abs(low) else "min_value"
    bound = high if field == "max_value" else low
    shown = f"{math.exp(bound):.2g}".replace("e+", "e") if bound < 709 else "more than 1e308"
    hint = f"; for {low:g}..{high:g} write {math.log(low):.2f}..{math.log(high):.2f}" if low > 0 else ""
    yield _at(doc, (*where, field), f"loguniform bounds are exponents: exp({bound:g}) = {shown}{hint}")


def _at(doc: Located, where: tuple[str | int, ...], message: str) -> Found:
    return doc.value_mark(where), where, message
