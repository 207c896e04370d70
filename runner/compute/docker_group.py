"""A distributed job on docker: one container per node, its ranks `docker exec`ed inside.

Each node is a container of the environment's image (the mounts, user, labels and limits
of a single-process docker run; limits apply per container) that only sleeps under tini
(deaf to SIGTERM);
the ranks of that node are execs in it, each with its own output stream and exit code.
The containers share a network made for the run (labelled like them, removed after), and
MASTER_ADDR is node 0's container name. MPI runs inside one container (mpirun is exec'd
there); across containers it is refused when train.yaml is checked.

Stopping: SIGTERM to every process of each container but tini (`kill -TERM -1`), up to
5 s of grace, then the containers are removed (SIGKILL) and the network with them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

from runner.compute.base import Handle, Launch, LineSink
from runner.compute.docker import (
    GRACE_SECONDS,
    DockerRunError,
    DockerTarget,
    _remove,
    _start_error,
    docker_errors,
)
from runner.compute.docker_opts import container_options, labels
from runner.compute.group import Group
from runner.compute.local_group import free_ports, mpi_environment, mpi_table, mpirun_argv
from runner.compute.output import LAUNCHER, RunOutput, Source
from runner.compute.ranks import DEFAULT_PORT, mpi_wrapper, ports_needed, rank_table


class DockerGroupTarget(DockerTarget):
    """The docker target, with distributed launches started as one container per node."""

    def start(self, launch: Launch, on_line: LineSink) -> Handle:
        if launch.distribution is not None:
            return start_docker_group(launch, on_line)
        return super().start(launch, on_line)


class ExecMember:
    """One process started by `docker exec` in a node's container."""

    def __init__(self, api: Any, container: Any, argv: list[str], env: dict[str, str], workdir: str,
                 user: str, source: Source) -> None:
        self.api, self.source = api, source
        self.exec_id = api.exec_create(container.id, argv, environment=env, workdir=workdir, user=user)["Id"]
        self.stream = api.exec_start(self.exec_id, stream=True)  # starts it now

    def read(self) -> Iterator[bytes]:
        with contextlib.suppress(*docker_errors()):  # its container was removed (stop): the output ends
            yield from self.stream

    def exit_code(self) -> int:
        deadline = time.monotonic() + 2 * GRACE_SECONDS
        with contextlib.suppress(*docker_errors()):
            while time.monotonic() < deadline:
                info = self.api.exec_inspect(self.exec_id)
                if not info.get("Running") and info.get("ExitCode") is not None:
                    return int(info["ExitCode"])
                time.sleep(0.05)
        return 137  # gone with its container: killed


class DockerGroup:
    def __init__(self, client: Any, launch: Launch) -> None:
        self.client, self.launch = client, launch
        self.containers: list[Any] = []
        self.network: Any = None
        self.members: list[ExecMember] = []

    def start(self, on_line: LineSink) -> Group:
        from runner.envs import tracking_shim

        launch, dist = self.launch, self.launch.distribution
        assert dist is not None
        if dist.type == "mpi" and dist.nodes > 1:  # train.yaml's checks say so first
            raise DockerRunError(f"job {launch.job}: MPI across containers is not supported; use nodes: 1")
        user = f"{os.getuid()}:{os.getgid()}"
        options = container_options(launch, str(tracking_shim(launch.capture)), (os.getuid(), os.getgid()))
        prefix = f"runner-{launch.run_id}-{secrets.token_hex(3)}"  # run ids repeat across projects
        names = [f"{prefix}-node{n}" for n in range(dist.nodes)]
        try:
            if options["network_mode"] == "bridge":
                self.network = self.client.networks.create(prefix, driver="bridge", labels=labels(launch))
                options["network_mode"] = self.network.name
            for name in names:
                self._node(name, options)
            if dist.type == "mpi":
                root = os.getuid() == 0
                argv = mpirun_argv("mpirun", dist.world_size, mpi_wrapper(dist, launch.argv), root=root)
                self.members.append(ExecMember(self.client.api, self.containers[0], argv, mpi_environment(root),
                                               str(launch.run_dir), user, LAUNCHER))
                table = mpi_table(dist.world_size, dist.processes_per_node)
            else:
                hosts = names if self.network is not None else ["127.0.0.1"]
                table = rank_table(dist, launch.run_id, hosts, _ports(ports_needed(dist), options["network_mode"]))
                for entry in table:
                    self.members.append(ExecMember(self.client.api, self.containers[entry.node], launch.argv,
                                                   entry.env, str(launch.run_dir), user, entry.rank))
        except docker_errors() as exc:
            self.remove()
            raise _start_error(launch, exc) from None
        except BaseException:
            self.remove()
            raise
        output = RunOutput(launch.log_path, on_line, masker=launch.masker)  # the execs' output waits in their streams until read
        return Group(list(self.members), output, self.stop, ranks=table, cleanup=self.remove)

    def _node(self, name: str, options: dict[str, Any]) -> None:
        # The node's own process ignores SIGTERM (kept across exec), so `stop`'s `kill -TERM -1` reaches
        # the ranks without ending the container under them before they have handled it.
        node = {**options, "command": ["/bin/sh", "-c", "trap '' TERM; exec sleep infinity"], "name": name,
                "hostname": name}
        try:
            container = self.client.containers.create(self.launch.image, **node)
        except docker_errors() as exc:
            import docker.errors

            if isinstance(exc, docker.errors.ImageNotFound):
                raise DockerRunError(f"job {self.launch.job}: image {self.launch.image} is gone; "
                                     f"run `runner envs build`") from None
            raise
        self.containers.append(container)
        container.start()

    def stop(self) -> None:
        """SIGTERM every rank, wait out the grace period (or until none runs), then remove the containers."""
        for container in self.containers:
            with contextlib.suppress(*docker_errors()):
                container.exec_run(["/bin/sh", "-c", "kill -TERM -1"], user=f"{os.getuid()}:{os.getgid()}",
                                   detach=True)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and any(self._running(m) for m in self.members):
            time.sleep(0.1)
        for container in self.containers:
            _remove(container)

    def _running(self, member: ExecMember) -> bool:
        try:
            return bool(self.client.api.exec_inspect(member.exec_id).get("Running"))
        except docker_errors():
            return False

    def remove(self) -> None:
        for container in self.containers:
            _remove(container)
        if self.network is not None:
            with contextlib.suppress(*docker_errors()):
                self.network.remove()


def _ports(count: int, network_mode: str) -> list[int]:
    """On `network: host` the ranks listen on this machine's ports: free ones, as a local run's.

    Otherwise each container has its own network namespace, where the usual ports are free.
    """
    if network_mode == "host":
        return free_ports(count)
    return [DEFAULT_PORT + i for i in range(count)]


def start_docker_group(launch: Launch, on_line: LineSink) -> Group:
    from runner.envs.docker_client import docker_client

    return DockerGroup(docker_client(), launch).start(on_line)
