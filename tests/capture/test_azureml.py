"""capture: [azureml] — a script written for Azure ML's Run records into the runner run, unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.capture.support import console_json as _json
from tests.conftest import ProjectDir, run_console
from tests.docker_support import base_image

SCRIPT = (Path(__file__).parent / "aml_script.py").read_text(encoding="utf-8")


def _project(project: ProjectDir, job_extra: str = "", top: str = "") -> None:
    project.gen({"train.py": SCRIPT, "train.yaml": f"version: 1\n{top}jobs:\n  train:\n    script: train.py\n"
                 f"    capture: [azureml]\n{job_extra}"})
    project.commit()


def _check_recorded(project: ProjectDir, shim_expected: bool = True) -> None:
    done = run_console("apply", "-C", project.root)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = json.loads(done.stdout.split("REFUSED ", 1)[1].splitlines()[0])
    assert len(refused) == 8 and all("not available when runner runs the script" in r for r in refused), refused
    assert any("runner registers models from train.yaml's models:" in r for r in refused)
    assert any("Run.register_model" in r for r in refused)
    origin = done.stdout.split("AZUREML FROM ", 1)[1].splitlines()[0]
    assert ("site-packages" not in origin) is shim_expected, origin
    metrics = _json(project, "runs", "metrics", "train-1")
    assert [p["value"] for p in metrics["alpha"]] == [0.5, 0.25]
    assert [p["value"] for p in metrics["losses"]] == [0.9, 0.5, 0.3]
    shown = _json(project, "runs", "show", "train-1")
    tags = shown["tags"]
    assert tags["note"] == "a text value" and tags["team"] == "vision" and tags["stage"] == "dev"
    assert json.loads(tags["curve"]) == [{"x": 1, "y": 0.4}, {"x": 2, "y": 0.2}]
    assert json.loads(tags["table"]) == {"a": [1, 2], "b": [3, 4]}
    assert json.loads(tags["cm"])["data"]["matrix"] == [[3, 1], [0, 4]]
    assert json.loads(tags["accuracy table"])["schema_type"] == "accuracy_table"
    assert tags["property.owner"] == "ml" and tags["azureml.status"] == "Canceled"
    assert tags["image.roc curve"] == "logs/images/roc_curve.png"
    outputs = {o["path"] for o in shown["outputs"]}
    assert {"outputs/report.txt", "outputs/uploaded/inner/x.txt"} <= outputs, outputs
    to = project.root.parent / "dl"
    assert run_console("runs", "download", "train-1", "--to", to, "-C", project.root).returncode == 0
    assert (to / "logs" / "images" / "roc_curve.png").read_bytes().startswith(b"\x89PNG")


def test_an_azure_ml_script_runs_unchanged_locally(project: ProjectDir) -> None:
    _project(project)
    _check_recorded(project)


def test_without_capture_azureml_is_not_importable(project: ProjectDir) -> None:
    project.gen({"train.py": "import azureml.core\n", "train.yaml": "version: 1\njobs:\n  t: {script: train.py}\n"})
    project.commit()
    done = run_console("apply", "-C", project.root)
    assert done.returncode == 1 and "No module named 'azureml'" in done.stdout, done.stdout


def test_the_shim_wins_over_an_installed_azureml_core(project: ProjectDir) -> None:
    python = os.environ.get("RUNNER_TEST_AZUREML_PYTHON")
    if not python:
        if os.environ.get("CI") == "true":
            pytest.fail("RUNNER_TEST_AZUREML_PYTHON must be set under CI=true (.ci/run builds it)")
        pytest.skip("no Python with azureml-core (RUNNER_TEST_AZUREML_PYTHON)")
    _project(project, "    environment: aml\n",
             f"environments:\n  aml: {{user_managed: true, interpreter: {python}}}\n")
    _check_recorded(project)  # azureml-core is importable there, yet runner's package is the one used


def test_an_azure_ml_script_runs_unchanged_in_docker(project: ProjectDir) -> None:
    image = base_image()
    _project(project, "    environment: e\n    compute: box\n",
             f"environments:\n  e: {{docker: {{image: {image}}}}}\ncomputes:\n  box: {{type: docker, network: none}}\n")
    _check_recorded(project)


def test_capture_is_validated_and_in_the_fingerprint(project: ProjectDir) -> None:
    project.gen({"train.yaml": "version: 1\njobs:\n  t:\n    command: echo\n    capture: [azureml, wandb]\n"})
    done = run_console("validate", "-C", project.root)
    assert done.returncode == 1 and "train.yaml:5:24: expected one of 'azureml' or 'mlflow'" in done.stdout, done.stdout
    project.gen({"train.yaml": "version: 1\njobs:\n  t:\n    command: echo\n"})
    project.commit()
    assert run_console("apply", "-C", project.root).returncode == 0
    project.gen({"train.yaml": "version: 1\njobs:\n  t:\n    command: echo\n    capture: [mlflow]\n"})
    plan = run_console("plan", "-C", project.root)
    assert "capture: none -> mlflow" in plan.stdout, plan.stdout
