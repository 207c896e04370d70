"""`runner watch`: apply on every save; one live status line per job."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.cli.app import app
from runner.cli.common import FileOpt, ProjectOpt, QuietOpt, project_of

if TYPE_CHECKING:
    from runner.reconcile.plan import Plan

TAIL_LINES = 20
_STYLE = {"running": "bold yellow", "completed": "green", "up to date": "dim", "failed": "bold red",
          "canceled": "magenta", "queued": "cyan", "skipped": "dim"}


@app.command()
def watch(
    jobs: Annotated[list[str] | None, typer.Argument(help="Watch only these jobs (and what they need).",
                                                        show_default=False)] = None,
    debounce: Annotated[str, typer.Option("--debounce", help="Quiet time after a save before re-planning "
                                          "(300ms, 1s, 0.5).")] = "300ms",
    parallel: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, show_default=False,
        help="Independent jobs run at once (default 1); when given, it also caps a sweep's trials.")] = None,
    project: ProjectOpt = None, file: FileOpt = None, quiet: QuietOpt = False,
) -> int:
    """Re-plan and apply whenever a file a job depends on is saved; Ctrl-C stops."""
    from runner.cli.progress import shown
    from runner.triggers.watch import Watcher, parse_duration

    delay = parse_duration(debounce)
    proj = project_of(project, file)
    board = Board(proj.root, proj.state_dir)
    watcher = Watcher(proj, targets=jobs or [], debounce=delay, jobs=parallel, events=board.events())
    try:  # on a terminal the board shows what runs; elsewhere a slow snapshot or build gets a plain line
        with shown(quiet=quiet or board.live is not None):
            code = watcher.run()
    finally:
        board.close()
    if watcher.canceled:
        print(f"stopped: runs in flight were canceled ({', '.join(watcher.canceled)})", file=sys.stderr)
    else:
        print("stopped (nothing was running)", file=sys.stderr)
    return code


class Board:
    """Job -> status lines: a Rich Live table on a terminal, one printed line per change elsewhere."""

    def __init__(self, root: Path, state_dir: Path) -> None:
        from rich.console import Console

        self.root, self.state_dir = root, state_dir
        self.console = Console(highlight=False, soft_wrap=True, emoji=False)  # `model:m:` is no emoji code
        self.rows: dict[str, tuple[str, str, str]] = {}
        self.lock = threading.Lock()
        self.live: Any = None
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, auto_refresh=False, transient=False)
            self.live.start()

    def events(self) -> Any:
        from runner.reconcile.results import ApplyEvents
        from runner.triggers.watch import WatchEvents

        return WatchEvents(
            apply=ApplyEvents(plan=self._plan, started=lambda job, run_id: self._set(job, "running", run_id),
                              ended=self._ended, note=lambda text: self._say(f"! {text}"),
                              model=self._model),
            changed=self._changed,
            error=lambda text: self._say(f"[bold red]error[/]\n{_escape(text)}", markup=True),
            superseded=lambda: self._say("superseding the runs in flight"),
            finished=lambda result: None,
            watching=lambda: self._say("watching for changes (Ctrl-C to stop)"))

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()

    def _changed(self, paths: list[str]) -> None:
        shown = [os.path.relpath(p, self.root) for p in paths[:3]]
        more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
        self._say(f"changed: {', '.join(shown)}{more}")

    def _plan(self, plan: Plan) -> None:
        for action in plan.actions:
            if action.kind.value == "run":
                self._say(f"→ {action.target}: {'; '.join(action.texts)}")
                self._set(action.target, "queued", "")
            elif action.kind.value == "skip":
                self._set(action.target, "up to date", "")
            else:  # a model to register, update or archive once its job ran
                self._say(f"→ {action.kind.value} {action.target}: {'; '.join(action.texts)}")

    def _model(self, outcome: Any) -> None:
        """A model registered, updated, archived (or failing to): one line, as apply prints it."""
        from runner.cli.render import model_line

        self._say(model_line(outcome))

    def _ended(self, outcome: Any) -> None:
        detail = outcome.detail if outcome.detail and outcome.detail != outcome.status else ""
        self._set(outcome.job, outcome.status, outcome.run_id or "", detail)
        if outcome.status == "failed" and outcome.run_id:
            self._say(self._tail(outcome.run_id))

    def _tail(self, run_id: str) -> str:
        log = self.state_dir / "runs" / run_id / "logs" / "std_log.txt"
        try:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
        except OSError:
            return f"(no log for {run_id})"
        return "\n".join([f"--- last lines of {run_id}'s log ---", *lines, "---"])

    def _set(self, job: str, status: str, run_id: str, detail: str = "") -> None:
        with self.lock:
            if self.rows.get(job) == (status, run_id, detail):
                return
            self.rows[job] = (status, run_id, detail)
            if self.live is not None:
                self.live.update(self._table(), refresh=True)
                return
        self._say(_row_text(job, status, run_id, detail))

    def _say(self, text: str, *, markup: bool = False) -> None:
        with self.lock:
            self.console.print(text, markup=markup)
            if self.live is not None:
                self.live.refresh()

    def _table(self) -> Any:
        from rich.text import Text

        lines = [Text(_row_text(job, *row), style=_STYLE.get(row[0], "")) for job, row in self.rows.items()]
        return Text("\n").join(lines) if lines else Text("")


def _row_text(job: str, status: str, run_id: str, detail: str) -> str:
    extra = f" ({detail})" if detail else ""
    return f"{job:<16} {status:<11} {run_id}{extra}".rstrip()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
