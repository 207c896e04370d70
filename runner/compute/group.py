"""A group of ranked processes as one run handle, whatever starts them (see `base.ProcessGroup`).

A compute gives `Group` its members (each an output stream and an exit code: a local
process, a `docker exec`, mpirun for all its ranks) and a `stop` that ends every one of
them. `Group` reads each member's output into the run's `RunOutput`, and when a member
exits non-zero it stops the others (`stop` must finish within 10 s: SIGTERM, a grace of
5 s, SIGKILL) and remembers `rank N exited with CODE`. `cancel` stops the group and then
runs the compute's `cleanup` (containers, network), once.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Callable, Protocol

from runner.compute.output import LAUNCHER, RunOutput, Source, Stream

if TYPE_CHECKING:
    from runner.compute.ranks import RankedProcess

STOP_BOUND = 10.0  # seconds the others get once one rank failed


class Member(Protocol):
    source: Source  # its rank, or LAUNCHER for a launcher whose output carries rank tags (mpirun)

    def read(self) -> Iterable[bytes]:
        """Its output, chunk by chunk, until it ends."""

    def exit_code(self) -> int:
        """Blocks until it has exited (after `read` ended)."""


def exit_text(rank: int, code: int) -> str:
    """`rank 3 exited with 1`; a signal by name (`rank 3 was killed by SIGKILL`)."""
    if code < 0:
        try:
            return f"rank {rank} was killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"rank {rank} exited with {code}"


class Group:
    def __init__(self, members: list[Member], output: RunOutput, stop: Callable[[], None], *,
                 ranks: list[RankedProcess], pgid: int | None = None,
                 cleanup: Callable[[], None] = lambda: None) -> None:
        self.members, self.output, self._stop, self._cleanup = members, output, stop, cleanup
        self.ranks, self.pgid = ranks, pgid
        self.reason: str | None = None
        self.code: int | None = None
        self.stopped_code = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.stopper: threading.Thread | None = None
        self.cleaned = False
        output.on_fault = self._fault
        for entry in ranks:
            output.add_rank(entry.rank)
        self.watchers = [threading.Thread(target=self._watch, args=(m,), daemon=True) for m in members]
        for watcher in self.watchers:
            watcher.start()

    def _watch(self, member: Member) -> None:
        feeder = TaggedFeeder(self.output) if member.source == LAUNCHER else self.output.stream(member.source)
        try:
            for chunk in member.read():
                feeder.feed(chunk)
        finally:
            feeder.close()
        code = member.exit_code()
        with self.lock:
            self.stopped_code = self.stopped_code or code  # what `wait` says after a cancel
            if code != 0 and not self.stopping:  # the first to fail; the others were stopped by us
                self.code = code
                self.reason = mpi_failure(feeder.launcher_text, code) if isinstance(feeder, TaggedFeeder) \
                    else exit_text(int(member.source or 0), code)
                self._stop_others()

    def _fault(self, reason: str) -> None:
        """The logs cannot be written (a full disk): the whole group stops, for that reason."""
        with self.lock:
            if not self.stopping:
                self.code, self.reason = 1, reason
                self._stop_others()

    def _stop_others(self) -> None:
        self.stopping = True
        self.stopper = threading.Thread(target=self._stop, daemon=True)
        self.stopper.start()

    def wait(self, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for watcher in self.watchers:
            watcher.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if watcher.is_alive():
                return None
        if self.stopper is not None:
            self.stopper.join()
        self._finish()
        return self.code if self.code is not None else self.stopped_code

    def cancel(self) -> None:
        with self.lock:
            if not self.stopping:
                self._stop_others()
        assert self.stopper is not None
        self.stopper.join(STOP_BOUND * 2)  # bounded: a daemon that stopped answering must not hang Ctrl-C
        for watcher in self.watchers:
            watcher.join(STOP_BOUND)
        self._finish()

    def _finish(self) -> None:
        with self.lock:
            if self.cleaned:
                return
            self.cleaned = True
        try:
            self._cleanup()
        finally:
            self.output.close()


# mpirun --tag-output: each chunk a rank wrote comes as `[JOB,RANK]<stdout>:` + the chunk.
TAG = re.compile(rb"\[\d+,(\d+)\]<std(?:out|err)>:")
PARTIAL_TAG = re.compile(rb"\[[0-9,\]<stdouter>:]{0,40}")


class TaggedFeeder:
    """Splits mpirun's tagged output among the ranks; untagged text is mpirun's own.

    A tagged chunk runs to the next tag or to its first newline (after which mpirun's own
    messages start at the beginning of a line)."""

    def __init__(self, output: RunOutput) -> None:
        self.output = output
        self.streams: dict[Source, Stream] = {}
        self.current: int | None = None
        self.pending = b""
        self.launcher_text = b""  # the last of mpirun's own text (its failure report)

    def _stream(self, source: Source) -> Stream:
        if source not in self.streams:
            self.streams[source] = self.output.stream(source)
        return self.streams[source]

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        for source, text in self._split(final=False):
            self._route(source, text)

    def close(self) -> None:
        for source, text in self._split(final=True):
            self._route(source, text)
        for stream in self.streams.values():
            stream.close()

    def _route(self, source: Source, text: bytes) -> None:
        if source == LAUNCHER:
            self.launcher_text = (self.launcher_text + text)[-8192:]
        self._stream(source).feed(text)

    def _split(self, *, final: bool) -> Iterator[tuple[Source, bytes]]:
        while self.pending:
            match = TAG.match(self.pending)
            if match:
                self.current = int(match.group(1))
                self.pending = self.pending[match.end():]
                continue
            following = TAG.search(self.pending, 1)
            end = following.start() if following else len(self.pending)
            if following is None and not final:  # keep back what may be the start of a tag
                start = self.pending.rfind(b"[")
                if start > 0 and PARTIAL_TAG.fullmatch(self.pending, start):
                    end = start
                elif start == 0 and PARTIAL_TAG.fullmatch(self.pending):
                    return
            text = self.pending[:end]
            source: Source = LAUNCHER if self.current is None else self.current
            newline = text.find(b"\n")
            if self.current is not None and newline >= 0:
                text = text[:newline + 1]
                self.current = None
            if not text:
                return
            self.pending = self.pending[len(text):]
            yield source, text


MPI_FIRST_FAILURE = re.compile(rb"Process name:\s*\[\[\d+,\d+\],(\d+)\]\s*Exit code:\s*(-?\d+)")


def mpi_failure(launcher_text: bytes, code: int) -> str:
    """mpirun's report of the first rank that failed, as `rank N exited with CODE`."""
    match = MPI_FIRST_FAILURE.search(launcher_text)
    if match:
        return exit_text(int(match.group(1)), int(match.group(2)))
    return f"mpirun exited with {code}"
