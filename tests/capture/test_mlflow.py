"""capture: [mlflow] — a script logging through MLflow records into the runner run, live and after."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.capture.support import console_json as _json
from tests.conftest import ProjectDir, run_console

SCRIPT = """
import os, sys, time
import mlflow

joined = os.environ["MLFLOW_RUN_ID"]  # runner's run in its store (MLflow unsets the variable once joined)
with mlflow.start_run() as run:
    assert run.info.run_id == joined
    mlflow.log_param("C", 0.5)
    mlflow.set_tag("team", "vision")
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    with open("notes.txt", "w") as handle:
        handle.write("notes\\n")
    mlflow.log_artifact("notes.txt")
    with mlflow.start_run(run_name="fold-1", nested=True):
        mlflow.log_metric("auc", 0.75)
        mlflow.log_param("fold", 1)
    print("logged", flush=True)
    gate = os.environ.get("GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.1)
"""

AUTOLOG = """
import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

mlflow.sklearn.autolog()
X, y = load_iris(return_X_y=True)
with mlflow.start_run():
    LogisticRegression(max_iter=200).fit(X, y)
"""


def _project(project: ProjectDir, script: str, extra: str = "") -> None:
    project.gen({"train.py": script, "train.yaml": "version: 1\njobs:\n  train:\n    script: train.py\n"
                 f"    capture: [mlflow]\n{extra}"})
    project.commit()


def test_metrics_params_tags_artifacts_and_nested_runs(project: ProjectDir, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    _project(project, SCRIPT, f"    environment: e\nenvironments:\n  e: {{user_managed: true, variables: {{GATE: {gate}}}}}\n")
    apply = subprocess.Popen([str(Path(sys.executable).with_name("runner")), "apply", "-C", str(project.root)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        live: dict[str, Any] = {}
        for _ in range(600):  # while the run waits at its gate, its MLflow metrics are already visible
            done = run_console("runs", "metrics", "train-1", "--json", "-C", project.root)
            live = json.loads(done.stdout) if done.returncode == 0 else {}
            if len(live.get("loss", [])) == 3:
                break
            time.sleep(0.2)
        assert [p["value"] for p in live["loss"]] == [1.0, 0.5, 1.0 / 3], live
        assert _json(project, "runs", "show", "train-1")["status"] == "running"
    finally:
        gate.touch()
        out, _ = apply.communicate(timeout=300)
    assert apply.returncode == 0, out
    metrics = _json(project, "runs", "metrics", "train-1")
    assert [(p["step"], p["value"]) for p in metrics["loss"]] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert [p["value"] for p in metrics["fold-1/auc"]] == [0.75]
    shown = _json(project, "runs", "show", "train-1")
    assert shown["logged_params"] == {"C": "0.5", "fold-1/fold": "1"}
    assert shown["tags"] == {"team": "vision"}
    assert "outputs/mlflow/notes.txt" in {o["path"] for o in shown["outputs"]}


def test_autolog_is_mlflows_own_code(project: ProjectDir) -> None:
    _project(project, AUTOLOG)
    done = run_console("apply", "-C", project.root)
    assert done.returncode == 0, done.stdout + done.stderr
    metrics = _json(project, "runs", "metrics", "train-1")
    # MLflow 3 logs the model first and the metrics after it: a failure there (MLflow only
    # warns) loses both, and what the script printed says why.
    printed = run_console("runs", "logs", "train-1", "-C", project.root).stdout
    assert "training_accuracy_score" in metrics, (sorted(metrics), printed)
    shown = _json(project, "runs", "show", "train-1")
    assert shown["logged_params"]["max_iter"] == "200", printed
    assert any(o["path"].startswith("outputs/mlflow/") and o["path"].endswith("/MLmodel")
               for o in shown["outputs"]), shown["outputs"]  # the logged model, among the outputs


def test_a_tracking_server_set_on_purpose_is_left_alone(project: ProjectDir, tmp_path: Path) -> None:
    elsewhere = (tmp_path / "elsewhere").as_uri()
    _project(project, "import os\nprint('uri', os.environ['MLFLOW_TRACKING_URI'])\n",
             f"    environment: e\nenvironments:\n  e: {{user_managed: true, variables: {{MLFLOW_TRACKING_URI: '{elsewhere}'}}}}\n")
    plan = run_console("plan", "-C", project.root)
    assert "capture mlflow: left alone, environments.e.variables sets MLFLOW_TRACKING_URI" in plan.stdout, plan.stdout
    done = run_console("apply", "-C", project.root)
    assert done.returncode == 0 and f"uri {elsewhere}" in done.stdout, done.stdout
