"""Search spaces with Azure ML's meanings: a param's value is drawn as a raw number, then transformed.

The raw draw is what a sampler sees (uniform over [min_value, max_value] for every
continuous type, a Gaussian for the normal ones, an index-free value for `choice` and
`randint`); the transform gives the param: `loguniform` = exp(raw) (its bounds are
natural-log exponents), `lognormal` = exp(raw), and the `q` types round to a multiple of
`q` (an int when `q` is a whole number, so `--layers 3` parses as an int). Optuna's TPE
works on the raw values, so a bayesian sweep samples `loguniform` on the log scale.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.spec.types import Scalar, SearchDistribution, Sweep

CONTINUOUS = ("uniform", "loguniform", "quniform", "qloguniform")
GAUSSIAN = ("normal", "lognormal", "qnormal", "qlognormal")


def draw(dist: SearchDistribution, rng: random.Random) -> Any:
    """A raw value of `dist` from `rng`."""
    if dist.type == "choice":
        assert dist.values is not None
        return dist.values[rng.randrange(len(dist.values))]
    if dist.type == "randint":
        assert dist.upper is not None
        return rng.randrange(dist.upper)
    if dist.type in CONTINUOUS:
        assert dist.min_value is not None and dist.max_value is not None
        return rng.uniform(dist.min_value, dist.max_value)
    assert dist.mu is not None and dist.sigma is not None
    return rng.gauss(dist.mu, dist.sigma)


def value(dist: SearchDistribution, raw: Any) -> Scalar:
    """The param's value for a raw draw."""
    if dist.type in ("choice", "randint", "uniform", "normal"):
        return raw  # type: ignore[no-any-return]
    number = math.exp(raw) if dist.type in ("loguniform", "qloguniform", "lognormal", "qlognormal") else raw
    if dist.q is None:
        return float(number)
    steps = round(number / dist.q)
    if float(dist.q).is_integer():
        return int(steps * int(dist.q))
    return round(steps * dist.q, 12)  # 3 * 0.1 is 0.30000000000000004


def params_of(sweep: Sweep, raw: dict[str, Any]) -> dict[str, Scalar]:
    return {key: value(sweep.search_space[key], raw[key]) for key in sweep.search_space}


def grid(sweep: Sweep) -> list[dict[str, Any]]:
    """Every combination of the `choice` values, in train.yaml's order (the last name varies fastest)."""
    keys = list(sweep.search_space)
    values = [sweep.search_space[k].values or () for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def grid_size(sweep: Sweep) -> int:
    return math.prod(len(d.values or ()) for d in sweep.search_space.values())
