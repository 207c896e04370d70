"""Which params trial N of a sweep gets: a function of the seed, N and the results so far.

`grid` walks every combination once, in order; `random` draws trial N from a generator
seeded with (seed, N), so it never depends on other trials; `bayesian` asks Optuna's TPE
sampler (seeded with (seed, N)) after replaying the finished trials into a fresh
in-memory study (`add_trial`), so a resumed sweep rebuilds its history from runner's
state, not from a study file. Optuna is imported only when a bayesian trial is drawn.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.sweeps.space import draw, grid, grid_size

if TYPE_CHECKING:
    from runner.spec.types import SearchDistribution, Sweep


@dataclass(frozen=True)
class Past:
    """A finished trial, as the sampler learns from it."""

    trial: int
    raw: dict[str, Any]
    value: float | None  # the last value of the primary metric it logged; None: a failed trial


def planned_total(sweep: Sweep) -> int:
    """How many trials the sweep has: `max_total_trials`, and for grid at most every combination."""
    limit = sweep.limits.max_total_trials
    if sweep.sampling_algorithm == "grid":
        size = grid_size(sweep)
        return size if limit is None else min(size, limit)
    assert limit is not None, "validation requires max_total_trials for random and bayesian"
    return limit


def suggest(sweep: Sweep, trial: int, past: list[Past]) -> dict[str, Any]:
    """The raw draw of `trial` (1-based); `runner.sweeps.space.params_of` turns it into params."""
    if sweep.sampling_algorithm == "grid":
        return grid(sweep)[trial - 1]
    if sweep.sampling_algorithm == "random":
        rng = random.Random(trial_seed(sweep.seed, trial))
        return {key: draw(dist, rng) for key, dist in sweep.search_space.items()}
    return _tpe(sweep, trial, past)


def trial_seed(seed: int, trial: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{trial}".encode()).digest()[:4], "big")


def _tpe(sweep: Sweep, trial: int, past: list[Past]) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spaces = {key: _optuna(dist) for key, dist in sweep.search_space.items()}
    direction = "maximize" if sweep.objective.goal == "maximize" else "minimize"
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(
        seed=trial_seed(sweep.seed, trial)))
    for done in sorted(past, key=lambda p: p.trial):
        finite = done.value is not None and math.isfinite(done.value)
        study.add_trial(optuna.trial.create_trial(
            params=done.raw, distributions=spaces, value=done.value if finite else None,
            state=optuna.trial.TrialState.COMPLETE if finite else optuna.trial.TrialState.FAIL))
    return dict(study.ask(spaces).params)


def _optuna(dist: SearchDistribution) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if dist.type == "choice":
        return CategoricalDistribution(list(dist.values or ()))
    if dist.type == "randint":
        assert dist.upper is not None
        return IntDistribution(0, dist.upper - 1)
    assert dist.min_value is not None and dist.max_value is not None, "validation allows these types only"
    return FloatDistribution(dist.min_value, dist.max_value)
