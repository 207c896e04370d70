"""The README's first command, as a new user runs it: `runner apply -C example-project`
(a real uv-built scikit-learn environment, real runs), then the same with
`-f train.docker.yaml` on a docker compute. Each works on a copy of the committed example
(the README's tour edits the working tree's)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.docker_support import base_image
from tests.example_copy import committed_example
from tests.runs.helpers import runner_cmd

def runner(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*runner_cmd(), *args, "-C", str(root)], capture_output=True, text=True,
                          timeout=timeout)


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return committed_example(tmp_path / "example-project")


def test_example_project_trains_registers_and_then_does_nothing(example: Path) -> None:
    first = runner(example, "apply")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "+ run prep" in first.stdout and "(after prep)" in first.stdout
    assert "model:iris-svm version 1 registered" in first.stdout

    runs = {r["job"]: r for r in as_json(runner(example, "runs", "list", "--json"))}
    assert {runs["prep"]["status"], runs["train"]["status"]} == {"completed"}
    shown = as_json(runner(example, "runs", "show", "train", "--json"))
    assert shown["metrics"]["accuracy"] > 0.9
    assert [o["path"] for o in shown["outputs"]] == ["outputs/model.joblib"]
    model = as_json(runner(example, "models", "show", "iris-svm", "--json"))
    assert (model["version"], model["run_id"], model["aliases"]) == (1, "train-1", ["latest"])

    again = runner(example, "apply", "--json")
    assert as_json(again)["changes"] is False

    spec = example / "train.yaml"
    spec.write_text(spec.read_text().replace("kernel: linear", "kernel: rbf"))
    plan = {a["target"]: a for a in as_json(runner(example, "plan", "--json"))["actions"]}
    assert plan["prep"]["action"] == "skip"
    assert plan["train"] == {"action": "run", "target": "train", "reasons": ["params.kernel: linear -> rbf"]}


@pytest.mark.docker
def test_docker_example_trains_in_a_container_and_rebuilds_nothing(example: Path) -> None:
    image = base_image()  # the image the example names; skip (fail under CI) without Docker
    spec = example / "train.docker.yaml"
    assert f"image: {image}" in spec.read_text()
    first = runner(example, "apply", "-f", spec.name, "--json")
    result = as_json(first)
    assert result["ok"] is True and {r["status"] for r in result["runs"]} == {"completed"}, first.stderr
    envs = as_json(runner(example, "envs", "list", "-f", spec.name, "--json"))
    assert [(e["kind"], e["cached"]) for e in envs if e["name"] == "sklearn"] == [("docker", True)]

    built = as_json(runner(example, "envs", "build", "-f", spec.name, "--json"))
    assert [b["cache"] for b in built] == ["hit"]
    again = as_json(runner(example, "apply", "-f", spec.name, "--json"))
    assert again["changes"] is False and again["runs"] == []
    model = as_json(runner(example, "models", "show", "iris-svm-docker", "--json"))
    assert model["version"] == 1 and model["lineage"]["run_id"].startswith("train-docker-")


def test_sweep_example_runs_its_trials_registers_the_best_and_then_does_nothing(example: Path) -> None:
    spec = "train.sweep.yaml"
    first = as_json(runner(example, "apply", "-f", spec, "--json"))
    assert first["ok"] is True and [a["action"] for a in first["actions"]][:2] == ["run", "sweep"]
    shown = as_json(runner(example, "sweeps", "show", "train-sweep", "-f", spec, "--json"))
    assert len(shown["trials"]) == 8 and {t["status"] for t in shown["trials"]} == {"completed"}
    assert shown["best"]["value"] == max(t["value"] for t in shown["trials"]) > 0.9
    model = as_json(runner(example, "models", "show", "iris-svm-best", "-f", spec, "--json"))
    assert model["lineage"]["run_id"] == shown["best"]["run_id"]
    assert model["lineage"]["sweep"]["id"] == shown["sweep_id"]
    again = as_json(runner(example, "apply", "-f", spec, "--json"))
    assert again["changes"] is False and again["runs"] == []
