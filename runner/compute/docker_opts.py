"""A compute's settings (cpus, memory, shm_size, gpus, network) and a run's mounts as container options."""

from __future__ import annotations

import re
from typing import Any

from runner.compute.base import Launch
from runner.envs.docker import SHIM_IN_IMAGE

UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def container_options(launch: Launch, shim: str, user: tuple[int, int]) -> dict[str, Any]:
    """Keyword arguments for `containers.create(image, **options)`."""
    compute = launch.compute
    options: dict[str, Any] = {
        "command": list(launch.argv), "working_dir": str(launch.run_dir), "environment": _environment(launch),
        "user": f"{user[0]}:{user[1]}", "labels": labels(launch), "mounts": mounts(launch, shim),
        "init": True,  # tini forwards the stop signal to the whole process tree and reaps it
        "network_mode": getattr(compute, "network", "bridge"), "detach": True,
    }
    if compute is not None:
        options.update(limits(compute))
    return options


def labels(launch: Launch) -> dict[str, str]:
    """runner.project and runner.run, plus runner.state: run ids repeat across projects, state folders don't."""
    return {**launch.labels, "runner.state": str(launch.run_dir.parent.parent)}


def limits(compute: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if compute.cpus:
        found["nano_cpus"] = int(compute.cpus * 1e9)
    if compute.memory:
        found["mem_limit"] = size_bytes(compute.memory)
    if compute.shm_size:
        found["shm_size"] = size_bytes(compute.shm_size)
    requests = device_requests(compute.gpus)
    if requests:
        found["device_requests"] = requests
    return found


def device_requests(gpus: Any) -> list[Any]:
    """`gpus: all` -> every GPU, `gpus: N` -> N of them, `gpus: [0, 1]` -> those device ids."""
    if gpus in (0, (), None):
        return []
    from docker.types import DeviceRequest

    if gpus == "all":
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if isinstance(gpus, int):
        return [DeviceRequest(count=gpus, capabilities=[["gpu"]])]
    return [DeviceRequest(device_ids=[str(g) for g in gpus], capabilities=[["gpu"]])]


def size_bytes(text: str) -> int:
    """"4g" -> 4 GiB, "512m", "1.5g", "100000" (bytes): the `Size` spelling of train.yaml."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmgBKMG]?)", text)
    if match is None:  # the spec validated it: a different spelling is a bug
        raise ValueError(f"bad size {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def mounts(launch: Launch, shim: str) -> list[Any]:
    """The project read-only, the run folder read-write (same paths as on the host), the shim."""
    from docker.types import Mount

    found = [Mount(target=str(launch.project_root), source=str(launch.project_root), type="bind", read_only=True),
             Mount(target=str(launch.run_dir), source=str(launch.run_dir), type="bind"),
             Mount(target=SHIM_IN_IMAGE, source=shim, type="bind", read_only=True)]
    # Docker mounts parents before children, so the run folder inside .runner/ stays writable.
    return found


def _environment(launch: Launch) -> dict[str, str]:
    env = dict(launch.env)
    env.setdefault("HOME", "/tmp")  # the invoking uid has no home in the image; tools want one
    return env
