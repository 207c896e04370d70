"""Where a run's output goes: logs/std_log.txt, logs/rank-N.txt and the terminal sink.

Every target (a local process, a container, a group of ranks) sends what its processes
print through one `RunOutput`; it is the one place that writes run logs, so anything
done to every line (e.g. masking secrets) belongs in `RunOutput._write` and `_emit`.

- a single process: its bytes go to std_log.txt as they are, its lines to the sink;
- a rank of a group: each line goes to logs/rank-N.txt as it is, to std_log.txt and to
  the sink prefixed `[rank N] ` (the merged stream);
- a launcher's own text (mpirun's messages): to std_log.txt and the sink, unprefixed.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Union

if TYPE_CHECKING:
    from runner.masking import Masker, StreamMasker

LineSink = Callable[[str], None]
LAUNCHER = "launcher"
Source = Union[int, str, None]  # a rank, LAUNCHER, or None for a job's single process


def rank_log_name(rank: int) -> str:
    return f"rank-{rank}.txt"


class RunOutput:
    """A write that fails (a full disk) is reported once through `on_fault`, with the reason the
    run fails for, and later writes are dropped: the readers go on draining the processes'
    pipes, so nothing blocks on a full pipe while `on_fault` stops the run."""

    def __init__(self, log_path: Path, on_line: LineSink,
                 on_fault: Callable[[str], None] = lambda reason: None, masker: Masker | None = None) -> None:
        self.log_path, self.on_line, self.on_fault = log_path, on_line, on_fault
        self.masker = masker if masker else None  # the run's secret values, written and shown as ***
        self.lock = threading.Lock()
        self.files: dict[Path, BinaryIO] = {}
        self.masking: dict[Path, StreamMasker] = {}  # one per log: a value split across two writes is still masked
        self.reason: str | None = None  # why writing stopped, if it did
        self._write(log_path, b"")  # a run that prints nothing still has its (empty) log

    def stream(self, source: Source) -> Stream:
        """A feeder for one source's bytes, in the order they came."""
        return Stream(self, source)

    def add_rank(self, rank: int) -> None:
        """Create the rank's log now: a rank that prints nothing still has one (`runs logs --rank N`)."""
        self._write(self.log_path.parent / rank_log_name(rank), b"")

    def _write(self, path: Path, data: bytes) -> None:
        with self.lock:
            if self.reason is not None:
                return
            if self.masker is not None:
                data = self.masking.setdefault(path, self.masker.stream()).feed(data)
            try:
                handle = self.files.get(path)
                if handle is None:
                    handle = self.files[path] = open(path, "ab", buffering=0)  # noqa: SIM115 (closed by close())
                handle.write(data)
            except OSError as exc:
                self._fail(path, exc)

    def _fail(self, path: Path, exc: OSError) -> None:
        from runner.errors import DiskFull, is_disk_full

        what = f"{path.parent.name}/{path.name}"
        self.reason = str(DiskFull(what)) if is_disk_full(exc) else f"cannot write {what}: {exc.strerror or exc}"
        self._close_files()
        self.on_fault(self.reason)

    def _emit(self, text: str) -> None:
        self.on_line(self.masker.text(text) if self.masker is not None else text)

    def raw(self, data: bytes) -> None:
        """A single process's bytes, as they are, into std_log.txt."""
        self._write(self.log_path, data)

    def line(self, source: Source, raw: bytes) -> None:
        """One line (without its newline) of a rank or a launcher; a single process's line to the sink."""
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if isinstance(source, int):
            self._write(self.log_path.parent / rank_log_name(source), raw + b"\n")
            self._write(self.log_path, f"[rank {source}] ".encode() + raw + b"\n")
            self._emit(f"[rank {source}] {text}")
        elif source == LAUNCHER:
            self._write(self.log_path, raw + b"\n")
            self._emit(text)
        else:
            self._emit(text)

    def close(self) -> None:
        with self.lock:
            self._close_files()

    def _close_files(self) -> None:
        for path, handle in self.files.items():
            with contextlib.suppress(OSError):
                if path in self.masking:
                    handle.write(self.masking[path].flush())  # what was held back in case a secret went on
                handle.close()
        self.files.clear()
        self.masking.clear()


class Stream:
    """Splits one source's chunks into lines (a partial line waits for the rest)."""

    def __init__(self, output: RunOutput, source: Source) -> None:
        self.output, self.source = output, source
        self.pending = b""

    def feed(self, chunk: bytes) -> None:
        if self.source is None:
            self.output.raw(chunk)
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for raw in lines:
            self.output.line(self.source, raw)

    def close(self) -> None:
        if self.pending:  # a last line without its newline (a rank's still gets one in the logs)
            self.output.line(self.source, self.pending)
            self.pending = b""


def single(log_path: Path, on_line: LineSink, on_fault: Callable[[str], None],
           masker: Masker | None = None) -> tuple[RunOutput, Stream]:
    """The output of a job's one process; `on_fault` stops it when its log cannot be written."""
    output = RunOutput(log_path, on_line, on_fault, masker)
    return output, output.stream(None)


def in_background(function: Callable[..., object], *args: object) -> None:
    """Stop a run from the thread that reads its output, which must keep reading meanwhile."""
    threading.Thread(target=function, args=args, daemon=True).start()
