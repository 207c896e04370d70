"""How a command shows the progress of its long work (runner.progress) on stderr: `shown`.

    with shown(json=json, quiet=quiet) as progress:   # None with --quiet
        ...

- `--quiet`: nothing is shown.
- stderr is a terminal and no `--json`: live lines, redrawn in place (runner.cli.tracker).
- otherwise (a pipe, a CI log, `--json`): plain lines, no control characters.

Until a phase has lasted its delay (live 0.5 s, plain 5 s) a `runner.progress.Deferred`
stands in: a no-op apply or snapshot draws nothing, starts no thread and imports neither
runner.cli.tracker nor Rich. $RUNNER_PROGRESS_SCALE multiplies every delay (tests).
"""

from __future__ import annotations

import os
import sys

from runner.progress import Deferred, install

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runner.progress import Reporter

SHOW_AFTER = 0.5     # live: a phase's line appears once it has lasted this long
PLAIN_AFTER = 5.0    # plain: a phase still open this long gets its one line
SILENT_AFTER = 10.0  # a run silent this long gets a heartbeat
PLAIN_EVERY = 60.0   # plain: then at most one heartbeat line this often


class shown:  # noqa: N801 (used as `with shown(...)`, like a function)
    """Progress of one command: installed on entry, its lines erased and the previous reporter
    restored on exit. Apply also reports its runs here (`run_started` ...), for the heartbeat."""

    def __init__(self, *, json: bool = False, quiet: bool = False) -> None:
        self.json, self.quiet = json, quiet
        self.deferred: Deferred | None = None

    def __enter__(self) -> shown | None:
        if self.quiet:
            return None
        stream = sys.stderr
        live = not self.json and isatty(stream) and os.environ.get("TERM") != "dumb"
        factor = scale()
        show_after = (SHOW_AFTER if live else PLAIN_AFTER) * factor

        def make() -> Reporter:
            from runner.cli.tracker import Tracker

            return Tracker(stream, live=live, show_after=show_after, silent_after=SILENT_AFTER * factor,
                           plain_every=PLAIN_EVERY * factor)

        self.deferred = Deferred(make, show_after)
        self.previous = install(self.deferred)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.deferred is not None:
            install(self.previous)
            if self.deferred.real is not None:
                self.deferred.real.close()  # type: ignore[attr-defined]

    @property
    def tracker(self) -> Any:
        return self.deferred.real if self.deferred is not None else None

    def around(self, events: Any, run_dir: Callable[[str], str]) -> Any:
        """Apply's events (runner.reconcile.results.ApplyEvents), also telling the tracker when
        runs start, print and end (for the heartbeat of a silent run, with the latest metric
        in `run_dir(run_id)/logs`); what they print goes out while no live line is drawn."""
        import dataclasses

        from runner.state.layout import LOGS
        from runner.tracking import METRICS_FILE

        def paused(call: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any) -> Any:
                tracker = self.tracker
                if tracker is None:
                    return call(*args)
                with tracker.paused():
                    return call(*args)

            return run

        calls = {field.name: paused(getattr(events, field.name)) for field in dataclasses.fields(events)}
        line, started, ended = calls["line"], calls["started"], calls["ended"]

        def on_line(job: str, text: str) -> None:
            if self.tracker is not None:
                self.tracker.run_output(job)
            line(job, text)

        def on_started(job: str, run_id: str) -> None:
            started(job, run_id)
            if self.deferred is not None:
                metrics = os.path.join(run_dir(run_id), LOGS, METRICS_FILE)
                self.deferred.wake().run_started(job, run_id, metrics)  # type: ignore[attr-defined]

        def on_ended(outcome: Any) -> None:
            if self.tracker is not None and outcome.run_id:
                self.tracker.run_ended(outcome.run_id)
            ended(outcome)

        return dataclasses.replace(events, **{**calls, "line": on_line, "started": on_started, "ended": on_ended})


def scale() -> float:
    try:
        value = float(os.environ.get("RUNNER_PROGRESS_SCALE", "1"))
    except ValueError:
        return 1.0
    return value if value >= 0 else 1.0


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
