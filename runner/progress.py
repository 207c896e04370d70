"""Progress of long work: the code doing it says what it is doing; the CLI decides what to draw.

    with progress.phase(f"snapshot {code}", unit="files") as step:
        for folder in folders:
            ...
            step.advance(len(files))

`phase(label, total=None, unit="", size=None)` opens a phase and returns its handle:
`advance(n)` counts `n` more `unit`s (of `total`, when known), `update(text)` says what it
does now (`installing 12 packages`), and leaving the `with` block ends it. `size` is a
byte count shown with the label (`storing 1,204 new objects (48 MB)`). `note(text)` updates
the innermost phase open in this thread, for code that only has a log function (`noting`).

Until the CLI installs a reporter (`install`), every call goes to a shared object that
does nothing: core code pays one method call per phase and per advance, nothing more.
The CLI installs a `Deferred` one: it makes the real reporter (threads, drawing) only
once a phase has lasted its delay. A phase with a `unit` must advance often: `Deferred`
watches its clock only in its `advance` calls (a no-op snapshot starts no thread).

This module imports only builtin modules: it sits on every hot path.
"""

from __future__ import annotations

import _thread
import time

TYPE_CHECKING = False  # typing is not imported at run time (hot paths import this module)
if TYPE_CHECKING:
    from collections.abc import Callable


class Phase:
    """A phase's handle. This one does nothing: reporters return their own."""

    __slots__ = ()

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.end()

    def advance(self, n: int = 1) -> None:
        """`n` more units done."""

    def update(self, text: str) -> None:
        """What the phase does now."""

    def end(self) -> None:
        """The phase is over (leaving its `with` block calls this)."""

    def resume(self, started: float, done: int, text: str) -> None:
        """Carry on a phase another reporter began (`time.monotonic()` at its start)."""


NOTHING = Phase()


class Reporter:
    """Where phases are reported. This one, the default, drops them."""

    def phase(self, label: str, total: int | None = None, unit: str = "", size: int | None = None) -> Phase:
        return NOTHING

    def note(self, text: str) -> None:
        """`update(text)` of the innermost phase open in the calling thread, if any."""


_reporter = Reporter()


def phase(label: str, total: int | None = None, unit: str = "", size: int | None = None) -> Phase:
    """Open a phase (see the module docstring); use it as a context manager."""
    return _reporter.phase(label, total, unit, size)


def note(text: str) -> None:
    _reporter.note(text)


def noting(log: Callable[[str], None]) -> Callable[[str], None]:
    """`log`, also showing each message as what the current phase does now."""

    def both(text: str) -> None:
        log(text)
        _reporter.note(text)

    return both


class Deferred(Reporter):
    """Stands in for a reporter that costs something to make (`make`). A phase without a
    unit makes it at once; a counted phase is timed by its own `advance` calls, and the
    first that has lasted `after` seconds makes it; so does `wake()`. The real reporter
    then takes over every open phase, with its start time and count."""

    def __init__(self, make: Callable[[], Reporter], after: float) -> None:
        self.make, self.after = make, after
        self.real: Reporter | None = None
        self.watched: list[_Watched] = []
        self.lock = _thread.allocate_lock()

    def wake(self) -> Reporter:
        with self.lock:
            if self.real is None:
                self.real = self.make()
                watched, self.watched = self.watched, []
                for phase in watched:
                    phase.hand_over(self.real)
            return self.real

    def phase(self, label: str, total: int | None = None, unit: str = "", size: int | None = None) -> Phase:
        if self.real is not None or not unit:
            return self.wake().phase(label, total, unit, size)
        watched = _Watched(self, label, total, unit, size)
        with self.lock:
            if self.real is None:
                self.watched.append(watched)
                return watched
        return self.real.phase(label, total, unit, size)

    def note(self, text: str) -> None:
        if self.real is not None:
            self.real.note(text)


class _Watched(Phase):
    __slots__ = ("done", "inner", "label", "owner", "size", "started", "text", "total", "unit")

    def __init__(self, owner: Deferred, label: str, total: int | None, unit: str, size: int | None) -> None:
        self.owner, self.label, self.total, self.unit, self.size = owner, label, total, unit, size
        self.done, self.text, self.inner = 0, "", None
        self.started = time.monotonic()

    def advance(self, n: int = 1) -> None:
        if self.inner is not None:
            self.inner.advance(n)
            return
        self.done += n
        if time.monotonic() - self.started >= self.owner.after:
            self.owner.wake()

    def update(self, text: str) -> None:
        if self.inner is not None:
            self.inner.update(text)
            return
        self.text = text
        self.advance(0)

    def end(self) -> None:
        with self.owner.lock:
            inner, self.inner = self.inner, NOTHING  # if never handed over: it never will be
            if inner is None:
                self.owner.watched.remove(self)
        if inner is not None:
            inner.end()

    def hand_over(self, real: Reporter) -> None:
        inner = real.phase(self.label, self.total, self.unit, self.size)
        inner.resume(self.started, self.done, self.text)
        self.inner = inner


def install(reporter: Reporter) -> Reporter:
    """Make `reporter` receive every phase from now on; returns the one it replaces."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous
