"""Which interpreter an env runs on: found by uv, never downloaded; user_managed builds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.envs import env_fingerprint, materialise
from runner.envs.errors import CondaNotFound, EnvError, PythonNotFound
from runner.envs.python import installed_pythons
from runner.envs.uvcmd import uv_bin, uv_environ
from runner.spec.types import Spec

MakeSpec = Callable[..., Spec]


def _installed() -> list[str]:
    return [version for version, _ in installed_pythons(uv_environ(), uv_bin())]


def test_missing_python_version_names_what_was_found(make_spec: MakeSpec, tmp_path: Path) -> None:
    found = _installed()
    if any(v.startswith("3.9.") for v in found):
        pytest.skip("this machine has a Python 3.9")
    with pytest.raises(PythonNotFound) as caught:
        materialise(make_spec(e={"python": "3.9"}), "e", tmp_path)
    message = str(caught.value)
    assert message.startswith("environment e: Python 3.9 is not installed on this machine (found: ")
    assert "{}.{}.{}".format(*sys.version_info[:3]) in message or found[0] in message


def test_python_version_found_on_the_machine(make_spec: MakeSpec, tmp_path: Path) -> None:
    minor = "{}.{}".format(*sys.version_info[:2])
    done = materialise(make_spec(e={"python": minor}), "e", tmp_path)
    version = subprocess.run([done.python, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == str(tuple(sys.version_info[:2]))


def test_no_conda_on_path_is_a_clear_error(make_spec: MakeSpec, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env.yml").write_text("dependencies: [python=3.11]\n")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(CondaNotFound, match="needs conda, mamba or micromamba on PATH, and none was found"):
        materialise(make_spec(e={"conda": "env.yml"}), "e", tmp_path)


def test_default_environment_runs_on_runner_interpreter(make_spec: MakeSpec, tmp_path: Path) -> None:
    done = materialise(make_spec(), None, tmp_path)
    assert (done.python, done.cache, done.location) == (sys.executable, "none", sys.executable)


def test_user_managed_interpreter_by_path(make_spec: MakeSpec, tmp_path: Path) -> None:
    link = tmp_path / "venvbin" / "python"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    spec = make_spec(host={"user_managed": True, "interpreter": "venvbin/python"})
    done = materialise(spec, "host", tmp_path)
    assert done.python == str(link) and done.bin_dir == str(link.parent) and done.cache == "none"


def test_user_managed_interpreter_by_name_on_path(make_spec: MakeSpec, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "mypython").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    fp = env_fingerprint(make_spec(host={"user_managed": True, "interpreter": "mypython"}), "host", tmp_path)
    assert fp.components["interpreter"] == str(folder / "mypython")


def test_user_managed_missing_interpreter_is_a_clear_error(make_spec: MakeSpec, tmp_path: Path) -> None:
    spec = make_spec(host={"user_managed": True, "interpreter": "/nonexistent/python"})
    assert env_fingerprint(spec, "host", tmp_path).components["python"] == "not found"
    with pytest.raises(EnvError, match="interpreter /nonexistent/python does not exist"):
        materialise(spec, "host", tmp_path)


def test_user_managed_interpreter_that_does_not_run(make_spec: MakeSpec, tmp_path: Path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(EnvError, match="does not run"):
        materialise(make_spec(host={"user_managed": True, "interpreter": str(broken)}), "host", tmp_path)
