"""`runner apply` once its arguments are parsed: by Typer (runner.cli.run_cmds) or, for the
plain spellings, without it (runner.cli.hot): importing Typer costs more than a no-op apply's
own work. Prints the plan, the runs' lines and the summary.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from runner.cli.opening import Hold


def apply_command(*, jobs: Sequence[str], parallel: int | None, force: Sequence[str], prune: bool, project: Any,
                  file: Any, json: bool, ref: str | None, ca_bundle: Any, quiet: bool, hold: Hold) -> int:
    """Run what the plan says, in dependency order; record runs, outputs, metrics."""
    import signal

    from runner.cli.opening import open_for_runs
    from runner.cli.progress import shown
    from runner.cli.render import apply_summary, print_json
    from runner.envs.ca_bundle import set_ca_bundle
    from runner.interrupts import stop_signals_interrupt
    from runner.reconcile.apply import apply as do_apply

    set_ca_bundle(ca_bundle)  # exported as RUNNER_CA_BUNDLE: docker env builds copy it into the image
    proj, spec, state, git = open_for_runs(project, file, create=True, ref=ref, hold=hold)
    events = apply_events(json, parallel, frozenset(name for name, job in spec.jobs.items() if job.sweep is not None))
    # CI cancelling a build, `docker stop`, a closed terminal: cancel the runs like Ctrl-C does.
    with shown(json=json, quiet=quiet) as progress, stop_signals_interrupt(signal.SIGTERM, signal.SIGHUP):
        events = progress.around(events, state.layout.run_dir) if progress else events  # heartbeats
        result = do_apply(proj, spec, state, targets=tuple(jobs), force=tuple(force), jobs=parallel,
                          events=events, git=git, prune=prune)
    if json:
        print_json(result.as_json())
    elif result.outcomes or not all(m.ok for m in result.models):
        print(apply_summary(list(result.outcomes), list(result.models)))
    return 0 if result.ok else 1


def apply_events(json: bool, parallel: int | None, swept: frozenset[str] = frozenset()) -> Any:
    """What apply shows as it goes: the plan, the runs' lines, their ends (on stderr with --json)."""
    from runner.cli.render import model_line, outcome_line, print_plan
    from runner.reconcile.results import ApplyEvents

    out = _Terminal(sys.stderr if json else sys.stdout)
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            out.write(text + "\n")
            out.flush()

    def line(job: str, text: str) -> None:
        say(f"[{job}] {text}" if (parallel or 1) > 1 or job in swept else text)

    return ApplyEvents(
        plan=lambda p: print_plan(p, stream=out),
        line=line,
        started=lambda job, run_id: say(f"▶ {run_id} running"),
        ended=lambda outcome: say(outcome_line(outcome)),
        note=lambda message: say(f"! {message}"),
        model=lambda outcome: say(model_line(outcome)),
    )


class _Terminal:
    """Progress output that outlives its reader: once `| head` or a dropped SSH session closes
    the pipe, lines are dropped (the runs' logs keep them) and the runs go on."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.closed = stream, False

    def write(self, text: str) -> None:
        self._guard(self.stream.write, text)

    def flush(self) -> None:
        self._guard(self.stream.flush)

    def _guard(self, call: Any, *args: Any) -> None:
        if self.closed:
            return
        try:
            call(*args)
        except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
            self.closed = True
