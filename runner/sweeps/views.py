"""What `runner sweeps list` and `runner sweeps show JOB` print: sweeps and their trials, best first."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.sweeps.store import SweepStore, Trial, best

if TYPE_CHECKING:
    from runner.state import State


def list_sweeps(state: State) -> list[dict[str, Any]]:
    """Every sweep, most recently run first, with its trial counts and best trial."""
    store = SweepStore(state.db)
    found = []
    for sweep in store.sweeps():
        objective = sweep["objective"]
        trials = store.trials(sweep["id"], objective["primary_metric"])
        top = best(trials, objective["goal"])
        found.append({"job": sweep["job"], "sweep_id": sweep["id"], "sampling_algorithm": sweep["sampling_algorithm"],
                      "objective": objective, "trials": len(trials), "done": sum(1 for t in trials if t.done),
                      "max_total_trials": sweep["definition"].get("limits", {}).get("max_total_trials"),
                      "best": _best(top), "updated_at": sweep["updated_at"]})
    return found


def show_sweep(state: State, ref: str) -> dict[str, Any]:
    """The latest sweep of job `ref` (or the sweep whose id starts with `ref`), trials sorted by the objective."""
    store = SweepStore(state.db)
    sweep = store.latest(ref) or _by_id(store, ref)
    if sweep is None:
        raise RunnerError(f"no sweep of a job named {ref!r} has run; see `runner sweeps list`, "
                          f"or run `runner apply` for a job with a `sweep:`")
    objective = sweep["objective"]
    trials = store.trials(sweep["id"], objective["primary_metric"])
    sign = 1.0 if objective["goal"] == "maximize" else -1.0
    ordered = sorted(trials, key=lambda t: (not _valued(t), -sign * t.value if _valued(t) else 0.0, t.trial))
    return {"job": sweep["job"], "sweep_id": sweep["id"], "sampling_algorithm": sweep["sampling_algorithm"],
            "objective": objective, "best": _best(best(trials, objective["goal"])),
            "trials": [_trial(t) for t in ordered]}


def durations(state: State, shown: dict[str, Any]) -> dict[int, float | None]:
    """Each trial's run time in seconds (None until it started and ended), for the text view."""
    store = SweepStore(state.db)
    return {t.trial: _seconds(t) for t in store.trials(shown["sweep_id"], shown["objective"]["primary_metric"])}


def _by_id(store: SweepStore, prefix: str) -> dict[str, Any] | None:
    matches = [s for s in store.sweeps() if s["id"].startswith(prefix)] if len(prefix) >= 4 else []
    return matches[0] if len(matches) == 1 else None


def _valued(trial: Trial) -> bool:
    return trial.value is not None and math.isfinite(trial.value)


def _best(trial: Trial | None) -> dict[str, Any] | None:
    if trial is None:
        return None
    return {"run_id": trial.run_id, "value": trial.value, "params": trial.params}


def _trial(trial: Trial) -> dict[str, Any]:
    return {"run_id": trial.run_id, "trial": trial.trial, "params": trial.params, "status": trial.status,
            "value": trial.value if _valued(trial) else None, "reason": trial.reason}


def _seconds(trial: Trial) -> float | None:
    if not trial.started_at or not trial.ended_at:
        return None
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (trial.started_at, trial.ended_at))
    return (end - start).total_seconds()
