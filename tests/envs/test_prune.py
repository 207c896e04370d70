"""`prune_envs`: ages, leftovers of killed builds, and envs a build is holding."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.envs import env_fingerprint, materialise
from runner.envs.cache import _BuildLock, env_path, envs_dir
from runner.envs.errors import EnvError
from runner.envs.prune import UNITS, parse_age, prune_envs
from runner.spec.models import Spec


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
