"""Each sampling algorithm: grid covers every combination once, random and bayesian are
deterministic given the seed, the trial number and the results so far, and every search
space type means what it means in Azure ML."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.spec import from_data
from runner.spec.types import Sweep
from runner.sweeps.space import draw, params_of, value
from runner.sweeps.study import Past, planned_total, suggest


def sweep(space: dict[str, Any], algorithm: str = "random", limit: int | None = 10, seed: int = 7) -> Sweep:
    limits = {} if limit is None else {"max_total_trials": limit}
    job = {"command": "python t.py", "params": dict.fromkeys(space, 1),
           "sweep": {"sampling_algorithm": algorithm, "seed": seed, "search_space": space,
                     "objective": {"primary_metric": "acc", "goal": "maximize"}, "limits": limits}}
    spec = from_data({"version": 1, "jobs": {"j": job}})
    found = spec.jobs["j"].sweep
    assert found is not None
    return found


choices = st.lists(st.one_of(st.integers(-5, 5), st.text("abc", min_size=1, max_size=3)), min_size=1, max_size=4,
                   unique_by=repr)


@settings(max_examples=40, deadline=None)
@given(st.lists(choices, min_size=1, max_size=3))
def test_grid_covers_every_combination_exactly_once(values: list[list[Any]]) -> None:
    space = {f"p{i}": {"type": "choice", "values": v} for i, v in enumerate(values)}
    s = sweep(space, "grid", limit=None)
    total = planned_total(s)
    assert total == math.prod(len(v) for v in values)
    seen = [tuple(suggest(s, n, [])[k] for k in space) for n in range(1, total + 1)]
    assert len(set(map(repr, seen))) == total
    assert {repr(c) for c in seen} == {repr(tuple(c)) for c in itertools.product(*values)}


def test_grid_stops_at_max_total_trials() -> None:
    s = sweep({"a": {"type": "choice", "values": [1, 2, 3]}}, "grid", limit=2)
    assert planned_total(s) == 2


def test_random_trial_n_depends_only_on_seed_and_n() -> None:
    s = sweep({"c": {"type": "uniform", "min_value": 0, "max_value": 1}})
    first = [suggest(s, n, []) for n in range(1, 6)]
    again = [suggest(s, n, [Past(9, {"c": 0.5}, 1.0)]) for n in range(1, 6)]
    assert first == again
    assert len({repr(p) for p in first}) == 5
    assert suggest(sweep({"c": {"type": "uniform", "min_value": 0, "max_value": 1}}, seed=8), 1, []) != first[0]


DISTRIBUTIONS = [
    ({"type": "randint", "upper": 4}, lambda v: v in (0, 1, 2, 3)),
    ({"type": "uniform", "min_value": -1, "max_value": 2}, lambda v: -1 <= v <= 2),
    ({"type": "loguniform", "min_value": -6.91, "max_value": 4.61}, lambda v: 0.00099 < v < 100.5),
    ({"type": "normal", "mu": 10, "sigma": 0.001}, lambda v: 9.9 < v < 10.1),
    ({"type": "lognormal", "mu": 0, "sigma": 0.001}, lambda v: 0.99 < v < 1.01),
    ({"type": "quniform", "min_value": 0, "max_value": 10, "q": 2}, lambda v: isinstance(v, int) and v % 2 == 0),
    ({"type": "qloguniform", "min_value": 0, "max_value": 3, "q": 1}, lambda v: isinstance(v, int) and 1 <= v <= 20),
    ({"type": "qnormal", "mu": 0, "sigma": 1, "q": 0.5}, lambda v: (v * 2) == round(v * 2)),
    ({"type": "qlognormal", "mu": 2, "sigma": 0.1, "q": 1}, lambda v: isinstance(v, int) and 5 <= v <= 10),
    ({"type": "choice", "values": ["a", 1, True]}, lambda v: v in ("a", 1, True)),
]


@pytest.mark.parametrize(("dist", "ok"), DISTRIBUTIONS, ids=lambda d: d["type"] if isinstance(d, dict) else "")
def test_each_search_space_type_draws_what_azure_ml_means(dist: dict[str, Any], ok: Any) -> None:
    s = sweep({"x": dist})
    values = [params_of(s, suggest(s, n, []))["x"] for n in range(1, 60)]
    assert all(ok(v) for v in values), values


def test_loguniform_bounds_are_exponents_and_q_rounds() -> None:
    s = sweep({"x": {"type": "qloguniform", "min_value": 0, "max_value": 1, "q": 0.1}})
    dist = s.search_space["x"]
    assert value(dist, math.log(2.345)) == 2.3
    assert value(sweep({"x": {"type": "loguniform", "min_value": 0, "max_value": 1}}).search_space["x"], 1.0) == math.e
    assert draw(dist, random.Random(1)) <= 1


def test_bayesian_is_deterministic_given_the_results_so_far() -> None:
    s = sweep({"c": {"type": "loguniform", "min_value": -3, "max_value": 3},
               "k": {"type": "choice", "values": ["linear", "rbf"]}}, "bayesian", limit=30)
    past = [Past(n, suggest(s, n, []), float(n % 5)) for n in range(1, 13)]  # past the 10 random startup trials
    one, two = suggest(s, 13, past), suggest(s, 13, list(reversed(past)))
    assert one == two and -3 <= one["c"] <= 3 and one["k"] in ("linear", "rbf")
    failed = [Past(1, suggest(s, 1, []), None)]  # a failed trial (no value) is replayed as failed
    assert suggest(s, 2, failed) == suggest(s, 2, failed)


@settings(max_examples=60, deadline=None)
@given(low=st.floats(-50, 50), width=st.floats(0.01, 100), q=st.sampled_from([0.1, 0.25, 1.0, 5.0]),
       seed=st.integers(0, 2**32 - 1), trial=st.integers(1, 10_000))
def test_quniform_values_are_multiples_of_q_near_the_bounds(low: float, width: float, q: float, seed: int,
                                                            trial: int) -> None:
    s = sweep({"x": {"type": "quniform", "min_value": low, "max_value": low + width, "q": q}}, seed=seed)
    raw = suggest(s, trial, [])
    assert low <= raw["x"] <= low + width
    x = params_of(s, raw)["x"]
    assert isinstance(x, int) == q.is_integer()
    assert abs(x / q - round(x / q)) < 1e-6 and low - q / 2 - 1e-9 <= x <= low + width + q / 2 + 1e-9
