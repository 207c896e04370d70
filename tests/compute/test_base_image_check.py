"""A docker environment's base image that is neither local nor pullable: plan says so, apply
fails the job before creating a run (issue 18, item 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.docker_support import base_image
from tests.runs.helpers import apply_json, runs_json


def _project(project: Any, image: str) -> None:
    project.gen({"src": {"ok.py": "print('fine')\n"}, "train.yaml": f"""
        version: 1
        environments:
          boxenv: {{docker: {{image: {json.dumps(image)}}}}}
        computes:
          box: {{type: docker, network: none}}
        jobs:
          boxed: {{code: src, command: python ok.py, environment: boxenv, compute: box}}
          after: {{code: src, command: python ok.py, environment: boxenv, compute: box, needs: [boxed]}}
          plain: {{code: src, command: python ok.py}}
        """})
    project.commit()


@pytest.mark.docker
@pytest.mark.parametrize("image", ["nonexistent.invalid/x:1", "nonexistent.invalid/team/base:2024-01"])
def test_plan_names_a_base_image_that_cannot_be_pulled(project: Any, cli: Any, image: str) -> None:
    base_image()  # skips (fails under CI=true) without a daemon
    _project(project, image)

    planned = cli("plan", "-C", project.root)

    assert planned.code == 0, planned.err
    line = next(text for text in planned.out.splitlines() if text.startswith("+ run boxed"))
    assert f"docker image {image} is not present and cannot be pulled (" in line
    assert line.endswith("); build or pull it, or set environments.boxenv.docker.image)")
    assert "nonexistent.invalid" in line.split("cannot be pulled (", 1)[1]  # the daemon's own words


@pytest.mark.docker
def test_apply_fails_the_job_before_creating_a_run(project: Any, cli: Any) -> None:
    base_image()
    _project(project, "nonexistent.invalid/x:1")

    code, result = apply_json(cli, project)

    by_job = {r["job"]: r for r in result["runs"]}
    assert code == 1
    assert by_job["boxed"]["status"] == "failed" and by_job["boxed"]["id"] is None
    assert by_job["boxed"]["detail"].startswith("docker image nonexistent.invalid/x:1 is not present and cannot "
                                                "be pulled (")
    assert by_job["after"]["status"] == "skipped"
    assert by_job["plain"]["status"] == "completed"
    assert [run["job"] for run in runs_json(project)] == ["plain"]  # no failed run was created


@pytest.mark.docker
def test_a_local_base_image_is_not_a_problem(project: Any, cli: Any) -> None:
    image = base_image()
    _project(project, image)

    planned = cli("plan", "-C", project.root)

    assert planned.code == 0 and "cannot be pulled" not in planned.out and "+ run boxed" in planned.out
