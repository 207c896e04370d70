"""Running uv: where its binary is, the environment it gets, and a run that keeps a log.

The environment is a feature, not a detail: behind a TLS-inspecting proxy uv needs the
host's CA bundle, users' pip settings should keep working, and uv must never download
a Python on its own (a missing version is a clear error instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from runner.envs.ca_bundle import ca_bundle
from runner.envs.errors import EnvBuildFailed, EnvError

PIP_TO_UV = {"PIP_INDEX_URL": "UV_INDEX_URL", "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
             "PIP_FIND_LINKS": "UV_FIND_LINKS"}
# Variables that would point uv at another environment than the one runner names.
_DROPPED = ("VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT", "PYTHONHOME", "PYTHONPATH")


def uv_bin() -> str:
    """The uv binary of the `uv` package runner depends on, else the first on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        raise EnvError("uv is not installed: reinstall runner (it depends on uv) or put uv on PATH")
    return found


def uv_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for uv: CA bundle, pip settings mapped to uv's, no Python downloads."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in _DROPPED}
    bundle = ca_bundle(env)
    if bundle:
        env["SSL_CERT_FILE"] = str(bundle)
    for pip_name, uv_name in PIP_TO_UV.items():
        if env.get(pip_name) and not env.get(uv_name):
            env[uv_name] = _pip_list_to_uv(uv_name, env[pip_name])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.setdefault("UV_NO_PROGRESS", "1")
    return env


def _pip_list_to_uv(uv_name: str, value: str) -> str:
    # pip separates several values with spaces; uv's UV_FIND_LINKS wants commas.
    return ",".join(value.split()) if uv_name == "UV_FIND_LINKS" else value


def run_logged(args: list[str], log: IO[str], log_path: Path, *, cwd: Path,
               env: Mapping[str, str], what: str) -> None:
    """Run a build step with its output appended to the build log; a failure names the log."""
    log.write(f"$ {' '.join(args)}\n")
    log.flush()
    done = subprocess.run(args, check=False, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                          stdout=log, stderr=subprocess.STDOUT)
    log.write(f"[exit {done.returncode}]\n")
    log.flush()
    if done.returncode != 0:
        raise EnvBuildFailed(f"{what} failed (exit {done.returncode}); "
                             f"the build log is {log_path}{_tail(log_path)}")


def _tail(log_path: Path, lines: int = 8) -> str:
    """The last lines the failed step wrote (after its `$ command` line)."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    starts = [i for i, line in enumerate(text) if line.startswith("$ ")]
    step = text[starts[-1] + 1:-1] if starts else text
    tail = [line for line in step[-lines:] if line.strip()]
    return ("\n  " + "\n  ".join(tail)) if tail else ""
