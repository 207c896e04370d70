"""Item 4 of issue 16: a cache entry is used only if it verifies. Flipping any bit of any of
runner's cache files (`.runner/cache/*`, and the interpreter versions in RUNNER_CACHE_DIR)
gives the same `plan` and `validate` answers as no cache at all, never a different one."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_console

SPEC = """
version: 1
environments:
  host: {user_managed: true, interpreter: "%s"}
jobs:
  prep:
    code: src
    command: python prep.py ${{params.seed}}
    params: {seed: 7, name: alpha}
    environment: host
  train:
    code: src
    script: train.py
    params: {lr: 0.5}
    compute: local
"""


def _cache_files(project) -> list[Path]:
    found = sorted(p for p in (project / ".runner" / "cache").rglob("*") if p.is_file())
    shared = Path(os.environ["RUNNER_CACHE_DIR"])
    found += sorted(p for p in shared.glob("interpreters.*") if p.is_file())
    return found


def _answers(cli, project) -> tuple:
    """Each in its own process: in-process, runner keeps what it read in module globals."""
    validate = run_console("validate", "-C", project.root, "--json")
    plan = run_console("plan", "-C", project.root, "--json")
    return validate.returncode, validate.stdout, plan.returncode, plan.stdout, plan.stderr


@pytest.fixture
def prepared(project, cli):
    project.gen({"train.yaml": SPEC % sys.executable, ".runnerignore": "*.tmp\n!keep.tmp\nbuild/\n",
                 "src": {"prep.py": "print(1)\n", "train.py": "print(2)\n", ".runnerignore": "x/**/\n"}})
    shared = Path(os.environ["RUNNER_CACHE_DIR"])
    for stale in shared.glob("interpreters.*"):
        stale.unlink()
    cli("apply", "-C", project.root)
    for path in _cache_files(project):
        path.unlink()
    fresh = _answers(cli, project)  # no cache at all
    assert fresh[0] == 0 and fresh[2] == 0, fresh
    assert _answers(cli, project) == fresh  # read back from the caches just written
    files = _cache_files(project)
    names = {p.name for p in files}
    assert any(n.startswith("spec-") for n in names) and "ignore-patterns.marshal" in names, names
    assert any(n.startswith("interpreters.") for n in names), names
    saved = {p: p.read_bytes() for p in files}
    yield fresh, saved
    for path, data in saved.items():
        path.write_bytes(data)


def test_flipping_any_bit_of_any_cache_file_changes_no_answer(prepared, cli, project) -> None:
    fresh, saved = prepared
    files = sorted(saved)

    @settings(max_examples=20, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(which=st.integers(0, len(files) - 1), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
    def flipped(which: int, where: float, bit: int) -> None:
        for path, data in saved.items():
            path.write_bytes(data)
        path = files[which]
        data = bytearray(saved[path])
        data[int(where * len(data))] ^= 1 << bit
        path.write_bytes(bytes(data))
        assert _answers(cli, project) == fresh, f"{path.name}: byte {int(where * len(data))} bit {bit}"

    flipped()


def test_a_changed_interpreter_version_is_not_believed(prepared, project) -> None:
    """The flip that once changed a plan silently: one digit of a remembered Python version."""
    fresh, saved = prepared
    memo = next(p for p in saved if p.name.startswith("interpreters."))
    version = "{}.{}.".format(*sys.version_info[:2]).encode()
    data = bytearray(saved[memo])
    at = data.rindex(version) + len(version)  # the value, not the path
    data[at] ^= 1
    memo.write_bytes(bytes(data))
    assert _answers(None, project) == fresh


@pytest.mark.parametrize("cut", [0, 56])
def test_a_truncated_cache_file_is_a_miss(prepared, cli, project, cut) -> None:
    fresh, saved = prepared
    for path, data in saved.items():
        path.write_bytes(data[:cut])
        assert _answers(cli, project) == fresh, path.name
        path.write_bytes(data)
    shutil.rmtree(project / ".runner" / "cache")
    assert _answers(cli, project) == fresh

