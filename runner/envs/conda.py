"""`conda:` environments, built with micromamba, mamba or conda (whichever is on PATH).

Conda prefixes hold absolute paths, so these are built in place (the marker, written
last, is what makes one usable), not in a staging folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner.envs.ca_bundle import ca_bundle
from runner.envs.cache import BuildFn, Log
from runner.envs.errors import CondaNotFound
from runner.envs.python import probe_version
from runner.envs.uvcmd import run_logged, uv_environ
from runner.envs.venv import install_packages

if TYPE_CHECKING:
    from runner.spec.types import Environment

TOOLS = ("micromamba", "mamba", "conda")


def find_conda() -> tuple[str, str]:
    """(tool name, path) of the first conda-like tool on PATH; none is a clear error."""
    for tool in TOOLS:
        path = shutil.which(tool)
        if path:
            return tool, path
    raise CondaNotFound("a `conda:` environment needs conda, mamba or micromamba on PATH, and none "
                        "was found: install one (e.g. micromamba) or use `pip:`/`requirements:` instead")


def conda_builder(env: Environment, project_root: Path, log: Log) -> BuildFn:
    def build(target: Path, handle: IO[str], logfile: Path) -> dict[str, Any]:
        assert env.conda is not None
        tool, path = find_conda()  # only on a miss: a cached env runs without conda
        log(f"creating the conda environment with {tool}")
        create = ["create", "-y"] if tool == "micromamba" else ["env", "create"]
        run_logged([path, *create, "-p", str(target), "-f", env.conda], handle, logfile,
                   cwd=project_root, env=_conda_environ(), what=f"{tool} create")
        install_packages(env, target, handle, logfile, project_root=project_root, log=log)
        return {"python": probe_version(str(target / "bin" / "python")) or "", "tool": tool}

    return build


def _conda_environ() -> dict[str, str]:
    env = uv_environ()
    bundle = ca_bundle(env)
    if bundle:  # conda reads its own variable for the proxy's CA
        env.setdefault("CONDA_SSL_VERIFY", bundle)
        env.setdefault("REQUESTS_CA_BUNDLE", bundle)
    return env
