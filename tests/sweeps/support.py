"""A small swept project: `tune.py` logs `score` (a scripted curve per param) and writes a model."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ProjectDir

TUNE = """
import argparse, os, sys, time
from runner import tracking
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--k", default="a")
p.add_argument("--log", default="")
p.add_argument("--wait", default="")
a = p.parse_args()
if a.log:
    with open(a.log, "a") as f:
        f.write(f"start {a.x} {time.time()}\\n")
if a.wait:
    open(a.wait + ".started", "w").close()
    while not os.path.exists(a.wait):
        time.sleep(0.05)
for step, factor in enumerate(CURVES.get(a.x, [1.0])):
    tracking.log("score", a.x * factor)
    time.sleep(PAUSE)
with open(os.path.join(os.environ["RUNNER_OUTPUTS"], "model.txt"), "w") as out:
    out.write(f"{a.x} {a.k}")
if a.log:
    with open(a.log, "a") as f:
        f.write(f"end {a.x} {time.time()}\\n")
"""


def tune_script(curves: dict[float, list[float]] | None = None, pause: float = 0.0) -> str:
    return f"CURVES = {curves or {}!r}\nPAUSE = {pause!r}\n" + TUNE


def sweep_spec(search: str, *, algorithm: str = "grid", limits: str = "", extra: str = "", args: str = "",
               models: str = "", early: str = "", goal: str = "maximize") -> str:
    return f"""
version: 1
jobs:
  tune:
    code: src
    command: python tune.py --x ${{{{params.x}}}} --k ${{{{params.k}}}} {args}
    params: {{x: 1, k: a}}
    sweep:
      sampling_algorithm: {algorithm}
      seed: 3
      search_space: {search}
      objective: {{primary_metric: score, goal: {goal}}}
      {f"limits: {limits}" if limits else ""}
      {f"early_termination: {early}" if early else ""}
{extra}
{models}
"""


def make(project: ProjectDir, spec: str, curves: dict[float, list[float]] | None = None, pause: float = 0.0) -> None:
    project.gen({"train.yaml": spec, "src": {"tune.py": tune_script(curves, pause)}})
    project.commit("sweep")


def show(cli: Any, project: ProjectDir, job: str = "tune") -> dict[str, Any]:
    result = cli("sweeps", "show", job, "-C", project.root, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def run_ids(cli: Any, project: ProjectDir) -> set[str]:
    result = cli("runs", "list", "-C", project.root, "--json")
    return {r["id"] for r in json.loads(result.out)}
