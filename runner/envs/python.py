"""Finding interpreters: the one a user_managed env names, and the one a `python: "3.x"` asks for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from runner.envs.errors import EnvError, PythonNotFound
from runner.state.layout import interpreter_versions

_VERSION_CODE = "import sys; print('{}.{}.{}'.format(*sys.version_info[:3]))"


def managed_interpreter(interpreter: str | None, root: Path) -> str:
    """The absolute path of a user_managed interpreter (default: the one running runner).

    A bare name (`python3.10`) is looked up on PATH, a relative path is read from the
    project root. The path is not resolved: a venv's `bin/python` is a symlink whose
    target would run outside the venv.
    """
    if interpreter is None:
        return os.path.abspath(sys.executable)
    if "/" not in interpreter and os.sep not in interpreter:
        return shutil.which(interpreter) or interpreter
    return os.path.abspath(root / interpreter)


def probe_version(interpreter: str) -> str | None:
    """`major.minor.micro` of an interpreter, remembered by its file's identity (size, mtime).

    The fingerprint runs on every plan; the probe's subprocess runs once per interpreter.
    """
    try:
        st = os.stat(interpreter)
    except OSError:
        return None
    key = f"{os.path.realpath(interpreter)}|{st.st_size}|{st.st_mtime_ns}"
    memo = _load_memo()
    if key not in memo:
        version = _run_version(interpreter)
        if version is None:
            return None
        memo[key] = version
        _save_memo(memo)
    return memo[key]


def check_interpreter(interpreter: str, name: str) -> str:
    """The interpreter's version, or an EnvError saying what is wrong with it."""
    if not os.path.isfile(interpreter):
        raise EnvError(f"environment {name}: interpreter {interpreter} does not exist; "
                       "fix `interpreter:` in train.yaml or install it")
    version = probe_version(interpreter)
    if version is None:
        raise EnvError(f"environment {name}: interpreter {interpreter} does not run "
                       "(`-c 'import sys'` failed); fix `interpreter:` in train.yaml")
    return version


def find_python(version: str, env: Mapping[str, str], uv: str) -> str:
    """The interpreter uv's discovery picks for `version`; never downloaded."""
    done = subprocess.run([uv, "python", "find", "--no-python-downloads", version], check=False,
                          env=dict(env), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    path = done.stdout.strip()
    if done.returncode == 0 and path:
        return path
    found = installed_pythons(env, uv)
    listing = ", ".join(f"{v} ({p})" for v, p in found) or "none"
    raise PythonNotFound(f"Python {version} is not installed on this machine (found: {listing}); "
                         f"install it (e.g. `uv python install {version}`) or change `python:`")


def installed_pythons(env: Mapping[str, str], uv: str) -> list[tuple[str, str]]:
    """(version, path) of the interpreters uv finds, one per version."""
    done = subprocess.run([uv, "python", "list", "--only-installed", "--output-format", "json"],
                          check=False, env=dict(env), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    try:
        entries = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return []
    seen: dict[str, str] = {}
    for entry in entries:  # shims and symlinks repeat a version: name its first path only
        seen.setdefault(str(entry.get("version")), str(entry.get("path")))
    return list(seen.items())


def _run_version(interpreter: str) -> str | None:
    try:
        done = subprocess.run([interpreter, "-c", _VERSION_CODE], check=False, capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _memo_path() -> Path:
    return Path(interpreter_versions())


def _load_memo() -> dict[str, str]:
    """The remembered versions, if the file verifies (runner.state.cachefile): a damaged one
    is a miss (probe again), never a different version."""
    from runner.state.cachefile import read_cache

    data = read_cache(str(_memo_path()), _memo_key())
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _save_memo(memo: dict[str, str]) -> None:
    from runner.state.cachefile import write_cache

    write_cache(str(_memo_path()), _memo_key(), memo)


def _memo_key() -> str:
    from runner.state.cachefile import cache_key

    return cache_key("interpreters", _VERSION_CODE)


def running_python() -> str:
    """The version of the Python running runner: `3.11.7`."""
    return "{}.{}.{}".format(*sys.version_info[:3])
