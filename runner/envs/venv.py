"""Host virtual environments built with uv: `python:`, `pip:` and `requirements:`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner.envs.cache import BuildFn, Log
from runner.envs.python import find_python
from runner.envs.uvcmd import run_logged, uv_bin, uv_environ

if TYPE_CHECKING:
    from runner.spec.types import Environment


def venv_builder(env: Environment, project_root: Path, log: Log) -> BuildFn:
    """A build function for `cache.ensure`: interpreter -> relocatable venv -> packages."""

    def build(target: Path, handle: IO[str], logfile: Path) -> dict[str, Any]:
        uv, uv_env = uv_bin(), uv_environ()
        log(f"finding Python {env.python}" if env.python else "using runner's Python")
        base = find_python(env.python, uv_env, uv) if env.python else _running_base()
        log("creating the virtual environment")
        run_logged([uv, "venv", "--relocatable", "--no-python-downloads", "--python", base, str(target)],
                   handle, logfile, cwd=project_root, env=uv_env, what="creating the venv")
        install_packages(env, target, handle, logfile, project_root=project_root, log=log)
        return {"python": venv_version(target), "base_interpreter": base}

    return build


def install_packages(env: Environment, target: Path, handle: IO[str], logfile: Path, *,
                     project_root: Path, log: Log) -> None:
    """`pip:` then `requirements:` into the env at `target`, in one uv resolution."""
    args = [*env.pip, *(["-r", env.requirements] if env.requirements else [])]
    if not args:
        return
    uv, uv_env = uv_bin(), uv_environ()
    log(f"installing {_describe(env)}")
    # cwd is the project root: relative paths in `pip:` and requirements mean project files.
    run_logged([uv, "pip", "install", "--python", str(target / "bin" / "python"), *args],
               handle, logfile, cwd=project_root, env=uv_env, what="installing packages")


def venv_version(target: Path) -> str:
    """The venv's Python version as uv recorded it in pyvenv.cfg."""
    try:
        lines = (target / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return ""


def _running_base() -> str:
    # runner often runs from a venv; the new env is made from the interpreter beneath it.
    return getattr(sys, "_base_executable", None) or sys.executable


def _describe(env: Environment) -> str:
    parts = [f"{len(env.pip)} package{'s' if len(env.pip) != 1 else ''}"] if env.pip else []
    parts += [env.requirements] if env.requirements else []
    return " and ".join(parts)
