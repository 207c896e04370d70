"""A commit triggers a background `apply --ref`; commits in quick succession supersede each other."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.project import find_project
from runner.state import open_state
from tests.conftest import ProjectDir, run_console
from tests.triggers.support import git, poll, runs

pytestmark = pytest.mark.slow

SPEC = """
version: 1
jobs:
  train:
    code: src
    script: train.py
"""
TRAIN = """
import os, pathlib, time
time.sleep({sleep})
pathlib.Path(os.environ["RUNNER_OUTPUTS"], "version.txt").write_text({version!r})
"""


def _project(project: ProjectDir, sleep: float) -> Path:
    project.gen({"train.yaml": SPEC, "src": {"train.py": TRAIN.format(sleep=sleep, version="v1")}})
    project.commit("init")
    assert run_console("hook", "install", "-C", project.root).returncode == 0
    return project.root


def _applies(root: Path) -> list[dict[str, Any]]:
    done = run_console("hook", "status", "--json", "--limit", "50", "-C", root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["applies"]


def _all_ended(root: Path) -> list[dict[str, Any]] | None:
    applies = _applies(root)
    return applies if len(applies) == 3 and all(a["finished_at"] for a in applies) else None


def _commit(root: Path, version: str, sleep: float) -> str:
    (root / "src" / "train.py").write_text(TRAIN.format(sleep=sleep, version=version))
    subprocess.run(["git", "commit", "-q", "-am", version], cwd=root, check=True)
    return git(root, "rev-parse", "HEAD")


def test_a_commit_starts_a_background_apply_of_that_commit(project: ProjectDir) -> None:
    root = _project(project, sleep=3)

    sha = _commit(root, "v2", sleep=3)
    at_return = runs(root)

    assert all(r["status"] != "completed" for r in at_return), "git commit waited for the run"
    run = poll(lambda: next((r for r in runs(root) if r["status"] == "completed"), None), what="the run")
    assert run["git"]["commit"] == sha and run["git"]["dirty"] is False
    record = poll(lambda: next((a for a in _applies(root) if a["finished_at"]), None), what="the record")
    assert (record["commit"], record["status"], record["exit_code"]) == (sha, "completed", 0)
    log = Path(record["log"])
    assert log == root / ".runner" / "hooks" / f"{sha}.log"
    assert "completed" in log.read_text()


def test_a_newer_commit_supersedes_applies_that_have_not_started(project: ProjectDir) -> None:
    root = _project(project, sleep=0)
    state = open_state(find_project(root))
    with state.lock():  # a long apply holds the project: three commits queue behind it
        shas = [_commit(root, f"v{n}", sleep=0) for n in (2, 3, 4)]
        poll(lambda: len(_applies(root)) == 3, what="three queued applies")

    ended = poll(lambda: _all_ended(root), what="all three applies to end")

    by_commit = {a["commit"]: a for a in ended}
    assert by_commit[shas[2]]["status"] == "completed"
    for older in shas[:2]:
        assert by_commit[older]["status"] == "superseded"
        assert by_commit[older]["detail"] == f"superseded by {shas[2]}"
    assert [r["git"]["commit"] for r in runs(root)] == [shas[2]]
    assert (root / ".runner" / "runs" / runs(root)[0]["id"] / "outputs" / "version.txt").read_text() == "v4"
    state.close()
