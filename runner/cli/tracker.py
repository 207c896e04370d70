"""The reporter behind `runner.cli.progress.shown`: open phases and running runs, drawn on
stderr by a clock thread (made only once some phase has lasted its delay, or a run started).

- live (a terminal): one line per phase open for more than 0.5 s, redrawn in place while
  it counts and erased when it ends, and one per run silent for 10 s (`… train-3 running
  1m20s, accuracy 0.91`: its latest metric); Rich is imported only when a line is drawn
  (runner.cli.progress_view).
- plain (a pipe, a CI log, `--json`): no control characters; one line for a phase still
  open after 5 s, and for a silent run one line after 10 s of silence, then at most one a
  minute while it stays silent.

$RUNNER_PROGRESS_SCALE multiplies every delay (tests).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import threading
import time

from runner.progress import Phase, Reporter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, TextIO

class Step(Phase):
    __slots__ = ("done", "label", "printed", "size", "started", "text", "thread", "total", "tracker", "unit")

    def __init__(self, tracker: Tracker, label: str, total: int | None, unit: str, size: int | None) -> None:
        self.tracker, self.label, self.total, self.unit, self.size = tracker, label, total, unit, size
        self.done, self.text, self.printed = 0, "", False
        self.started, self.thread = time.monotonic(), _thread.get_ident()

    def advance(self, n: int = 1) -> None:
        self.done += n

    def update(self, text: str) -> None:
        self.text = text

    def resume(self, started: float, done: int, text: str) -> None:
        self.started, self.done, self.text = started, done, text

    def end(self) -> None:
        self.tracker.ended(self)

    def describe(self) -> str:
        """`snapshot src: 34,512 / 100,000 files`, `storing 1,204 new objects (48 MB)`."""
        head = f"{self.label} ({human_bytes(self.size)})" if self.size else self.label
        if self.text:
            return f"{head}: {self.text}"
        if self.unit:
            of = f" / {self.total:,}" if self.total is not None else ""
            return f"{head}: {self.done:,}{of} {self.unit}"
        return head


class Run:
    __slots__ = ("heard", "job", "metrics", "run_id", "said", "started")

    def __init__(self, job: str, run_id: str, metrics: str | None) -> None:
        self.job, self.run_id, self.metrics = job, run_id, metrics
        self.started = self.heard = time.monotonic()
        self.said = 0.0  # when its last plain heartbeat was written

    def describe(self, now: float) -> str:
        text = f"… {self.run_id} running {duration(now - self.started)}"
        metric = latest_metric(self.metrics) if self.metrics else None
        return f"{text}, {metric[0]} {metric[1]}" if metric else text


class Tracker(Reporter):
    """Open phases and running runs, drawn by a clock thread started when first needed."""

    def __init__(self, stream: TextIO, *, live: bool, show_after: float, silent_after: float,
                 plain_every: float) -> None:
        """`show_after`: a phase's line appears once it has lasted this long (live) or it gets its
        one line (plain); a run silent for `silent_after` gets a heartbeat, in plain mode then at
        most one every `plain_every` seconds."""
        self.stream, self.live = stream, live
        self.show_after, self.silent_after, self.plain_every = show_after, silent_after, plain_every
        self.steps: list[Step] = []
        self.runs: dict[str, Run] = {}  # by run id
        self.idle = True  # no clock thread yet
        self.lock = threading.RLock()  # drawing, and what the command prints meanwhile (see paused)
        self.view: Any = None  # the live view, once something was drawn
        self.stop: Any = None
        self.thread: Any = None

    # -- what core code reports (runner.progress) --
    def phase(self, label: str, total: int | None = None, unit: str = "", size: int | None = None) -> Phase:
        step = Step(self, label, total, unit, size)
        self.steps.append(step)
        if self.idle:
            self.wake()
        return step

    def note(self, text: str) -> None:
        me = _thread.get_ident()
        for step in reversed(self.steps):
            if step.thread == me:
                step.update(text)
                return

    def ended(self, step: Step) -> None:
        try:
            self.steps.remove(step)
        except ValueError:
            return
        if self.view is not None:
            self.draw()  # its line goes at once, before whatever the command prints next

    # -- what the CLI reports of runs --
    def run_started(self, job: str, run_id: str, metrics: str | None = None) -> None:
        self.runs[run_id] = Run(job, run_id, metrics)
        if self.idle:
            self.wake()

    def run_output(self, job: str) -> None:
        """A run of `job` printed (a sweep's trials share their job: each of them counts as heard)."""
        now = time.monotonic()
        for run in list(self.runs.values()):
            if run.job == job:
                run.heard = now

    def run_ended(self, run_id: str) -> None:
        self.runs.pop(run_id, None)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Whatever the block writes goes out with no live line drawn (the next tick redraws them)."""
        with self.lock:
            if self.view is not None:
                self.view.close()
            yield

    # -- drawing --
    def wake(self) -> None:
        """Start the clock thread (once)."""
        with self.lock:
            if not self.idle:
                return
            self.idle = False
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._tick, name="runner-progress", daemon=True)
            self.thread.start()

    def _tick(self) -> None:
        while not self.stop.wait(0.1 if self.live else 0.25):
            try:
                self.draw()
            except Exception:  # noqa: BLE001 (progress must never break the command)
                return

    def draw(self) -> None:
        now = time.monotonic()
        with self.lock:
            if self.live:
                self._draw_live(now)
            else:
                self._draw_plain(now)

    def _draw_live(self, now: float) -> None:
        lines = [step.describe() for step in list(self.steps) if now - step.started >= self.show_after]
        lines += [run.describe(now) for run in list(self.runs.values()) if now - run.heard >= self.silent_after]
        if lines and self.view is None:
            from runner.cli.progress_view import LiveView

            self.view = LiveView(self.stream)
        if self.view is not None:
            self.view.show(lines)

    def _draw_plain(self, now: float) -> None:
        out = []
        for step in list(self.steps):
            if not step.printed and now - step.started >= self.show_after:
                step.printed = True
                out.append(f"{step.describe()} ({duration(now - step.started)} so far)")
        for run in list(self.runs.values()):
            if now - run.heard < self.silent_after:
                continue
            if run.said > run.heard and now - run.said < self.plain_every:  # said during this silence
                continue
            run.said = now
            out.append(run.describe(now))
        if out:
            try:
                self.stream.write("".join(line + "\n" for line in out))
                self.stream.flush()
            except (OSError, ValueError):  # the reader went away: progress is not worth failing for
                pass

    def close(self) -> None:
        if self.stop is not None:
            self.stop.set()
            self.thread.join(timeout=1)
        with self.lock:
            if self.view is not None:
                self.view.close()


def latest_metric(path: str) -> tuple[str, str] | None:
    """(name, value) of the last metric in a run's metrics file, read from its tail."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 16384))
            tail = handle.read()
    except OSError:
        return None
    import json

    for raw in reversed(tail.splitlines()):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("type") == "metric" and isinstance(record.get("name"), str):
            value = record.get("value")
            shown_value = f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else value
            return record["name"], str(shown_value)
    return None


def duration(seconds: float) -> str:
    """`8s`, `1m20s`, `2h05m`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def human_bytes(size: float) -> str:
    """`512 B`, `3.4 MB`, `48 MB`."""
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" or size >= 10 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
