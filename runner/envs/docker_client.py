"""The one way runner reaches the Docker daemon, and the base-image id lookup for fingerprints.

`import docker` happens here, lazily: projects that never use a docker compute never load it.
A daemon that cannot be reached is a `DockerUnavailable` (a RunnerError) naming what to do.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from runner.errors import RunnerError

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


class DockerUnavailable(RunnerError):
    """No Docker daemon answers (not installed, not running, or DOCKER_HOST points nowhere)."""


def docker_client() -> Any:
    """A connected `docker.DockerClient`, one per DOCKER_HOST per process."""
    where = os.environ.get("DOCKER_HOST", "")
    with _LOCK:
        client = _CLIENTS.get(where)
        if client is None:
            client = _connect(where)
            _CLIENTS[where] = client
        return client


def _connect(where: str) -> Any:
    try:
        import docker
    except ImportError:  # pragma: no cover - docker is a dependency; a broken install
        raise DockerUnavailable("the `docker` Python package is missing: `pip install docker`") from None
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises DockerException, requests' or OSError's
        shown = where or "the default socket (/var/run/docker.sock)"
        raise DockerUnavailable(
            f"no Docker daemon answers at {shown}: start Docker (or set DOCKER_HOST), "
            f"or run this job on `compute: local` ({_first_line(exc)})") from None
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def base_image_id(name: str) -> str:
    """The id of base image `name` (pulled when absent), for the env fingerprint.

    Never raises: `runner plan` must work without a daemon. When the id cannot be
    known the value says why; the build that would need the image then fails clearly.
    """
    try:
        images = docker_client().images
    except DockerUnavailable:
        return "unknown: no docker daemon"
    import docker.errors

    try:
        return str(images.get(name).id)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        return f"unknown: {_first_line(exc)}"
    try:  # the build needs it anyway; pulling now keeps the fingerprint stable after the build
        return str(images.pull(name).id)
    except docker.errors.APIError:
        return "unknown: not found locally and the pull failed"


def image_or_none(ref: str) -> Any:
    """The local image `ref`, or None; raises DockerUnavailable without a daemon."""
    import docker.errors

    try:
        return docker_client().images.get(ref)
    except docker.errors.ImageNotFound:
        return None
