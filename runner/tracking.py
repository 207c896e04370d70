"""The API a training script imports: `from runner import tracking`.

    tracking.log("accuracy", 0.97, step=3)
    tracking.log_params({"kernel": "linear", "penalty": 1.0})
    tracking.set_tags({"team": "vision"})
    tracking.log_list("loss", [0.9, 0.5, 0.3])

Inside a run (both `RUNNER_RUN_ID` and `RUNNER_LOGS` set) every call appends one JSON
line to `$RUNNER_LOGS/metrics.jsonl`; `runner runs metrics` reads it while the run goes
on, and runner stores it with the run when it ends:

    {"type": "metric", "name": str, "value": float|str, "step": int, "time": str, "rank": int}
    {"type": "params", "params": {...}}
    {"type": "tags", "tags": {...}}

`rank` is written by the processes of a distributed run other than rank 0 (RUNNER_RANK);
a point without it is rank 0's. `time` is ISO-8601 UTC
(`2024-05-01T12:00:00.123456+00:00`). Outside a run each call
prints `name: value` (and the step when one was given) and writes nothing, so a script
runs unchanged with plain `python`.

Values: ints and bools become floats; anything with `__float__` (numpy scalars, a 0-d
tensor) is converted; anything else is a TypeError. NaN and infinities are allowed and
written as the JSON strings "NaN", "Infinity" and "-Infinity" (bare NaN is not valid
JSON, and null would lose which one it was); `read_metrics` turns them back into floats.

Steps: when `step` is omitted it is one more than the last step logged under that name,
starting from 0. `log_list(name, values)` logs values at steps 0..n-1.

This module imports only the standard library and nothing else from runner: it is copied
alone (with `runner/__init__.py`) into training environments that lack runner's other
dependencies. The metrics file is an append-only log, not a file runner rewrites, so it
is not written through `runner.atomic`: each line is one unbuffered `write` on an
`O_APPEND` descriptor, which keeps lines whole even when several processes of one run
(data-loader workers, distributed ranks) log at once.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, BinaryIO, Optional, Union

__all__ = ["log", "log_params", "set_tags", "log_list", "read_metrics", "METRICS_FILE"]

METRICS_FILE = "metrics.jsonl"
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

_lock = threading.Lock()
_next_step: dict[str, int] = {}
_sink: Optional[tuple[str, BinaryIO]] = None  # (path, handle): kept open between calls


def log(name: str, value: Any, step: Optional[int] = None) -> None:
    """Log one metric value; `step` defaults to the next step of this metric."""
    _check_name(name)
    number = _to_float(name, value)
    with _lock:
        at = _step_for(name, step)
        path = _metrics_path()
        if path is None:
            print(f"{name}: {number}" + (f" (step {step})" if step is not None else ""))
            return
        record = {"type": "metric", "name": name, "value": _json_number(number), "step": at, "time": _now()}
        rank = _rank()
        if rank:
            record["rank"] = rank
        _write(path, record)


def log_list(name: str, values: Iterable[Any]) -> None:
    """Log a list of values of one metric at steps 0..n-1."""
    for index, value in enumerate(list(values)):
        log(name, value, step=index)


def log_params(params: Mapping[str, Any]) -> None:
    """Record the run's hyper-parameters (merged with earlier calls by runner)."""
    clean = {str(k): _json_value(v) for k, v in _mapping(params, "log_params").items()}
    _emit("params", clean)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Attach string tags to the run (merged with earlier calls by runner)."""
    clean = {str(k): str(v) for k, v in _mapping(tags, "set_tags").items()}
    _emit("tags", clean)


def read_metrics(path: Union[str, os.PathLike[str]]) -> Iterator[dict[str, Any]]:
    """Every record of a metrics file, in order; a torn or damaged line is skipped.

    A missing file yields nothing (the run logged nothing). Metric values come back as
    floats, NaN and infinities included.
    """
    try:  # never through a link: the run's script could point it at any file of the host
        handle = open(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: a symbolic link
            return
        raise
    with handle:
        for raw in handle:
            record = _decode(raw)
            if record is not None:
                yield record


# -- writing ---------------------------------------------------------------------------

def _metrics_path() -> Optional[str]:
    logs = os.environ.get("RUNNER_LOGS")
    if not logs or not os.environ.get("RUNNER_RUN_ID"):
        return None
    return os.path.join(logs, METRICS_FILE)


def _rank() -> int:
    """This process's rank in a distributed run (RUNNER_RANK), 0 otherwise."""
    try:
        return max(0, int(os.environ.get("RUNNER_RANK") or 0))
    except ValueError:
        return 0


def _emit(kind: str, payload: dict[str, Any]) -> None:
    with _lock:
        path = _metrics_path()
        if path is None:
            print(f"{kind}: " + ", ".join(f"{k}={v}" for k, v in payload.items()))
            return
        _write(path, {"type": kind, kind: payload})


def _write(path: str, record: dict[str, Any]) -> None:
    line = (json.dumps(record, allow_nan=False) + "\n").encode("ascii")
    _handle(path).write(line)  # unbuffered: one write() per line, visible to the ingester at once


def _handle(path: str) -> BinaryIO:
    global _sink
    if _sink is None or _sink[0] != path:  # a different run (tests) or the first call
        if _sink is not None:
            _sink[1].close()
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        _sink = (path, open(path, "ab", buffering=0))
    return _sink[1]


def _step_for(name: str, step: Optional[int]) -> int:
    if step is None:
        step = _next_step.get(name, 0)
    elif isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"tracking.log({name!r}): step must be an int, not {type(step).__name__}")
    elif step < 0:
        raise ValueError(f"tracking.log({name!r}): step must be >= 0, got {step}")
    _next_step[name] = step + 1
    return step


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# -- values ----------------------------------------------------------------------------

def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"tracking.log: the metric name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("tracking.log: the metric name is empty")


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):
        raise TypeError(f"tracking.log({name!r}): the value must be a number, not "
                        f"{type(value).__name__} {value!r:.60}; log text with set_tags()")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"tracking.log({name!r}): cannot turn {value!r:.60} into a float: {exc}") from None


def _json_number(number: float) -> Union[float, str]:
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return _json_number(value)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    return str(value)  # a param is recorded as shown; arbitrary objects are not JSON


def _mapping(value: Any, func: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"tracking.{func}: expected a dict, not {type(value).__name__}")
    return value


# -- reading ---------------------------------------------------------------------------

def _decode(raw: bytes) -> Optional[dict[str, Any]]:
    try:
        record = json.loads(raw)
    except ValueError:  # a torn line (the writer was killed mid-line) or damage
        return None
    if not isinstance(record, dict):
        return None
    kind = record.get("type")
    if kind == "metric":  # written by hand, not through log(): keep only what can be stored
        step = record.get("step", 0)
        if not isinstance(record.get("name"), str) or not isinstance(step, int) or isinstance(step, bool):
            return None
        rank = record.get("rank", 0)
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
            return None
        if isinstance(record.get("value"), str):
            record["value"] = _NON_FINITE.get(record["value"], record["value"])
    elif kind in ("params", "tags") and not isinstance(record.get(kind), dict):
        return None
    return record
