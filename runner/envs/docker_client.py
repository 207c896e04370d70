"""The one way runner reaches the Docker daemon, and the base-image id lookup for fingerprints.

`import docker` happens here, lazily: projects that never use a docker compute never load it.
A daemon that cannot be reached is a `DockerUnavailable` (a RunnerError) naming what to do.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
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


# How long plan waits for the daemon to ask a registry whether a missing base image exists.
PROBE_SECONDS = 15


@dataclass(frozen=True)
class BaseImage:
    """What the daemon says of a base image: its id (or `unknown: why`) and, when it is neither
    local nor pullable, the problem (`docker image X is not present and cannot be pulled (why)`)."""

    id: str
    problem: str | None = None


def base_image_id(name: str) -> str:
    """The id of base image `name` (pulled when absent), for the env fingerprint."""
    return probe_base_image(name).id


def probe_base_image(name: str) -> BaseImage:
    """The base image `name`, pulled when absent and the registry has it.

    Never raises: `runner plan` must work without a daemon. When the id cannot be known
    the value says why, and `problem` says so when the image is neither here nor pullable:
    the registry is asked first for the manifest alone, with a short timeout (what
    `docker manifest inspect` does), so an unreachable registry costs seconds, not a pull's.
    """
    try:
        images = docker_client().images
    except DockerUnavailable:
        return BaseImage("unknown: no docker daemon")
    import docker.errors

    try:
        return BaseImage(str(images.get(name).id))
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        return BaseImage(f"unknown: {_first_line(exc)}")
    why = _not_pullable(name)
    if why is None:
        try:  # the build needs it anyway; pulling now keeps the fingerprint stable after the build
            return BaseImage(str(images.pull(name).id))
        except docker.errors.APIError as exc:
            why = _explanation(exc)
    return BaseImage("unknown: not found locally and the pull failed",
                     f"docker image {name} is not present and cannot be pulled ({why})")


def _not_pullable(name: str) -> str | None:
    """None when the daemon finds `name` in its registry, else why not (in the daemon's words)."""
    import docker.errors
    import requests.exceptions
    from docker import auth

    api = docker_client().api
    try:  # docker-py's inspect_distribution, with a timeout of its own rather than the client's
        registry, _ = auth.resolve_repository_name(name)
        header = auth.get_config_header(api, registry)
        response = api._get(api._url("/distribution/{0}/json", name), timeout=PROBE_SECONDS,
                            headers={"X-Registry-Auth": header} if header else {})
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        return _explanation(exc)
    except docker.errors.DockerException as exc:  # e.g. an invalid reference
        return _first_line(exc)
    except requests.exceptions.RequestException as exc:
        if isinstance(exc, requests.exceptions.Timeout):
            return f"the registry did not answer within {PROBE_SECONDS} s"
        return _first_line(exc)
    return None


def _explanation(exc: Any) -> str:
    return _first_line(Exception(getattr(exc, "explanation", None) or exc))


def image_or_none(ref: str) -> Any:
    """The local image `ref`, or None; raises DockerUnavailable without a daemon."""
    import docker.errors

    try:
        return docker_client().images.get(ref)
    except docker.errors.ImageNotFound:
        return None
