"""Where runs execute. Every target implements `runner.compute.base.Target`."""

from __future__ import annotations

from typing import Any

from runner.compute.base import Launch, Target

__all__ = ["Launch", "Target", "target_for"]


def target_for(kind: str) -> Target:
    if kind == "local":
        from runner.compute.local import LocalTarget

        return LocalTarget()
    if kind == "docker":
        from runner.compute.docker import DockerTarget  # type: ignore[import-not-found]

        return DockerTarget()
    raise ValueError(f"unknown compute type {kind!r}")


def _unused(_: Any) -> None:  # keeps the re-export list honest for linters
    return None
