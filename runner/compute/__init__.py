"""Where runs execute. Every target implements `runner.compute.base.Target`.

May import: runner.envs (the tracking shim, the docker client), runner.spec (its types),
runner.state, and the foundation modules.
"""

from __future__ import annotations

from runner.compute.base import Launch, Target

__all__ = ["Launch", "Target", "target_for"]


def target_for(kind: str) -> Target:
    if kind == "local":
        from runner.compute.local import LocalTarget

        return LocalTarget()
    if kind == "docker":
        from runner.compute.docker import DockerTarget

        return DockerTarget()
    if kind == "ray":
        from runner.compute.ray import RayTarget

        return RayTarget()
    raise ValueError(f"unknown compute type {kind!r}")
