"""NaN and infinite metrics survive storage: text shows nan/inf/-inf, JSON the strings
"NaN"/"Infinity"/"-Infinity" (valid JSON that the CLI schemas accept); `runs metrics` says
which points it shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.runs.helpers import apply_json

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "cli"
TRAIN = """
import os
from runner import tracking
tracking.log("loss", float("nan"))
tracking.log("up", float("inf"))
tracking.log("down", float("-inf"))
tracking.log_list("acc", [0.5 + i / 100 for i in range(20)])
open(os.path.join(os.environ["RUNNER_OUTPUTS"], "m.txt"), "w").write("m")
"""
SPEC = """
version: 1
jobs:
  train: {code: src, command: python train.py}
models:
  m: {job: train, path: outputs/m.txt}
"""


def _check(schema: str, data: Any) -> None:
    Draft202012Validator(json.loads((SCHEMAS / f"{schema}.json").read_text())).validate(data)


@pytest.fixture
def ran(project: Any, cli: Any) -> Any:
    project.gen({"train.yaml": SPEC, "src": {"train.py": TRAIN}})
    code, result = apply_json(cli, project)
    assert code == 0, result
    return project


def test_text_shows_nan_and_inf(ran: Any, cli: Any) -> None:
    shown = cli("runs", "show", "train", "-C", ran.root).out.splitlines()
    metrics = cli("runs", "metrics", "train", "-C", ran.root).out.splitlines()
    model = cli("models", "show", "m", "-C", ran.root).out

    assert "metric     loss = nan" in shown and "metric     up = inf" in shown and "metric     down = -inf" in shown
    by_name = {line.split()[0]: line for line in metrics}
    assert by_name["loss"].split()[1:3] == ["last", "nan"] and by_name["loss"].endswith("(1 points: nan)")
    assert by_name["up"].split()[2] == "inf" and by_name["down"].split()[2] == "-inf"
    assert "metric      loss = nan" in model or "loss = nan" in model


def test_json_carries_the_strings(ran: Any, cli: Any) -> None:
    show_text = cli("runs", "show", "train", "-C", ran.root, "--json").out
    metrics_text = cli("runs", "metrics", "train", "-C", ran.root, "--json").out
    model_text = cli("models", "show", "m", "-C", ran.root, "--json").out

    for text in (show_text, metrics_text, model_text):  # strict JSON: no bare NaN
        json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in JSON output"))
    show, series, model = json.loads(show_text), json.loads(metrics_text), json.loads(model_text)
    assert {k: show["metrics"][k] for k in ("loss", "up", "down")} == \
        {"loss": "NaN", "up": "Infinity", "down": "-Infinity"}
    assert [p["value"] for p in series["loss"]] == ["NaN"] and series["down"][0]["value"] == "-Infinity"
    assert model["lineage"]["metrics"]["loss"] == "NaN" and model["lineage"]["metrics"]["up"] == "Infinity"
    _check("runs-show", show)
    _check("runs-metrics", series)
    _check("models-show", model)


def test_a_metric_that_stays_nan_is_no_difference(ran: Any, cli: Any) -> None:
    assert apply_json(cli, ran, "--force", "train")[0] == 0

    diff = json.loads(cli("runs", "diff", "train-1", "train-2", "-C", ran.root, "--json").out)

    assert diff["metrics"] == {}
    _check("runs-diff", diff)


def test_metrics_says_it_shows_the_last_ten(ran: Any, cli: Any) -> None:
    lines = cli("runs", "metrics", "train", "-C", ran.root).out.splitlines()
    acc = next(line for line in lines if line.startswith("acc "))

    assert "(last 10 of 20 points: 0.6, 0.61," in acc and acc.endswith("0.69)")
