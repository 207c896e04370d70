"""The docker target: a run in a container of its environment's image.

The run folder is bind-mounted at the same absolute path (so `${{outputs}}`,
`${{inputs.*}}` and RUNNER_OUTPUTS mean the same inside and out), the project read-only
(datasets are read in place), and the tracking shim read-only. Nothing of the project
is baked into the image: a code change never rebuilds it. The container runs as the
invoking user, so outputs are theirs. It is labelled `runner.project`, `runner.run` and
`runner.state` (the state folder: run ids repeat across projects): a later `apply`
removes the containers of runs whose runner died (`remove_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from runner.compute.base import Launch, LineSink
from runner.compute.output import RunOutput, Stream, in_background, single
from runner.compute.docker_opts import container_options
from runner.errors import RunnerError

GRACE_SECONDS = 5  # between SIGTERM and SIGKILL, so a script can save what it has
RUN_LABEL = "runner.run"
STATE_LABEL = "runner.state"


class DockerRunError(RunnerError):
    """The daemon refused to create or start a run's container."""


class DockerHandle:
    def __init__(self, container: Any, pump: threading.Thread, output: RunOutput) -> None:
        self.output = output
        self.container = container
        self.container_id: str = container.id
        self.pgid: int | None = None  # no host process group: containers are found by label
        self.pump = pump
        self.code: int | None = None
        self.reason: str | None = None  # why it ended, when the exit code alone would not say
        self.waiter = threading.Thread(target=self._wait_exit, daemon=True)
        self.waiter.start()

    def _wait_exit(self) -> None:
        try:
            self.code = int(self.container.wait()["StatusCode"])
            self.container.reload()
            if self.container.attrs["State"].get("OOMKilled"):
                limit = self.container.attrs["HostConfig"].get("Memory") or 0
                shown = f" (memory limit {limit // 2**20} MiB)" if limit else ""
                self.reason = f"killed: out of memory{shown}"
        except docker_errors():  # removed under us (cancel): the run is over either way
            self.code = 137 if self.code is None else self.code

    def wait(self, timeout: float | None) -> int | None:
        self.waiter.join(timeout)
        if self.waiter.is_alive():
            return None
        self.pump.join()
        self.reason = self.output.reason or self.reason
        _remove(self.container)
        return self.code

    def cancel(self) -> None:
        with contextlib.suppress(*docker_errors()):  # already gone
            self.container.stop(timeout=GRACE_SECONDS)
        self.waiter.join(timeout=4 * GRACE_SECONDS)  # bounded: a daemon that stopped answering must not hang Ctrl-C
        self.pump.join(timeout=GRACE_SECONDS)
        _remove(self.container)


class DockerTarget:
    def prepare(self, launch: Launch) -> None:
        if not launch.image:
            raise DockerRunError(f"job {launch.job}: a docker compute needs an environment image")

    def start(self, launch: Launch, on_line: LineSink) -> DockerHandle:
        from runner.envs import tracking_shim
        from runner.envs.docker_client import docker_client

        options = container_options(launch, str(tracking_shim(launch.capture)), (os.getuid(), os.getgid()))
        container = _create(docker_client(), launch, options)
        try:
            container.start()
        except docker_errors() as exc:
            _remove(container)
            raise _start_error(launch, exc) from None
        output, feeder = single(launch.log_path, on_line, lambda reason: in_background(_stop, container),
                                launch.masker)
        pump = threading.Thread(target=_pump, args=(container, output, feeder), daemon=True)
        pump.start()
        return DockerHandle(container, pump, output)

    def collect(self, launch: Launch) -> None:
        return None  # the container ran as the invoking user: outputs are already theirs


def _create(client: Any, launch: Launch, options: dict[str, Any]) -> Any:
    import docker.errors

    try:
        return client.containers.create(launch.image, **options)
    except docker.errors.ImageNotFound:
        raise DockerRunError(f"job {launch.job}: image {launch.image} is gone; run `runner envs build`") from None
    except docker.errors.APIError as exc:
        raise _start_error(launch, exc) from None


def _start_error(launch: Launch, exc: Exception) -> RunnerError:
    text = str(getattr(exc, "explanation", None) or exc)
    if "capabilities: [[gpu]]" in text or "nvidia" in text.lower():
        return DockerRunError(f"job {launch.job}: the compute asks for GPUs but this Docker has no GPU "
                              f"runtime (install the NVIDIA Container Toolkit) or set `gpus: 0` ({text})")
    return DockerRunError(f"job {launch.job}: docker could not start the container: {text}")


def _pump(container: Any, output: RunOutput, feeder: Stream) -> None:
    """Copy the container's output to its log (bytes as they are) and, line by line, to the sink."""
    try:
        for chunk in container.logs(stream=True, follow=True):
            feeder.feed(chunk)
    except docker_errors():  # the container was removed while we read (cancel): keep what we have
        pass
    finally:
        feeder.close()
        output.close()


def _stop(container: Any) -> None:
    with contextlib.suppress(*docker_errors()):
        container.stop(timeout=GRACE_SECONDS)


def _remove(container: Any) -> None:
    with contextlib.suppress(*docker_errors()):  # already removed
        container.remove(force=True)


def docker_errors() -> tuple[type[Exception], ...]:
    """What the SDK raises when a container or the daemon goes away under a call."""
    import docker.errors
    import requests.exceptions

    return docker.errors.DockerException, requests.exceptions.RequestException


def remove_orphans(state_root: Path, run_ids: list[str]) -> list[str]:
    """Force-remove the containers of these runs of state `state_root` (their runner died); the ids removed.

    Quietly does nothing without a daemon: then there are no containers to leave behind.
    """
    from runner.envs.docker_client import DockerUnavailable, docker_client

    if not run_ids:
        return []
    quiet: tuple[type[Exception], ...] = (DockerUnavailable, *docker_errors())
    try:
        containers = docker_client().containers.list(
            all=True, filters={"label": [RUN_LABEL, f"{STATE_LABEL}={state_root}"]})
    except quiet:
        return []
    wanted = set(run_ids)
    removed = []
    for container in containers:
        if (container.labels or {}).get(RUN_LABEL) in wanted:
            _remove(container)
            removed.append(container.id)
    _remove_networks(state_root, wanted)
    return removed


def _remove_networks(state_root: Path, wanted: set[str]) -> None:
    """The per-run networks of distributed runs (runner.compute.docker_group), once their containers are gone."""
    from runner.envs.docker_client import docker_client

    with contextlib.suppress(*docker_errors()):
        for network in docker_client().networks.list(filters={"label": [RUN_LABEL, f"{STATE_LABEL}={state_root}"]}):
            if (network.attrs.get("Labels") or {}).get(RUN_LABEL) in wanted:
                with contextlib.suppress(*docker_errors()):
                    network.remove()
