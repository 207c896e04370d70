"""`runner envs list|build|show|prune`: the checked JSON contracts and the error paths."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from runner.envs.cache import env_path, envs_dir

SPEC = """
version: 1
environments:
  tiny:
    requirements: requirements.txt
    variables: {A: "1"}
  host:
    user_managed: true
  boxed:
    docker: {image: "python:3.11-slim"}
computes:
  box: {type: docker}
jobs:
  a: {command: "python -c pass", environment: tiny}
  b: {command: "python -c pass", environment: boxed, compute: box}
"""


@pytest.fixture
def proj(project: Any) -> Any:
    project.gen({"train.yaml": SPEC, "requirements.txt": f"# {uuid.uuid4().hex}\n"})
    return project


def test_list_json_contract(cli: Any, proj: Any) -> None:
    result = cli("envs", "list", "-C", proj.root, "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [set(r) for r in rows] == [{"name", "fingerprint", "kind", "cached", "location"}] * 3
    by_name = {r["name"]: r for r in rows}
    assert {n: r["kind"] for n, r in by_name.items()} == {"boxed": "docker", "host": "user_managed", "tiny": "venv"}
    assert by_name["tiny"]["cached"] is False and len(by_name["tiny"]["fingerprint"]) == 64
    assert by_name["tiny"]["location"] == str(env_path(by_name["tiny"]["fingerprint"]))


def test_build_json_contract_then_hit(cli: Any, proj: Any) -> None:
    # Named: `boxed` is a docker env on python:3.11-slim, which CI cannot pull (tests/envs/test_docker_images.py).
    built = cli("envs", "build", "tiny", "host", "-C", proj.root, "--json")
    assert built.code == 0, built.err
    rows = json.loads(built.out)
    assert [set(r) for r in rows] == [{"name", "fingerprint", "cache", "seconds"}]
    assert (rows[0]["name"], rows[0]["cache"]) == ("tiny", "built") and rows[0]["seconds"] >= 0
    again = json.loads(cli("envs", "build", "tiny", "-C", proj.root, "--json").out)
    assert again[0]["cache"] == "hit" and again[0]["fingerprint"] == rows[0]["fingerprint"]
    listed = {r["name"]: r for r in json.loads(cli("envs", "list", "-C", proj.root, "--json").out)}
    assert listed["tiny"]["cached"] is True


def test_build_with_spec_file_option(cli: Any, project: Any) -> None:
    project.gen({"other.yaml": "version: 1\nenvironments:\n  bare: {}\n"})
    result = cli("envs", "build", "-f", project / "other.yaml", "--json")
    assert result.code == 0, result.err
    assert [r["name"] for r in json.loads(result.out)] == ["bare"]


def test_show_prints_components_and_fingerprint(cli: Any, proj: Any) -> None:
    shown = json.loads(cli("envs", "show", "tiny", "-C", proj.root, "--json").out)
    assert shown["name"] == "tiny" and shown["kind"] == "venv" and len(shown["fingerprint"]) == 64
    assert set(shown["components"]) == {"python", "requirements"}
    text = cli("envs", "show", "tiny", "-C", proj.root)
    assert text.code == 0 and shown["fingerprint"] in text.out and "requirements: sha256:" in text.out


def test_unknown_environment_is_one_line_exit_1(cli: Any, proj: Any) -> None:
    result = cli("envs", "show", "nope", "-C", proj.root)
    assert result.code == 1 and result.out == ""
    assert result.err.strip() == "environment 'nope' is not defined in train.yaml (defined: boxed, host, tiny)"
    assert cli("envs", "build", "nope", "-C", proj.root, "--json").code == 1


def test_missing_python_is_exit_1_without_traceback(cli: Any, project: Any) -> None:
    project.gen({"train.yaml": 'version: 1\nenvironments:\n  old: {python: "3.1"}\n'})
    result = cli("envs", "build", "-C", project.root)
    assert result.code == 1 and "Python 3.1 is not installed on this machine" in result.err
    assert "Traceback" not in result.err


def test_build_goes_on_after_a_failure_and_lists_every_error(cli: Any, project: Any) -> None:
    project.gen({"train.yaml": 'version: 1\nenvironments:\n  a-old: {python: "3.1"}\n  b-ok: {pip: []}\n'
                               '  c-gone: {user_managed: true, interpreter: /no/such/python}\n'})
    result = cli("envs", "build", "--json", "-C", project.root)
    assert result.code == 1
    assert [row["name"] for row in json.loads(result.out)] == ["b-ok"]  # built although a-old failed first
    assert "a-old" in result.err and "c-gone" in result.err and "Traceback" not in result.err
    listed = {r["name"]: r["cached"] for r in json.loads(cli("envs", "list", "--json", "-C", project.root).out)}
    assert listed == {"a-old": False, "b-ok": True, "c-gone": False}  # a missing interpreter is not "cached"


def _age(digest: str, days: float) -> None:
    stamp = time.time() - days * 86400
    (envs_dir() / f"{digest}.used").write_text(json.dumps({"version": 1, "last_used": stamp}))
    os.utime(envs_dir() / f"{digest}.used", (stamp, stamp))


def test_prune_removes_only_old_envs(cli: Any, proj: Any) -> None:
    digest = json.loads(cli("envs", "build", "tiny", "-C", proj.root, "--json").out)[0]["fingerprint"]
    _age(digest, 40)
    dry = cli("envs", "prune", "--older-than", "30d", "--dry-run", "-C", proj.root)
    assert dry.code == 0 and f"would remove {digest[:12]}" in dry.out and env_path(digest).is_dir()
    kept = cli("envs", "prune", "--older-than", "60d", "-C", proj.root)
    assert kept.code == 0 and digest[:12] not in kept.out and env_path(digest).is_dir()
    gone = cli("envs", "prune", "--older-than", "30d", "-C", proj.root)
    assert gone.code == 0 and f"removed {digest[:12]}" in gone.out and not env_path(digest).exists()
    rebuilt = json.loads(cli("envs", "build", "tiny", "-C", proj.root, "--json").out)
    assert rebuilt[0]["cache"] == "built"


def test_prune_bad_age_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    result = cli("envs", "prune", "--older-than", "soon")
    assert result.code == 1 and "use a number and a unit" in result.err


def test_console_script_build_keeps_stdout_json_only(proj: Any) -> None:
    from tests.conftest import run_console

    done = run_console("envs", "build", "tiny", "host", "--json", cwd=proj.root)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)  # progress went to stderr, never here
    assert [(r["name"], r["cache"]) for r in rows] == [("tiny", "built")]
