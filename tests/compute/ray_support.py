"""A Ray cluster for tests: the head `.ci/run` starts (RUNNER_TEST_RAY_ADDRESS).

Without it (a developer without Ray) the tests skip; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest


def ray_address() -> str:
    address = os.environ.get("RUNNER_TEST_RAY_ADDRESS")
    why = None if address else "RUNNER_TEST_RAY_ADDRESS is not set (run the tests through .ci/run)"
    if address:
        from runner.compute.ray import RayError, check_cluster

        try:
            check_cluster(address)
        except RayError as exc:
            why = str(exc)
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"ray tests must run under CI=true: {why}")
        pytest.skip(why)
    return str(address)


def remote_id(root: Path, run_id: str) -> str:
    with sqlite3.connect(root / ".runner" / "state.db") as db:
        return db.execute("SELECT remote_id FROM runs WHERE id = ?", (run_id,)).fetchone()[0]


def job_status(address: str, submission_id: str) -> str:
    from ray.job_submission import JobSubmissionClient

    return str(JobSubmissionClient(address).get_job_status(submission_id).value)


SPEC = """
version: 1
computes:
  cluster: {type: ray, address: "ADDRESS", storage: "file://STORAGE", cpus: 0.5}
environments:
  e:
    variables: {GO_FILE: "GO"}
    secrets: [RUNNER_TEST_RAY_SECRET]
datasets:
  d: {path: data.txt}
jobs:
  train:
    script: train.py
    args: [--data, "${{inputs.d}}", --out, "${{outputs}}"]
    inputs: {d: {dataset: d}}
    environment: e
    compute: cluster
EXTRA
models:
  m: {job: train, path: outputs/model.txt}
"""

# Waits for GO_FILE (a path on this machine: the test head is local) when the variable is set.
TRAIN = """
import argparse, os, sys, time
from runner import tracking
p = argparse.ArgumentParser()
p.add_argument("--data")
p.add_argument("--out")
a = p.parse_args()
print("started", open(a.data).read().strip(), flush=True)
print("secret", "given" if os.environ.get("RUNNER_TEST_RAY_SECRET", "")[::-1] == "eulav-t3rc3s" else "missing")
go = os.environ.get("GO_FILE")
if os.path.exists(os.path.join(os.path.dirname(go or "."), "leak")):  # a script that prints its secret
    print("leaking", os.environ.get("RUNNER_TEST_RAY_SECRET"), flush=True)
    tracking.log_params({"token": os.environ.get("RUNNER_TEST_RAY_SECRET")})
tracking.log("acc", 0.9)
while go and not os.path.exists(go):
    time.sleep(0.2)
if os.path.exists(os.path.join(os.path.dirname(go or "."), "fail")):
    raise SystemExit("asked to fail")
with open(os.path.join(a.out, "model.txt"), "w") as out:
    out.write("weights")
tracking.log("acc", 0.95)
print("done", flush=True)
"""


def make_project(project: Any, address: str, tmp: Path, *, extra: str = "", go: bool = True) -> Path:
    """The project, its storage folder; returns the go file (the job waits for it when `go`)."""
    go_file = tmp / "go"
    text = (SPEC.replace("ADDRESS", address).replace("STORAGE", str(tmp / "storage"))
            .replace("EXTRA", extra).replace('"GO"', f'"{go_file}"' if go else '""'))
    project.gen({"train.yaml": text, "train.py": TRAIN, "data.txt": "some data\n"})
    project.commit()
    return go_file
