"""runner.tracking: the JSONL file a run writes, printing outside a run, reading it back."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runner
from runner import tracking

SCRIPT = """
from runner import tracking
tracking.log("accuracy", 0.5)
tracking.log("accuracy", 0.75)
tracking.log("loss", 2, step=10)
tracking.log("loss", True)
tracking.log_list("lr", [0.1, 0.01, 0.001])
tracking.log("bad", float("nan"))
tracking.log_params({"kernel": "linear", "penalty": 1.0, "layers": [2, 3]})
tracking.set_tags({"team": "vision", "epoch": 3})
print("done")
"""


def _run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    return subprocess.run([sys.executable, "-c", script], env={**clean, **env}, cwd=cwd,
                          capture_output=True, text=True, check=True, timeout=60)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_appends_json_lines(tmp_path: Path) -> None:
    logs = tmp_path / "logs"  # not created yet: tracking makes it
    done = _run(SCRIPT, {"RUNNER_RUN_ID": "train-1", "RUNNER_LOGS": str(logs)}, tmp_path)
    assert done.stdout == "done\n"
    records = _records(logs / "metrics.jsonl")
    metrics = [(r["name"], r["value"], r["step"]) for r in records if r["type"] == "metric"]
    assert metrics == [("accuracy", 0.5, 0), ("accuracy", 0.75, 1), ("loss", 2.0, 10), ("loss", 1.0, 11),
                       ("lr", 0.1, 0), ("lr", 0.01, 1), ("lr", 0.001, 2), ("bad", "NaN", 0)]
    assert records[-2] == {"type": "params", "params": {"kernel": "linear", "penalty": 1.0, "layers": "[2, 3]"}}
    assert records[-1] == {"type": "tags", "tags": {"team": "vision", "epoch": "3"}}


def test_metric_time_is_utc_iso8601(tmp_path: Path) -> None:
    _run(SCRIPT, {"RUNNER_RUN_ID": "train-1", "RUNNER_LOGS": str(tmp_path)}, tmp_path)
    first = _records(tmp_path / "metrics.jsonl")[0]
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert set(first) == {"type", "name", "value", "step", "time"}


@pytest.mark.parametrize("env", [{}, {"RUNNER_LOGS": "logs"}, {"RUNNER_RUN_ID": "train-1"}])
def test_outside_a_run_prints_and_writes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    done = _run(SCRIPT, env, tmp_path)
    lines = done.stdout.splitlines()
    assert lines[:4] == ["accuracy: 0.5", "accuracy: 0.75", "loss: 2.0 (step 10)", "loss: 1.0"]
    assert "lr: 0.01 (step 1)" in lines and "bad: nan" in lines
    assert "params: kernel=linear, penalty=1.0, layers=[2, 3]" in lines
    assert list(tmp_path.iterdir()) == []


def test_works_copied_alone_without_runner_dependencies(tmp_path: Path) -> None:
    package = tmp_path / "runner"
    package.mkdir()
    for name in ("__init__.py", "tracking.py"):
        shutil.copy(Path(runner.__file__).parent / name, package / name)
    check = ("import os, sys; sys.path.insert(0, os.getcwd()); from runner import tracking; tracking.log('x', 1);"
             "extra = [m for m in sys.modules if m.split('.')[0] not in {*sys.stdlib_module_names, '__main__'}];"
             "print(sorted(extra), tracking.__file__.startswith(sys.path[0]))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env = {**clean, "RUNNER_RUN_ID": "a-1", "RUNNER_LOGS": str(tmp_path / "logs")}
    # -S: no site-packages, so pydantic & co cannot be found even by accident
    done = subprocess.run([sys.executable, "-S", "-c", check], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['runner', 'runner.tracking'] True"
    assert _records(tmp_path / "logs" / "metrics.jsonl")[0]["value"] == 1.0


def test_concurrent_writers_keep_lines_whole(tmp_path: Path) -> None:
    script = "from runner import tracking\nfor i in range(300): tracking.log('w' * 200, i)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env = {**clean, "RUNNER_RUN_ID": "a-1", "RUNNER_LOGS": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    assert len(_records(tmp_path / "metrics.jsonl")) == 1200


@pytest.mark.parametrize("value", ["0.5", None, [1.0], b"1", {"a": 1}, 1j])
def test_a_non_numeric_value_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="'acc'.*number|float"):
        tracking.log("acc", value)


def test_bad_names_and_steps() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        tracking.log(3, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        tracking.log("", 1.0)
    with pytest.raises(TypeError, match="step must be an int"):
        tracking.log("acc", 1.0, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        tracking.log("acc", 1.0, step=-1)
    with pytest.raises(TypeError, match="expected a dict"):
        tracking.log_params([("a", 1)])  # type: ignore[arg-type]


def test_read_metrics_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    good = '{"type": "metric", "name": "a", "value": "-Infinity", "step": 0, "time": "t"}\n'
    path.write_text(good + '{"type": "params", "params": {}}\n' + '{"type": "metric", "name": "a", "val')
    records = list(tracking.read_metrics(path))
    assert [r["type"] for r in records] == ["metric", "params"]
    assert records[0]["value"] == -math.inf


def test_read_metrics_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert list(tracking.read_metrics(tmp_path / "nope.jsonl")) == []


@contextmanager
def _fake_run() -> Iterator[Path]:
    saved = {k: os.environ.get(k) for k in ("RUNNER_RUN_ID", "RUNNER_LOGS")}
    with tempfile.TemporaryDirectory() as logs:
        os.environ.update(RUNNER_RUN_ID="prop-1", RUNNER_LOGS=logs)
        tracking._next_step.clear()  # each example is a fresh run
        try:
            yield Path(logs) / "metrics.jsonl"
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old


names = st.text(min_size=1, max_size=30)
values = st.one_of(st.floats(), st.integers(min_value=-(2**60), max_value=2**60), st.booleans())
calls = st.lists(st.tuples(names, values, st.one_of(st.none(), st.integers(0, 10**6))), max_size=20)


@settings(max_examples=60, deadline=None)
@given(calls=calls, params=st.dictionaries(names, st.one_of(st.floats(), st.text(), st.integers())))
def test_logged_values_round_trip(calls: list[tuple[str, Any, Optional[int]]], params: dict[str, Any]) -> None:
    with _fake_run() as path:
        expected, next_step = [], {}
        for name, value, step in calls:
            tracking.log(name, value, step=step)
            at = next_step.get(name, 0) if step is None else step
            next_step[name] = at + 1
            expected.append((name, float(value), at))
        tracking.log_params(params)
        records = list(tracking.read_metrics(path))
    got = [(r["name"], r["value"], r["step"]) for r in records[:-1]]
    assert len(got) == len(expected)
    for (name, value, step), (want_name, want_value, want_step) in zip(got, expected, strict=True):
        assert (name, step) == (want_name, want_step)
        assert value == want_value or (math.isnan(value) and math.isnan(want_value))
    back = {k: tracking._NON_FINITE.get(v, v) if isinstance(v, str) and isinstance(params[k], float) else v
            for k, v in records[-1]["params"].items()}
    assert back.keys() == params.keys()
    assert all(back[k] == v or (v != v and back[k] != back[k]) for k, v in params.items())
