"""An environment as a Ray job's `runtime_env`: what travels to the cluster, and what cannot.

A ray compute builds nothing on this machine. The job runs in the cluster's Python; the
environment's `pip:` list and the lines of its `requirements:` file become the
runtime_env's `pip` (Ray installs them in a virtualenv on the node, on top of the
cluster's packages); `variables:`, `secrets:` and runner's RUNNER_* variables become its
`env_vars` (secrets are read from runner's environment at submission and written nowhere
else). `python:` is checked by the entry wrapper against the cluster's Python. A `docker:`
or `conda:` environment, or a user_managed `interpreter:`, is an error: those name things
on one machine, not on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError

if TYPE_CHECKING:
    from runner.compute.base import Launch
    from runner.spec.types import Spec


@dataclass(frozen=True)
class RayEnv:
    """What `RunContext.materialise` gives a ray run: nothing built here, settings for the cluster."""

    runtime: dict[str, Any] = field(default_factory=dict)
    python: str = "python"  # the cluster's (or its runtime_env's) interpreter, on its PATH
    bin_dir: str | None = None


def ray_environment(spec: Spec, name: str | None, root: Path) -> RayEnv:
    env = spec.environments[name] if name else None
    if env is None:
        return RayEnv()
    pip = list(env.pip) + (_requirements(root / env.requirements) if env.requirements else [])
    return RayEnv(runtime={"pip": pip, "python": env.python})


def _requirements(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RunnerError(f"cannot read {path}: {exc.strerror}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def runtime_env(launch: Launch) -> dict[str, Any]:
    """The submission's runtime_env: the run folder as working_dir (less its outputs and logs), pip, variables."""
    found: dict[str, Any] = {"working_dir": str(launch.run_dir), "env_vars": dict(launch.env),
                             "excludes": ["/outputs/", "/logs/"]}
    if launch.runtime.get("pip"):
        found["pip"] = list(launch.runtime["pip"])
    return found
