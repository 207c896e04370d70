"""The live progress lines on a terminal (Rich): imported only once a line has to be drawn."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text


class LiveView:
    """One spinner line per open phase or silent run, redrawn in place on stderr and erased
    when nothing is left to show (or the command prints: see Tracker.paused)."""

    def __init__(self, stream: TextIO) -> None:
        self.console = Console(file=stream, highlight=False)
        self.live: Live | None = None
        self.spinners: dict[str, Spinner] = {}  # by the line's head, so that each keeps turning

    def show(self, lines: list[str]) -> None:
        if not lines:
            self.close()
            return
        rows = []
        kept = {}
        for line in lines:
            head = line.partition(":")[0].partition(" running ")[0]
            spinner = self.spinners.get(head) or Spinner("dots", style="cyan")
            spinner.update(text=Text(line, no_wrap=True, overflow="ellipsis"))
            rows.append(spinner)
            kept[head] = spinner
        self.spinners = kept
        if self.live is None:
            self.live = Live(Group(*rows), console=self.console, auto_refresh=False, transient=True,
                             redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        self.live.update(Group(*rows), refresh=True)

    def close(self) -> None:
        if self.live is not None:
            live, self.live = self.live, None
            live.stop()
            self.spinners = {}

