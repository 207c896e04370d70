"""The one small protocol every compute target implements (local process, docker container, ...).

apply: `prepare` once, `start` the run, `wait` (with the timeout) while lines stream through
`on_line`, `cancel` on Ctrl-C, timeout or supersede, then `collect` after the end
(e.g. give outputs back to the invoking user).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from runner.compute.ranks import RankedProcess
    from runner.masking import Masker
    from runner.spec.types import Compute, Distribution


@dataclass(frozen=True)
class Launch:
    run_id: str
    job: str
    project_root: Path
    run_dir: Path  # the working folder: the staged snapshot, outputs/, logs/, inputs/
    argv: list[str]  # what to execute (a shell command is ["/bin/sh", "-c", text])
    env: dict[str, str]  # runner's and the environment's variables, secrets included
    log_path: Path  # logs/std_log.txt
    python: str | None = None  # the interpreter of the environment (host path)
    bin_dir: str | None = None  # prepended to PATH so `python` means the environment's
    image: str | None = None  # docker: the environment image
    compute: Compute | None = None
    labels: dict[str, str] = field(default_factory=dict)
    capture: tuple[str, ...] = ()  # the job's `capture:` (docker mounts a shim with runner's azureml package)
    distribution: Distribution | None = None  # set: start a `ProcessGroup` of ranks, not one process
    # ray: the environment's `pip` list and `python` version; a distributed run adds `ranks` (each
    # rank's variables, from the distribution's rank table), `nodes` and `cpus_per_process`
    runtime: dict[str, Any] = field(default_factory=dict)
    masker: Masker | None = None  # the run's secret values: masked in its logs (RunOutput) and on the terminal


LineSink = Callable[[str], None]


class Handle(Protocol):
    pgid: int | None  # recorded so a later apply can kill what a dead runner left behind

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None if still running after `timeout` seconds."""

    def cancel(self) -> None:
        """Stop the run and everything it started; returns once it is gone."""


class Target(Protocol):
    def prepare(self, launch: Launch) -> None: ...

    def start(self, launch: Launch, on_line: LineSink) -> Handle:
        """One process; a `ProcessGroup` when `launch.distribution` is set."""

    def collect(self, launch: Launch) -> None: ...


class ProcessGroup(Protocol):
    """A distributed run: one Handle over many ranked processes (runner.compute.group does the
    bookkeeping for any compute that can start processes and read their output).

    A target that runs distributed jobs lays out `runner.compute.ranks.rank_table` with its
    own hosts and ports (local: 127.0.0.1 and free ports; docker: the node containers' names;
    a cluster: its nodes) and starts each entry with the launch's argv and env plus the
    entry's env. The handle's contract, whatever the compute:
    - each rank's lines go through `runner.compute.output.RunOutput` (logs/rank-N.txt, the
      merged std_log.txt and sink prefixed `[rank N]`);
    - when a rank exits non-zero the others are stopped within 10 s and `reason` says
      `rank N exited with CODE`; `wait` returns that code (0 when every rank exited 0);
    - `cancel` (timeout, Ctrl-C, SIGTERM, supersede) stops every rank and returns when
      nothing of the group is left (processes, containers, networks);
    - `pgid` (a host process group holding every rank) or labels let a later apply remove
      what a dead runner left behind.
    """

    pgid: int | None
    reason: str | None
    ranks: list[RankedProcess]

    def wait(self, timeout: float | None) -> int | None: ...

    def cancel(self) -> None: ...
