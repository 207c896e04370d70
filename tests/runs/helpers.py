"""Small projects for apply tests: stdlib-only jobs that run on the default environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from tests.conftest import ProjectDir

PREP = """
import os, shutil, sys
print("prep reading", sys.argv[1])
shutil.copy(sys.argv[1], os.path.join(sys.argv[2], "clean.csv"))
"""
TRAIN = """
import argparse, os
from runner import tracking
p = argparse.ArgumentParser()
p.add_argument("--k")
p.add_argument("--data")
a = p.parse_args()
print("train", a.k, open(a.data).read().strip())
tracking.log("acc", 0.5 if a.k == "linear" else 0.75)
tracking.log_params({"k": a.k})
with open(os.path.join(os.environ["RUNNER_OUTPUTS"], "model.txt"), "w") as out:
    out.write(a.k)
"""
SPEC = """
version: 1
experiment: demo
datasets:
  d: {path: data/d.csv}
jobs:
  prep:
    code: src
    command: python prep.py ${{inputs.raw}} ${{outputs}}
    inputs: {raw: {dataset: d}}
  train:
    code: src
    script: train.py
    args: {--k: "${{params.k}}", --data: "${{inputs.data}}"}
    params: {k: linear}
    inputs: {data: {job: prep, path: outputs/clean.csv}}
    tags: {team: a}
"""


def two_jobs(project: ProjectDir, spec: str = SPEC) -> None:
    project.gen({"train.yaml": spec, "data": {"d.csv": "1,2\n"},
                 "src": {"prep.py": PREP, "train.py": TRAIN}})


def apply_json(cli: Any, project: ProjectDir, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("apply", "-C", project.root, "--json", *args)
    return result.code, json.loads(result.out)


def plan_json(cli: Any, project: ProjectDir, *args: str) -> dict[str, Any]:
    result = cli("plan", "-C", project.root, "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def reasons(plan: dict[str, Any], target: str) -> list[str]:
    return next(a["reasons"] for a in plan["actions"] if a["target"] == target)


def actions(plan: dict[str, Any]) -> dict[str, str]:
    return {a["target"]: a["action"] for a in plan["actions"]}


def runner_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("runner")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]


def start_apply(project: ProjectDir, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*runner_cmd(), "apply", "-C", str(project.root), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def runs_json(project: ProjectDir) -> list[dict[str, Any]]:
    done = subprocess.run([*runner_cmd(), "runs", "list", "-C", str(project.root), "--json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def interrupt(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGINT)
