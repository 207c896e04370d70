"""A distributed job on this machine: its ranks as processes of one process group.

Nodes are simulated (each rank gets its node's NODE_RANK and LOCAL_RANK), MASTER_ADDR is
127.0.0.1 and the ports are free ones chosen per run. MPI jobs are started by Open MPI's
`mpirun`, whose output carries the ranks (`--tag-output`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

from runner.compute.base import Handle, Launch, LineSink
from runner.compute.group import Group
from runner.compute.local import GRACE_SECONDS, LocalTarget, kill_group
from runner.compute.output import LAUNCHER, RunOutput, Source
from runner.errors import RunnerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runner.compute.ranks import RankedProcess

MPI_PACKAGE = "openmpi-bin"


class LocalGroupTarget(LocalTarget):
    """The local target, with distributed launches started as process groups."""

    def start(self, launch: Launch, on_line: LineSink) -> Handle:
        if launch.distribution is not None:
            return start_local_group(launch, on_line)
        return super().start(launch, on_line)


class ProcessMember:
    def __init__(self, process: subprocess.Popen[bytes], source: Source) -> None:
        self.process, self.source = process, source

    def read(self) -> Iterator[bytes]:
        stream = self.process.stdout
        assert stream is not None
        try:
            while chunk := stream.read1(65536):  # type: ignore[attr-defined]
                yield chunk
        finally:
            stream.close()

    def exit_code(self) -> int:
        return self.process.wait()


def find_mpirun() -> str:
    """Open MPI's launcher: $RUNNER_MPIRUN, else `mpirun` on PATH; a clear error when there is none."""
    named = os.environ.get("RUNNER_MPIRUN")
    found = shutil.which(named or "mpirun")
    if found is None:
        where = f"RUNNER_MPIRUN={named} is not an executable" if named else "`mpirun` is not on PATH"
        raise RunnerError(f"distribution type mpi needs Open MPI's mpirun: {where}; install it "
                          f"(Debian/Ubuntu: apt-get install {MPI_PACKAGE})")
    return found


def mpirun_argv(mpirun: str, world: int, argv: list[str], *, root: bool) -> list[str]:
    """mpirun for `world` processes on this host, each output chunk tagged with its rank."""
    flags = ["--allow-run-as-root"] if root else []
    # vader's single-copy needs ptrace rights that containers and hardened hosts lack. When a
    # rank fails or mpirun is stopped, the ranks get SIGTERM and a grace period before SIGKILL
    # (Open MPI's default: 1 s), a second shorter than runner's own: mpirun must have killed
    # them before runner kills mpirun (each rank is in a process group of its own).
    grace = str(int(GRACE_SECONDS) - 1)
    return [mpirun, *flags, "--oversubscribe", "--bind-to", "none", "--tag-output",
            "--mca", "btl_vader_single_copy_mechanism", "none",
            "--mca", "odls_base_sigkill_timeout", grace, "-np", str(world), *argv]


def mpi_environment(root: bool) -> dict[str, str]:
    return {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"} if root else {}


def mpi_table(world: int, per_node: int) -> list[RankedProcess]:
    """What mpirun will make of the ranks (for the record; it sets the variables itself)."""
    from runner.compute.ranks import RankedProcess, runner_variables

    return [RankedProcess(rank, rank // per_node, rank % per_node, runner_variables(rank, world, rank // per_node))
            for rank in range(world)]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on now (held open together so they differ)."""
    import socket  # here: every local run imports this module, and few are distributed

    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_local_group(launch: Launch, on_line: LineSink) -> Group:
    from runner.compute.ranks import mpi_wrapper, ports_needed, rank_table

    dist = launch.distribution
    assert dist is not None
    env = dict(launch.env)
    if launch.bin_dir:
        env["PATH"] = launch.bin_dir + os.pathsep + env.get("PATH", os.defpath)
    output = RunOutput(launch.log_path, on_line, masker=launch.masker)
    if dist.type == "mpi":
        root = os.geteuid() == 0
        argv = mpirun_argv(find_mpirun(), dist.world_size, mpi_wrapper(dist, launch.argv), root=root)
        leader = _spawn(argv, launch, {**env, **mpi_environment(root)}, group=0)
        return Group([ProcessMember(leader, LAUNCHER)], output, lambda: kill_group(leader.pid),
                     ranks=mpi_table(dist.world_size, dist.processes_per_node), pgid=leader.pid)
    table = rank_table(dist, launch.run_id, ["127.0.0.1"] * dist.nodes, free_ports(ports_needed(dist)))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for entry in table:  # rank 0 leads the process group; the others join it
            processes.append(_spawn(launch.argv, launch, {**env, **entry.env},
                                    group=processes[0].pid if processes else 0))
    except RunnerError:
        if processes:
            kill_group(processes[0].pid)
        raise
    pgid = processes[0].pid
    members = [ProcessMember(process, entry.rank) for process, entry in zip(processes, table)]
    return Group(members, output, lambda: kill_group(pgid), ranks=table, pgid=pgid)


def _spawn(argv: list[str], launch: Launch, env: dict[str, str], *, group: int) -> subprocess.Popen[bytes]:
    """Start one member in process group `group` (0: a new group it leads)."""
    joins: dict[str, object] = ({"process_group": group} if sys.version_info >= (3, 11)
                                else {"preexec_fn": lambda: os.setpgid(0, group)})  # Popen(process_group=) is 3.11+
    try:
        return subprocess.Popen(argv, cwd=launch.run_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, **joins)  # type: ignore[call-overload]
    except OSError as exc:
        raise RunnerError(f"job {launch.job}: could not start {argv[0]}: {exc.strerror}") from None
