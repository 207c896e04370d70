"""The rank table of a distributed job: for each process its rank, node, local rank and variables.

Pure: no processes, no sockets. A compute decides where each node is (`hosts`, one per
node) and which ports are free; this module decides what each process sees:

- pytorch: exactly what `torchrun` sets, so `init_process_group()` with `env://` works;
- tensorflow: `TF_CONFIG` with the cluster (chief, worker, ps) and the process's task;
- mpi: nothing per process here, `mpirun` assigns the ranks (`mpi_wrapper` maps them to
  runner's variables inside each process);
- all: RUNNER_RANK, RUNNER_WORLD_SIZE, RUNNER_NODE_RANK.

pytorch and mpi place ranks node by node (rank = node * processes_per_node + local rank);
tensorflow's tasks (chief, then workers, then parameter servers) go round the nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.spec.types import Distribution

DEFAULT_PORT = 29500  # torchrun's default; in a container of its own nothing else holds it


@dataclass(frozen=True)
class RankedProcess:
    rank: int
    node: int
    local_rank: int
    env: dict[str, str] = field(default_factory=dict)


def node_sizes(dist: Distribution) -> list[int]:
    """How many processes each node runs."""
    if dist.type != "tensorflow":
        return [dist.processes_per_node] * dist.nodes
    sizes = [0] * dist.nodes
    for index in range(dist.world_size):
        sizes[index % dist.nodes] += 1
    return sizes


def rank_table(dist: Distribution, run_id: str, hosts: list[str], ports: list[int]) -> list[RankedProcess]:
    """One entry per process, rank order. `hosts[n]`: how the others reach node n; `ports`:
    pytorch needs one (the master's), tensorflow one per task (`ports_needed`)."""
    if len(hosts) != dist.nodes:
        raise ValueError(f"{dist.nodes} nodes need {dist.nodes} hosts, got {len(hosts)}")
    if len(ports) < ports_needed(dist):
        raise ValueError(f"{dist.type} needs {ports_needed(dist)} ports, got {len(ports)}")
    if dist.type == "tensorflow":
        return _tensorflow(dist, hosts, ports)
    table = []
    world = dist.world_size
    for node in range(dist.nodes):
        for local in range(dist.processes_per_node):
            rank = node * dist.processes_per_node + local
            env = runner_variables(rank, world, node)
            if dist.type == "pytorch":
                env.update(torchrun_variables(dist, run_id, hosts[0], ports[0], rank, node, local))
            table.append(RankedProcess(rank, node, local, env))
    return table


def ports_needed(dist: Distribution) -> int:
    return {"pytorch": 1, "tensorflow": dist.world_size}.get(dist.type, 0)


def runner_variables(rank: int, world: int, node: int) -> dict[str, str]:
    return {"RUNNER_RANK": str(rank), "RUNNER_WORLD_SIZE": str(world), "RUNNER_NODE_RANK": str(node)}


def torchrun_variables(dist: Distribution, run_id: str, master: str, port: int, rank: int, node: int,
                       local: int) -> dict[str, str]:
    """What torchrun (static rendezvous, no restarts) puts in each worker's environment."""
    world = dist.world_size
    return {
        "MASTER_ADDR": master, "MASTER_PORT": str(port), "WORLD_SIZE": str(world), "RANK": str(rank),
        "LOCAL_RANK": str(local), "NODE_RANK": str(node), "GROUP_RANK": str(node),
        "GROUP_WORLD_SIZE": str(dist.nodes), "LOCAL_WORLD_SIZE": str(dist.processes_per_node),
        "ROLE_NAME": "default", "ROLE_RANK": str(rank), "ROLE_WORLD_SIZE": str(world),
        "TORCHELASTIC_RUN_ID": run_id, "TORCHELASTIC_RESTART_COUNT": "0", "TORCHELASTIC_MAX_RESTARTS": "0",
    }


def tensorflow_tasks(dist: Distribution) -> list[tuple[str, int]]:
    """(task type, index) in rank order: the chief, the workers, the parameter servers."""
    tasks = [("chief", 0)] if dist.chief else []
    tasks += [("worker", i) for i in range(dist.workers)]
    tasks += [("ps", i) for i in range(dist.parameter_servers)]
    return tasks


def _tensorflow(dist: Distribution, hosts: list[str], ports: list[int]) -> list[RankedProcess]:
    tasks = tensorflow_tasks(dist)
    nodes = [rank % dist.nodes for rank in range(len(tasks))]
    cluster: dict[str, list[str]] = {}
    for rank, (kind, _index) in enumerate(tasks):
        cluster.setdefault(kind, []).append(f"{hosts[nodes[rank]]}:{ports[rank]}")
    table, seen = [], [0] * dist.nodes
    for rank, (kind, index) in enumerate(tasks):
        node = nodes[rank]
        env = runner_variables(rank, len(tasks), node)
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}, sort_keys=True)
        table.append(RankedProcess(rank, node, seen[node], env))
        seen[node] += 1
    return table


def mpi_wrapper(dist: Distribution, argv: list[str]) -> list[str]:
    """`argv` run through sh, which sets runner's rank variables from Open MPI's before `exec`."""
    script = ('RUNNER_RANK=$OMPI_COMM_WORLD_RANK; RUNNER_WORLD_SIZE=$OMPI_COMM_WORLD_SIZE; '
              f'RUNNER_NODE_RANK=$((OMPI_COMM_WORLD_RANK / {dist.processes_per_node})); '
              'export RUNNER_RANK RUNNER_WORLD_SIZE RUNNER_NODE_RANK; exec "$@"')
    return ["/bin/sh", "-c", script, "sh", *argv]
