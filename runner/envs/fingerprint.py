"""Environment fingerprints: a digest of what decides an environment's contents, and nothing else.

It runs on every `runner plan`, so it must stay cheap: no build tool is started; only
the requirements/conda files and local package folders are read (raw bytes, never
normalised text). The one exception is a docker env, whose base image id comes from the
daemon (which pulls the base image when it is not local yet, as the build would).
`variables` and `secrets` are runtime settings, not contents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.envs.errors import EnvError
from runner.envs.python import managed_interpreter, probe_version, running_python

if TYPE_CHECKING:
    from runner.spec.types import Environment, Spec

FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class EnvFingerprint:
    name: str | None  # None = the default environment (runner's own interpreter)
    kind: str  # "venv" | "conda" | "docker" | "user_managed"
    components: dict[str, str]
    digest: str  # sha256 hex of the sorted-key JSON of {"version", "kind", "components"}

    @property
    def label(self) -> str:
        return self.name if self.name is not None else "(default)"


def env_fingerprint(spec: Spec, name: str | None, project_root: Path, *, docker: bool = False,
                    docker_base_id: Callable[[str], str] | None = None) -> EnvFingerprint:
    """The fingerprint of environment `name` (None: the current interpreter, user_managed).

    With `docker=True` the fingerprint is that of the env's image: the docker parts
    are added and host-only parts (an interpreter path) are left out.
    `docker_base_id` (filled by the docker backend, which can ask the daemon) turns a
    base image name into its image id, so a moved tag rebuilds the env image.
    """
    env = environment_of(spec, name)
    if docker:
        from runner.envs.docker_parts import docker_components

        # In an image the python is the base image's: the host's version must not enter it,
        # or teammates on other pythons would each build (and push) their own image.
        components = {**_built_components(env, project_root, default_python="image"),
                      **docker_components(env.docker, project_root, docker_base_id, env.python)}
        return make_fingerprint(name, "docker", components)
    if env.user_managed:
        return make_fingerprint(name, "user_managed", _managed_components(env, project_root))
    kind = "conda" if env.conda else "venv"
    return make_fingerprint(name, kind, _built_components(env, project_root))


def environment_of(spec: Spec, name: str | None) -> Environment:
    if name is None:
        from runner.spec.types import CURRENT_INTERPRETER

        return CURRENT_INTERPRETER
    if name not in spec.environments:
        known = ", ".join(sorted(spec.environments)) or "none"
        raise EnvError(f"environment {name!r} is not defined in train.yaml (defined: {known})")
    return spec.environments[name]


def make_fingerprint(name: str | None, kind: str, components: dict[str, str]) -> EnvFingerprint:
    payload = {"version": FINGERPRINT_VERSION, "kind": kind, "components": components}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return EnvFingerprint(name=name, kind=kind, components=dict(components), digest=digest)


def changed_components(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Components that differ, were added or were removed, sorted: `["pip", "python"]`."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def _built_components(env: Environment, root: Path, default_python: str | None = None) -> dict[str, str]:
    components = {"python": env.python or default_python or running_python()}
    if env.pip:
        # Sorted as written: order never changes what pip installs; spelling might.
        components["pip"] = json.dumps(sorted(env.pip))
    from runner.envs.reqfiles import sources_digest

    components.update(sources_digest(root, env.requirements, env.pip))  # includes and local packages
    if env.conda:
        components["conda"] = file_digest(root, env.conda, "conda")
    return components


def _managed_components(env: Environment, root: Path) -> dict[str, str]:
    interpreter = managed_interpreter(env.interpreter, root)
    if env.interpreter is None:
        return {"interpreter": interpreter, "python": running_python()}
    return {"interpreter": interpreter, "python": probe_version(interpreter) or "not found"}


def file_digest(root: Path, relpath: str, what: str) -> str:
    try:
        return "sha256:" + hashlib.sha256((root / relpath).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise EnvError(f"{relpath}: the {what} file of an environment does not exist") from None
    except IsADirectoryError:
        raise EnvError(f"{relpath}: the {what} file of an environment is a folder") from None
