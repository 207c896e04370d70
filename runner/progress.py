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
A phase with a `unit` is expected to advance often; a reporter may watch such a phase
from its own calls instead of a clock thread (a no-op snapshot starts no thread).

This module imports nothing: it sits on every hot path.
"""

from __future__ import annotations

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


def install(reporter: Reporter) -> Reporter:
    """Make `reporter` receive every phase from now on; returns the one it replaces."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous
