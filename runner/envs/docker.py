"""Environment images for docker computes: `runner-env:<fingerprint[:12]>`, built once per content.

A cache hit is one image lookup (`images.get(tag)`, its fingerprint label checked).
On a miss, under the env's build lock: look again, pull `<registry>/runner-env:<tag>`
when the compute names a registry, else build from templates/docker/Dockerfile.j2
(on the base image, or on the user's Dockerfile built first), then push.

Without `docker.image` nor `docker.dockerfile` the base is `python:<X.Y>-slim` for the
environment's `python:` (default: runner's own version).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner.envs.docker_build import PREFIX
from runner.envs.docker_client import base_image_id, docker_client, image_or_none
from runner.envs.docker_parts import default_base
from runner.envs.fingerprint import EnvFingerprint, env_fingerprint, environment_of

if TYPE_CHECKING:
    from runner.spec.types import Environment, Spec

REPOSITORY = "runner-env"
BASE_REPOSITORY = "runner-env-base"  # a user's Dockerfile, built as the base of the env image
FINGERPRINT_LABEL = "runner.env.fingerprint"
SHIM_IN_IMAGE = "/opt/runner/shim"  # where the docker compute mounts the tracking shim
Log = Callable[[str], None]


@dataclass(frozen=True)
class DockerEnv:
    """What a docker run needs of its environment (the same fields as a host `Materialised`)."""

    image: str
    location: str
    cache: str  # "hit" | "built"
    seconds: float
    python: str = PREFIX + "/bin/python"  # inside the container
    bin_dir: str | None = None  # the image's PATH already starts with the env's bin/
    pythonpath: str = SHIM_IN_IMAGE


def docker_fingerprint(spec: Spec, name: str | None, root: Path) -> EnvFingerprint:
    """The fingerprint of env `name`'s image; the base image's id comes from the daemon."""
    return env_fingerprint(spec, name, root, docker=True, docker_base_id=base_image_id)


def image_tag(fp: EnvFingerprint) -> str:
    return f"{REPOSITORY}:{fp.digest[:12]}"


def image_cached(fp: EnvFingerprint) -> bool:
    """Whether the image of `fp` exists locally (False without a daemon)."""
    from runner.envs.docker_client import DockerUnavailable

    try:
        return _matches(image_or_none(image_tag(fp)), fp)
    except DockerUnavailable:
        return False


def ensure_image(spec: Spec, name: str | None, root: Path, fp: EnvFingerprint | None = None, *,
                 registry: str | None = None, log: Log | None = None) -> DockerEnv:
    """The image of env `name`, pulled or built when it is missing. DockerUnavailable without a daemon."""
    started, say = time.perf_counter(), log or (lambda _message: None)
    fp = fp or docker_fingerprint(spec, name, root)
    tag = image_tag(fp)
    if _matches(image_or_none(tag), fp):
        return DockerEnv(tag, tag, "hit", time.perf_counter() - started)
    from runner.envs.cache import (
        _BuildLock,  # the same per-fingerprint lock as host envs
    )

    with _BuildLock(fp.digest, say):
        if _matches(image_or_none(tag), fp):
            return DockerEnv(tag, tag, "hit", time.perf_counter() - started)
        if registry and _pull(registry, fp, say):
            return DockerEnv(tag, f"{registry}/{tag}", "hit", time.perf_counter() - started)
        _build_image(environment_of(spec, name), root, fp, say, registry)
    return DockerEnv(tag, tag, "built", time.perf_counter() - started)


def _matches(image: Any, fp: EnvFingerprint) -> bool:
    # The tag holds 12 hex digits: the full digest in the label rules out a collision.
    return image is not None and (image.labels or {}).get(FINGERPRINT_LABEL) == fp.digest


def _pull(registry: str, fp: EnvFingerprint, say: Log) -> bool:
    from runner.envs.docker_build import pull

    say(f"looking for {registry}/{image_tag(fp)}")
    client, repository = docker_client(), f"{registry}/{REPOSITORY}"
    image = pull(client, repository, fp.digest[:12])
    if image is None:
        return False
    if _matches(image, fp):
        image.tag(REPOSITORY, fp.digest[:12])
    client.images.remove(f"{repository}:{fp.digest[:12]}", noprune=True)  # keep only runner-env:<tag>
    return _matches(image, fp)


def _build_image(env: Environment, root: Path, fp: EnvFingerprint, say: Log, registry: str | None) -> None:
    from runner.envs.cache import log_path

    logfile = log_path(fp.digest)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "w", encoding="utf-8") as handle:
        try:
            _build_in(env, root, fp, say, handle, logfile)
        except Exception as exc:
            from runner.envs.errors import EnvError

            if isinstance(exc, EnvError):
                raise type(exc)(f"environment {fp.label}: {exc}") from None
            raise
        if registry:
            _push(registry, fp, say, handle)


def _build_in(env: Environment, root: Path, fp: EnvFingerprint, say: Log, handle: IO[str], logfile: Path) -> None:
    from runner.envs.ca_bundle import ca_bundle
    from runner.envs.docker_build import build, render_dockerfile, stage_context

    client, ca = docker_client(), ca_bundle()
    base = _base(env, root, fp, say, handle, logfile)
    with tempfile.TemporaryDirectory(prefix="runner-image-") as tmp:
        stage_context(Path(tmp), env, root, render_dockerfile(env, fp, base, ca=ca is not None), ca)
        say(f"building image {image_tag(fp)}")
        build(client, Path(tmp), image_tag(fp), handle, logfile, say,
              buildargs=dict(env.docker.build_args) if env.docker else None)


def _base(env: Environment, root: Path, fp: EnvFingerprint, say: Log, handle: IO[str], logfile: Path) -> str:
    """The image to layer on: the given one, the user's Dockerfile built, or python:X.Y-slim."""
    docker = env.docker
    if docker is None or not docker.dockerfile:
        return (docker.image if docker else None) or default_base(env.python)
    from runner.envs.docker_build import build

    tag = f"{BASE_REPOSITORY}:{fp.digest[:12]}"
    context = root / (docker.context or str(Path(docker.dockerfile).parent))
    say(f"building {docker.dockerfile}")
    build(docker_client(), context, tag, handle, logfile, say, dockerfile=(root / docker.dockerfile).resolve(),
          buildargs=dict(docker.build_args))
    return tag


def _push(registry: str, fp: EnvFingerprint, say: Log, handle: IO[str]) -> None:
    from runner.envs.docker_build import push

    client, repository = docker_client(), f"{registry}/{REPOSITORY}"
    say(f"pushing {repository}:{fp.digest[:12]}")
    client.images.get(image_tag(fp)).tag(repository, fp.digest[:12])
    error = push(client, repository, fp.digest[:12], handle)
    # Only the registry's copy needs that name: drop the local alias so `docker images` stays tidy.
    client.images.remove(f"{repository}:{fp.digest[:12]}", noprune=True)
    if error:
        say(f"warning: could not push {repository}:{fp.digest[:12]} ({error}); the image is only local")
