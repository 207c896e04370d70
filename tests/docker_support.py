"""Docker for tests: the local base image, the local registry, and cleanup of what tests built.

`.ci/run` exports RUNNER_TEST_BASE_IMAGE and RUNNER_TEST_REGISTRY. Without them (a
developer without Docker) docker tests skip; under CI=true they fail instead, because a
green CI run that tested no Docker is a lie. Registry pulls fail on CI machines, so tests
only ever use the local base image.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"docker tests must run under CI=true: {why}")
    pytest.skip(why)


def base_image() -> str:
    """The local base image tag (skip, or fail under CI, when Docker is not provisioned)."""
    image = os.environ.get("RUNNER_TEST_BASE_IMAGE")
    if not image:
        _unavailable("RUNNER_TEST_BASE_IMAGE is not set (run the tests through .ci/run)")
    from runner.envs.docker_client import (
        DockerUnavailable,
        image_or_none,
    )

    try:
        found = image_or_none(str(image))
    except DockerUnavailable as exc:
        _unavailable(str(exc))
    if found is None:
        _unavailable(f"the base image {image} is not built (run .ci/run)")
    return str(image)


def registry() -> str:
    address = os.environ.get("RUNNER_TEST_REGISTRY")
    if not address:
        _unavailable("RUNNER_TEST_REGISTRY is not set (run the tests through .ci/run)")
    return str(address)


def client() -> Any:
    from runner.envs.docker_client import docker_client

    return docker_client()


def unique() -> str:
    return uuid.uuid4().hex[:10]


class Images:
    """Remembers image tags a test makes and removes them (and dangling leftovers) at the end."""

    def __init__(self) -> None:
        self.tags: list[str] = []

    def add(self, tag: str) -> str:
        self.tags.append(tag)
        return tag

    def remove_all(self) -> None:
        import docker.errors

        for tag in reversed(self.tags):
            try:
                client().images.remove(tag, force=True)
            except docker.errors.APIError:
                pass


def remove_containers(project: Any) -> None:
    """Force-remove every container of the test's project, so a failed test leaves none behind."""
    from runner.envs.docker_client import DockerUnavailable

    try:
        leftovers = client().containers.list(all=True, filters={"label": f"runner.project={project.root}"})
    except DockerUnavailable:  # no daemon: nothing to remove
        return
    for container in leftovers:
        container.remove(force=True)


def containers_of(run_id: str, project: Any) -> list[Any]:
    """The containers of run `run_id` of that project (run ids repeat across projects)."""
    labels = [f"runner.run={run_id}", f"runner.project={project.root}"]
    return client().containers.list(all=True, filters={"label": labels}, ignore_removed=True)  # one removed while listed

