"""Each early-termination policy on scripted metric curves, as Azure ML defines them."""

from __future__ import annotations

from typing import Any

import pytest

from runner.spec.types import EarlyTermination
from runner.sweeps.policies import due, judge


def policy(kind: str, **fields: Any) -> EarlyTermination:
    return EarlyTermination(type=kind, **fields)


def test_evaluation_interval_and_delay() -> None:
    p = policy("bandit", slack_factor=0.1, evaluation_interval=2, delay_evaluation=3)
    assert [k for k in range(1, 10) if due(p, k)] == [4, 6, 8]


def test_bandit_slack_factor_is_best_over_one_plus_factor() -> None:
    p = policy("bandit", slack_factor=0.2)
    best = [0.5, 0.8]
    # 0.8 / 1.2 = 0.667: 0.61 stops, 0.67 goes on
    assert judge(p, "maximize", [0.5, 0.61], [best]) == "bandit: 0.61 < 0.667 = best 0.8 / (1 + 0.2) at interval 2"
    assert judge(p, "maximize", [0.5, 0.67], [best]) is None


def test_bandit_slack_amount_and_minimize() -> None:
    amount = policy("bandit", slack_amount=0.2)
    assert judge(amount, "maximize", [0.59], [[0.8]]) == "bandit: 0.59 < 0.6 = best 0.8 - 0.2 at interval 1"
    assert judge(amount, "maximize", [0.61], [[0.8]]) is None
    factor = policy("bandit", slack_factor=0.5)
    assert judge(factor, "minimize", [1.6], [[1.0]]) == "bandit: 1.6 > 1.5 = best 1 × (1 + 0.5) at interval 1"
    assert judge(factor, "minimize", [1.4], [[1.0]]) is None
    assert judge(amount, "minimize", [1.3], [[1.0]]) == "bandit: 1.3 > 1.2 = best 1 + 0.2 at interval 1"


def test_bandit_compares_at_the_same_interval_and_waits_for_the_delay() -> None:
    p = policy("bandit", slack_factor=0.1, delay_evaluation=1)
    # the other trial reached 0.9 only at interval 3; at interval 1 nothing is judged, at 2 it is level
    assert judge(p, "maximize", [0.1], [[0.9, 0.5, 0.9]]) is None
    assert judge(p, "maximize", [0.1, 0.5], [[0.9, 0.5, 0.9]]) is None
    assert judge(p, "maximize", [0.1, 0.5, 0.5], [[0.9, 0.5, 0.9]]) is not None


def test_median_stopping_uses_the_best_so_far_against_running_averages() -> None:
    p = policy("median_stopping")
    others = [[0.2, 0.4, 0.6], [0.5, 0.6, 0.7], [0.1, 0.1, 0.1]]  # averages at 3: 0.4, 0.6, 0.1 -> median 0.4
    assert judge(p, "maximize", [0.1, 0.3, 0.2], others) == (
        "median_stopping: best 0.3 < median 0.4 of running averages at interval 3")
    assert judge(p, "maximize", [0.1, 0.45, 0.2], others) is None  # its best so far beats the median
    assert judge(p, "maximize", [0.1], []) is None  # nobody to compare with
    assert judge(p, "minimize", [0.9, 0.8, 0.7], others) is not None


def test_truncation_selection_stops_the_lowest_percent() -> None:
    p = policy("truncation_selection", truncation_percentage=40)
    others = [[0.9], [0.8], [0.7], [0.6]]  # five trials at interval 1: the lowest two stop
    assert judge(p, "maximize", [0.5], others) == (
        "truncation_selection: 0.5 is in the lowest 40% at interval 1 (rank 5 of 5, cutoff 0.6)")
    assert judge(p, "maximize", [0.65], others) is not None  # second lowest
    assert judge(p, "maximize", [0.75], others) is None
    assert judge(p, "minimize", [0.95], others) is not None
    assert judge(p, "maximize", [0.1], [[0.9]]) is None  # 40% of two trials rounds down to none


def test_ties_never_stop_a_trial_in_another_ones_place() -> None:
    p = policy("truncation_selection", truncation_percentage=50)
    assert judge(p, "maximize", [0.5], [[0.5]]) is None


@pytest.mark.parametrize("kind", ["bandit", "median_stopping", "truncation_selection"])
def test_a_nan_report_is_never_judged(kind: str) -> None:
    fields = {"bandit": {"slack_factor": 0.1}, "truncation_selection": {"truncation_percentage": 50}}.get(kind, {})
    assert judge(policy(kind, **fields), "maximize", [float("nan")], [[0.9], [0.8]]) is None
