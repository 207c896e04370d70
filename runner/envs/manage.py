"""What `runner envs list|build|show` do, as typed functions returning data (the CLI prints it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.envs.cache import env_path, is_cached
from runner.envs.errors import EnvError
from runner.envs.fingerprint import EnvFingerprint, env_fingerprint, environment_of

if TYPE_CHECKING:
    from runner.spec.types import Spec

HOST_KINDS = ("venv", "conda")


@dataclass(frozen=True)
class EnvRow:
    name: str
    fingerprint: str
    kind: str  # "venv" | "conda" | "docker" | "user_managed"
    cached: bool
    location: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BuildRow:
    name: str
    fingerprint: str
    cache: str  # "hit" | "built"
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def list_envs(spec: Spec, root: Path) -> list[EnvRow]:
    """Each environment of train.yaml, once per place it is built (host, docker image)."""
    rows = []
    for name in sorted(spec.environments):
        for fp in targets(spec, name, root):
            rows.append(_row(fp))
    return rows


def targets(spec: Spec, name: str, root: Path) -> list[EnvFingerprint]:
    """The host env unless only docker jobs use it, plus the docker image if any docker job does."""
    computes = {spec.compute_of(job).type for job in spec.jobs.values() if job.environment == name}
    found = [env_fingerprint(spec, name, root)] if computes != {"docker"} else []
    if "docker" in computes:
        from runner.envs.docker import docker_fingerprint

        found.append(docker_fingerprint(spec, name, root))
    return found


def _row(fp: EnvFingerprint) -> EnvRow:
    assert fp.name is not None
    if fp.kind == "user_managed":  # nothing to build: "cached" means its interpreter is there
        interpreter = fp.components["interpreter"]
        return EnvRow(fp.name, fp.digest, fp.kind, os.access(interpreter, os.X_OK), interpreter)
    if fp.kind == "docker":
        from runner.envs.docker import image_cached, image_tag

        return EnvRow(fp.name, fp.digest, fp.kind, image_cached(fp), image_tag(fp))
    return EnvRow(fp.name, fp.digest, fp.kind, is_cached(fp.digest), str(env_path(fp.digest)))


def build_envs(spec: Spec, root: Path, names: list[str], *,
               log: Callable[[str, str], None] | None = None) -> tuple[list[BuildRow], list[str]]:
    """Build the named host environments (default: all of them) that are not cached yet.

    user_managed environments build nothing: only their interpreter is checked.
    Env images of docker computes are built (or pulled from the compute's `registry:`) too.
    One failure does not stop the others: returns (what was built or found, the errors).
    """
    from runner.errors import RunnerError

    say = log or (lambda _name, _message: None)
    known = [_known(spec, name) for name in names or sorted(spec.environments)]  # a typo stops at once
    rows, errors = [], []
    for name in known:
        try:
            for fp in targets(spec, name, root):
                row = _build_one(spec, root, fp, say=say)
                rows += [row] if row else []
        except RunnerError as exc:
            errors.append(str(exc) if name in str(exc) else f"environment {name}: {exc}")
    return rows, errors


def _build_one(spec: Spec, root: Path, fp: EnvFingerprint, *,
               say: Callable[[str, str], None]) -> BuildRow | None:
    from runner.envs.materialise import materialise

    assert fp.name is not None
    name = fp.name
    if fp.kind == "docker":
        from runner.envs.docker import ensure_image

        image = ensure_image(spec, name, root, fp, registry=_registry(spec, name),
                             log=lambda message: say(name, message))
        return BuildRow(name, fp.digest, image.cache, image.seconds)
    if fp.kind == "user_managed":
        materialise(spec, name, root, fp)  # builds nothing: checks that the interpreter is there
        return None
    done = materialise(spec, name, root, fp, log=lambda message: say(name, message))
    return BuildRow(name, fp.digest, done.cache, done.seconds)


def show_env(spec: Spec, root: Path, name: str) -> dict[str, Any]:
    """Kind, fingerprint, components, cache state; and the image's when docker jobs use it."""
    shown: dict[str, Any] = {"name": name}
    for fp in targets(spec, _known(spec, name), root):
        row = _row(fp)
        entry = {"kind": fp.kind, "fingerprint": fp.digest, "components": fp.components,
                 "cached": row.cached, "location": row.location}
        if "kind" in shown:
            shown["docker"] = entry
        else:
            shown.update(entry)
    return shown


def _registry(spec: Spec, name: str) -> str | None:
    """The `registry:` of a docker compute that runs env `name`, if any names one."""
    found = [spec.compute_of(job).registry for job in spec.jobs.values()
             if job.environment == name and spec.compute_of(job).type == "docker"]
    return next((r for r in found if r), None)


def _known(spec: Spec, name: str) -> str:
    environment_of(spec, name)  # raises the "not defined" error naming the defined ones
    return name


__all__ = ["BuildRow", "EnvError", "EnvRow", "build_envs", "list_envs", "show_env", "targets"]
