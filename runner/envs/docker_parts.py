"""The Docker parts of an environment's fingerprint: base image, Dockerfile and context, apt, build args.

Only used with `env_fingerprint(..., docker=True)`; the docker backend builds the image.
Resolving a base image NAME to its id needs the daemon, so it is a hook the backend passes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from runner.envs.errors import EnvError
from runner.envs.python import running_python

if TYPE_CHECKING:
    from runner.spec.types import DockerSpec


def default_base(python: str | None) -> str:
    """The base image of an environment that names none: python:X.Y-slim of its `python:`,
    else of the Python running runner."""
    return f"python:{'.'.join((python or running_python()).split('.')[:2])}-slim"


def docker_components(docker: DockerSpec | None, root: Path, base_id: Callable[[str], str] | None,
                      python: str | None = None) -> dict[str, str]:
    """`docker.base` (image name), `docker.base_id` (with the hook), `docker.dockerfile`, apt, args."""
    apt = list(docker.apt) if docker else []
    build_args = dict(docker.build_args) if docker else {}
    parts = {"docker.apt": json.dumps(sorted(apt)), "docker.build_args": json.dumps(build_args, sort_keys=True)}
    if docker is not None and docker.dockerfile:
        context = docker.context or str(Path(docker.dockerfile).parent)
        parts["docker.dockerfile"] = dockerfile_digest(root, docker.dockerfile, context)
    else:
        parts["docker.base"] = (docker.image if docker else None) or default_base(python)
        if base_id is not None:
            parts["docker.base_id"] = base_id(parts["docker.base"])
    return parts


def dockerfile_digest(root: Path, dockerfile: str, context: str) -> str:
    """sha256 over the Dockerfile's bytes and every file of its context (path, mode, bytes)."""
    digest = hashlib.sha256()
    digest.update(_read(root / dockerfile, dockerfile))
    folder = root / context
    if not folder.is_dir():
        raise EnvError(f"{context}: the docker build context of an environment is not a folder")
    for rel, path in _context_files(folder):
        digest.update(b"\0" + rel.encode("utf-8") + b"\0")
        digest.update(_entry_bytes(path))
    return "sha256:" + digest.hexdigest()


def _context_files(folder: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in filenames:
            path = Path(dirpath) / name
            found.append((path.relative_to(folder).as_posix(), path))
    return sorted(found)


def _entry_bytes(path: Path) -> bytes:
    if path.is_symlink():  # hash the link itself: never follow it out of the project
        return b"link:" + os.readlink(path).encode("utf-8")
    executable = b"x" if os.access(path, os.X_OK) else b"-"
    return executable + hashlib.sha256(path.read_bytes()).digest()


def _read(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise EnvError(f"{shown}: the Dockerfile of an environment does not exist") from None
