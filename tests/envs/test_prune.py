"""`prune_envs`: ages, leftovers of killed builds, and envs a build is holding."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.envs import env_fingerprint, materialise
from runner.envs.cache import _BuildLock, env_path, envs_dir
from runner.envs.errors import EnvError
from runner.envs.prune import UNITS, parse_age, prune_envs
from runner.spec.types import Spec
from tests.runs.helpers import runner_cmd, runs_json, start_apply, wait_for


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(UNITS)))
def test_parse_age(number: int, unit: str) -> None:
    assert parse_age(f"{number}{unit}") == number * UNITS[unit]


@given(st.text(max_size=8).filter(lambda t: not t.strip().rstrip("smhdw").strip().replace(".", "", 1).isdigit()))
def test_parse_age_rejects_garbage(text: str) -> None:
    with pytest.raises(EnvError):
        parse_age(text)


def _one_env(make_spec: Callable[..., Spec], root: Path, unique: Callable[..., Path]) -> tuple[Spec, str]:
    unique(root)
    spec = make_spec(e={"requirements": "requirements.txt"})
    materialise(spec, "e", root)
    return spec, env_fingerprint(spec, "e", root).digest


def test_recent_envs_stay(make_spec: Callable[..., Spec], tmp_path: Path,
                          unique_requirements: Callable[..., Path]) -> None:
    _, digest = _one_env(make_spec, tmp_path, unique_requirements)
    assert digest not in [p.fingerprint for p in prune_envs(3600)]
    assert env_path(digest).is_dir()


def test_envs_held_by_a_build_are_kept(make_spec: Callable[..., Spec], tmp_path: Path,
                                       unique_requirements: Callable[..., Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "own-cache"))  # everything in it ages
    _, digest = _one_env(make_spec, tmp_path, unique_requirements)
    future = time.time() + 10 * 86400
    with _BuildLock(digest, lambda _m: None):
        held = [p for p in prune_envs(86400, now=future) if p.fingerprint == digest]
    assert held and not held[0].removed and env_path(digest).is_dir()
    removed = [p for p in prune_envs(86400, now=future) if p.fingerprint == digest]
    assert removed[0].removed and not env_path(digest).exists()


def test_half_built_leftovers_go_whatever_the_age(tmp_path: Path) -> None:
    leftover = envs_dir() / f".tmp-{'ab' * 32}-12345678"
    (leftover / "bin").mkdir(parents=True)
    pruned = [p for p in prune_envs(10**9) if p.location == str(leftover)]
    assert pruned and pruned[0].last_used is None and not leftover.exists()


def test_an_env_a_running_job_uses_is_kept(project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real apply holds its env while the job runs; prune (even --older-than 0s) keeps it,
    and the job really runs in the env's interpreter."""
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "own-cache"))
    go = tmp_path / "go"
    project.gen({"train.yaml": "version: 1\nenvironments:\n  e: {pip: []}\njobs:\n  long:\n"
                               "    command: python wait.py\n    environment: e\n",
                 "wait.py": f"import pathlib, sys, time\nprint(sys.prefix, flush=True)\n"
                            f"while not pathlib.Path({str(go)!r}).exists():\n    time.sleep(0.05)\n"})
    apply = start_apply(project)
    try:
        wait_for(lambda: any(r["status"] == "running" for r in runs_json(project)), what="the run to start")
        done = subprocess.run([*runner_cmd(), "envs", "prune", "--older-than", "0s", "--json"],
                              capture_output=True, text=True, check=True)
        pruned = json.loads(done.stdout)
        assert pruned and not any(p["removed"] for p in pruned), pruned
    finally:
        go.write_text("")
        out, _ = apply.communicate(timeout=120)
    assert apply.returncode == 0, out
    assert str(tmp_path / "own-cache") in out  # the job ran in the cached env, which is still there
    after = json.loads(subprocess.run([*runner_cmd(), "envs", "prune", "--older-than", "0s", "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    assert after and all(p["removed"] for p in after)  # nothing holds it once the apply ended
