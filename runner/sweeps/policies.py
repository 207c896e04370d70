"""Early termination as pure functions of metric curves (Azure ML's policies).

An *interval* is one report of the primary metric by a trial. A policy is applied at
interval k of a trial when k > `delay_evaluation` and k is a multiple of
`evaluation_interval`, comparing that trial with the others' reports so far:

- bandit: B is the best value any trial reported at interval k; the trial stops when its
  value there is worse than B / (1 + slack_factor) (or B - slack_amount); minimizing,
  worse than B * (1 + slack_factor) (or B + slack_amount);
- median_stopping: the trial stops when its best value so far is worse than the median of
  the other trials' running averages over their first k reports;
- truncation_selection: of the trials that reached interval k, the worst
  `truncation_percentage` percent (rounded down) stop; this one stops if it is among them.

`judge` returns the reason the trial is stopped, or None.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.spec.types import EarlyTermination

Curve = list[float]


def due(policy: EarlyTermination, interval: int) -> bool:
    return interval > policy.delay_evaluation and interval % policy.evaluation_interval == 0


def judge(policy: EarlyTermination, goal: str, curve: Curve, others: list[Curve]) -> str | None:
    """Whether the trial whose reports are `curve` stops at its latest report (interval len(curve))."""
    k = len(curve)
    if k == 0 or not due(policy, k) or not math.isfinite(curve[-1]):
        return None
    reached = [c[k - 1] for c in others if len(c) >= k and math.isfinite(c[k - 1])]
    if policy.type == "bandit":
        return _bandit(policy, goal, curve[-1], reached, k)
    if policy.type == "median_stopping":
        return _median(goal, curve, [c[:k] for c in others if len(c) >= k], k)
    return _truncation(policy, goal, curve[-1], reached, k)


def _worse(goal: str, a: float, b: float) -> bool:
    return a < b if goal == "maximize" else a > b


def _bandit(policy: EarlyTermination, goal: str, value: float, reached: list[float], k: int) -> str | None:
    best = max([value, *reached]) if goal == "maximize" else min([value, *reached])
    up = goal == "maximize"
    if policy.slack_factor is not None:
        sf = policy.slack_factor
        limit = best / (1 + sf) if up else best * (1 + sf)
        formula = f"best {_n(best)} {'/' if up else '×'} (1 + {_n(sf)})"
    else:
        assert policy.slack_amount is not None
        limit = best - policy.slack_amount if up else best + policy.slack_amount
        formula = f"best {_n(best)} {'-' if up else '+'} {_n(policy.slack_amount)}"
    if not _worse(goal, value, limit):
        return None
    return f"bandit: {_n(value)} {'<' if up else '>'} {_n(limit)} = {formula} at interval {k}"


def _median(goal: str, curve: Curve, others: list[Curve], k: int) -> str | None:
    import statistics  # only a sweep with early termination needs it (~6 ms to import)

    averages = [statistics.fmean(c) for c in others if all(math.isfinite(v) for v in c)]
    finite = [v for v in curve if math.isfinite(v)]
    if not averages or not finite:
        return None
    median = statistics.median(averages)
    best = max(finite) if goal == "maximize" else min(finite)
    if not _worse(goal, best, median):
        return None
    sign = "<" if goal == "maximize" else ">"
    return f"median_stopping: best {_n(best)} {sign} median {_n(median)} of running averages at interval {k}"


def _truncation(policy: EarlyTermination, goal: str, value: float, reached: list[float], k: int) -> str | None:
    assert policy.truncation_percentage is not None
    values = [*reached, value]
    cut = len(values) * policy.truncation_percentage // 100
    if cut == 0:
        return None
    # Worst first; this trial last among equals, so a tie never stops it in another's place.
    ranked = sorted(values, key=lambda v: v if goal == "maximize" else -v)
    below = sum(1 for v in reached if not _worse(goal, value, v))  # the others no better than it
    if below >= cut:
        return None
    rank = len(values) - below
    return (f"truncation_selection: {_n(value)} is in the lowest {policy.truncation_percentage}% at interval {k} "
            f"(rank {rank} of {len(values)}, cutoff {_n(ranked[cut - 1])})")


def _n(value: float) -> str:
    return f"{value:.3g}"
