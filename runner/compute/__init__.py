"""Where runs execute. Every target implements `runner.compute.base.Target`.

May import: runner.envs (the tracking shim, the docker client), runner.spec (its types),
runner.state, and the foundation modules.
"""

from __future__ import annotations

from runner.compute.base import Launch, Target

__all__ = ["Launch", "Target", "target_for"]


def target_for(kind: str) -> Target:
    """The target of a compute type; it starts a process group when the launch is distributed."""
    if kind == "local":
        from runner.compute.local_group import LocalGroupTarget

        return LocalGroupTarget()
    if kind == "docker":
        from runner.compute.docker_group import DockerGroupTarget

        return DockerGroupTarget()
    if kind == "ray":
        from runner.compute.ray import RayTarget

        return RayTarget()
    raise ValueError(f"unknown compute type {kind!r}")
