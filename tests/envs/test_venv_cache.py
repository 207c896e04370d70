"""The host env cache: built once per fingerprint, reused, never half-built, shared by processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.envs import env_fingerprint, materialise
from runner.envs.cache import MARKER, env_path, log_path, read_marker
from runner.spec.types import Spec
from runner.state.layout import shared_cache

from .conftest import SlowPackage

MakeSpec = Callable[..., Spec]

CHILD = """
import json, sys
from pathlib import Path
from runner.spec import from_data
from runner.spec.types import Spec
from runner.envs import materialise
spec = from_data(json.loads(sys.argv[1]))
done = materialise(spec, "e", Path(sys.argv[2]), log=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps({"cache": done.cache, "location": done.location}))
"""


def run_python(python: str, code: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-c", code], check=False, capture_output=True, text=True,
                          timeout=60, **kw)


def test_cache_dir_follows_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert Path(shared_cache()) == tmp_path / "elsewhere"


def test_miss_builds_then_hit_reuses(make_spec: MakeSpec, tmp_path: Path,
                                     unique_requirements: Callable[..., Path]) -> None:
    unique_requirements()
    spec = make_spec(e={"requirements": "requirements.txt"})
    steps: list[str] = []
    first = materialise(spec, "e", tmp_path, log=steps.append)
    second = materialise(spec, "e", tmp_path)
    assert (first.cache, second.cache) == ("built", "hit")
    assert first.location == second.location == str(Path(shared_cache()) / "envs" / env_fingerprint(spec, "e", tmp_path).digest)
    assert "creating the virtual environment" in steps and log_path(Path(first.location).name).is_file()
    assert run_python(first.python, "import sys; print(sys.prefix)").stdout.strip() == first.location
    assert first.bin_dir == str(Path(first.python).parent)


def test_requirements_change_rebuilds_variables_do_not(make_spec: MakeSpec, tmp_path: Path,
                                                       unique_requirements: Callable[..., Path]) -> None:
    unique_requirements()
    base = {"requirements": "requirements.txt"}
    first = materialise(make_spec(e=base), "e", tmp_path)
    again = materialise(make_spec(e={**base, "variables": {"X": "1"}}), "e", tmp_path)
    assert again.cache == "hit" and again.location == first.location
    unique_requirements()
    changed = materialise(make_spec(e=base), "e", tmp_path)
    assert changed.cache == "built" and changed.location != first.location


def test_marker_is_written_last_and_versioned(make_spec: MakeSpec, tmp_path: Path,
                                              unique_requirements: Callable[..., Path]) -> None:
    unique_requirements()
    done = materialise(make_spec(e={"requirements": "requirements.txt"}), "e", tmp_path)
    marker = json.loads((Path(done.location) / MARKER).read_text())
    assert marker["version"] == 1 and marker["fingerprint"] == Path(done.location).name
    assert marker["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert set(marker) >= {"components", "created_at", "kind"}


def test_folder_without_marker_is_never_used(make_spec: MakeSpec, tmp_path: Path,
                                             unique_requirements: Callable[..., Path]) -> None:
    unique_requirements()
    spec = make_spec(e={"requirements": "requirements.txt"})
    fake = env_path(env_fingerprint(spec, "e", tmp_path).digest)
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").write_text("not a python")
    done = materialise(spec, "e", tmp_path)
    assert done.cache == "built" and read_marker(fake) is not None
    assert run_python(done.python, "print('ok')").stdout == "ok\n"


def test_local_package_installs_from_project_relative_path(make_spec: MakeSpec, tmp_path: Path,
                                                           slow_package: SlowPackage) -> None:
    rel = os.path.relpath(slow_package.path, tmp_path)
    done = materialise(make_spec(e={"pip": [f"./{rel}"]}), "e", tmp_path)
    name = slow_package.path.name
    assert run_python(done.python, f"import {name}; print({name}.VALUE)").stdout == "42\n"


def _child(spec: Spec, root: Path, **kw: Any) -> subprocess.Popen[str]:
    payload = json.dumps(spec.as_dict())
    return subprocess.Popen([sys.executable, "-c", CHILD, payload, str(root)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_processes_two_projects_build_once(make_spec: MakeSpec, tmp_path: Path,
                                               unique_requirements: Callable[..., Path],
                                               slow_package: SlowPackage) -> None:
    roots = [tmp_path / "one", tmp_path / "two"]
    content = f"{slow_package.path}\n"
    for root in roots:  # identical requirements files in two projects: one fingerprint
        root.mkdir()
    (roots[0] / "requirements.txt").write_text(f"# {tmp_path.name}\n{content}")
    (roots[1] / "requirements.txt").write_text(f"# {tmp_path.name}\n{content}")
    spec = make_spec(e={"requirements": "requirements.txt"})
    slow_package.slow(4)
    first = _child(spec, roots[0])
    _wait_for(lambda: slow_package.started, "the first build to start")
    second = _child(spec, roots[1])
    results = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], results
    outcomes = [json.loads(out) for out, _ in results]
    assert [o["cache"] for o in outcomes] == ["built", "hit"]
    assert outcomes[0]["location"] == outcomes[1]["location"]
    assert f"waiting for process {first.pid}" in results[1][1]


def test_killed_build_is_never_used_and_rebuilt(make_spec: MakeSpec, tmp_path: Path,
                                                unique_requirements: Callable[..., Path],
                                                slow_package: SlowPackage) -> None:
    unique_requirements(lines=f"{slow_package.path}\n")
    spec = make_spec(e={"requirements": "requirements.txt"})
    digest = env_fingerprint(spec, "e", tmp_path).digest
    slow_package.slow(120)
    child = _child(spec, tmp_path, start_new_session=True)
    _wait_for(lambda: slow_package.started, "the build to reach the package install")
    os.killpg(child.pid, signal.SIGKILL)  # the build and its uv, as a killed terminal would
    child.communicate(timeout=30)
    staging = list((Path(shared_cache()) / "envs").glob(f".tmp-{digest}-*"))
    assert staging and not env_path(digest).exists()
    slow_package.fast()
    done = materialise(spec, "e", tmp_path)
    assert done.cache == "built" and read_marker(Path(done.location)) is not None
    assert not any(path.exists() for path in staging)
    name = slow_package.path.name
    assert run_python(done.python, f"import {name}; print({name}.VALUE)").stdout == "42\n"


def test_pypi_package_installs_through_the_host_ca(make_spec: MakeSpec, tmp_path: Path,
                                                   unique_requirements: Callable[..., Path]) -> None:
    unique_requirements(lines="six\n")  # a tiny pure package from the real index, through the proxy
    done = materialise(make_spec(e={"requirements": "requirements.txt"}), "e", tmp_path)
    assert run_python(done.python, "import six; print(six.__name__)").stdout == "six\n"


def test_failed_build_names_its_log_and_leaves_nothing(make_spec: MakeSpec, tmp_path: Path,
                                                       unique_requirements: Callable[..., Path]) -> None:
    from runner.envs.errors import EnvBuildFailed

    (tmp_path / "no-such-package").mkdir()  # a folder, but not a Python project: uv fails on it
    (tmp_path / "no-such-package" / "README").write_text("nothing to build\n")
    unique_requirements(lines="./no-such-package\n")
    spec = make_spec(e={"requirements": "requirements.txt"})
    digest = env_fingerprint(spec, "e", tmp_path).digest
    with pytest.raises(EnvBuildFailed) as caught:
        materialise(spec, "e", tmp_path)
    assert str(log_path(digest)) in str(caught.value) and "no-such-package" in log_path(digest).read_text()
    assert not env_path(digest).exists() and not list((Path(shared_cache()) / "envs").glob(f".tmp-{digest}-*"))
