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
    from runner.spec.types import Compute


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
    # ray: the environment's `pip` list and `python` version; a distributed run adds `ranks` (each
    # rank's variables, from the distribution's rank table), `nodes` and `cpus_per_process`
    runtime: dict[str, Any] = field(default_factory=dict)


LineSink = Callable[[str], None]


class Handle(Protocol):
    pgid: int | None  # recorded so a later apply can kill what a dead runner left behind

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None if still running after `timeout` seconds."""

    def cancel(self) -> None:
        """Stop the run and everything it started; returns once it is gone."""


class Target(Protocol):
    def prepare(self, launch: Launch) -> None: ...

    def start(self, launch: Launch, on_line: LineSink) -> Handle: ...

    def collect(self, launch: Launch) -> None: ...
