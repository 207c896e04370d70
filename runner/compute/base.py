"""The one small protocol every compute target implements (local process, docker container, ...).

apply: `prepare` once, `start` the run, `wait` (with the timeout) while lines stream through
`on_line`, `cancel` on Ctrl-C, timeout or supersede, then `collect` after the end
(e.g. give outputs back to the invoking user).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Protocol

if TYPE_CHECKING:
    from runner.masking import Masker
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
    masker: Masker | None = None  # the run's secret values: masked in its log (RunLog) and on the terminal


LineSink = Callable[[str], None]


class RunLog:
    """logs/std_log.txt as an output pump writes it, bytes as they come.

    A write that fails (a full disk) is reported once through `on_fault`, with the reason the
    run fails for, and later writes are dropped: the pump goes on reading, so the process never
    blocks on a full pipe while `on_fault` stops it.

    With a `masker` (runner.masking), the run's secret values are written as `***`: this is
    the one place a run's output reaches its stored log, whatever the compute.
    """

    def __init__(self, path: Path, on_fault: Callable[[str], None], masker: Masker | None = None) -> None:
        self.path, self.on_fault = path, on_fault
        self.reason: str | None = None
        self.handle: BinaryIO | None = None
        self.masking = masker.stream() if masker else None
        try:
            self.handle = open(path, "ab", buffering=0)  # noqa: SIM115 (closed by close())
        except OSError as exc:
            self._fail(exc)

    def write(self, raw: bytes) -> None:
        if self.handle is None:
            return
        if self.masking is not None:
            raw = self.masking.feed(raw)
            if not raw:
                return
        try:
            self.handle.write(raw)
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        if self.handle is not None and self.masking is not None:
            with contextlib.suppress(OSError):
                self.handle.write(self.masking.flush())
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
            self.handle = None

    def _fail(self, exc: OSError) -> None:
        from runner.errors import DiskFull, is_disk_full

        self.close()
        what = f"{self.path.parent.name}/{self.path.name}"
        self.reason = str(DiskFull(what)) if is_disk_full(exc) else f"cannot write {what}: {exc.strerror or exc}"
        self.on_fault(self.reason)


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
