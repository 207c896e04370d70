"""Console entry point. `runner --version` answers before anything heavy is imported, and
plain `runner snapshot JOB` and `runner apply` without Typer (runner.cli.hot); everything
else goes to Typer.

The CLI only parses and prints: each command calls a typed function of the package and
renders its result (`render`).

May import: everything below it.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from runner import __version__

        print(f"runner {__version__}")
        return 0
    import gc

    from runner.cli.hot import run as run_hot

    # A command's objects are mostly acyclic rows (a snapshot's 10,000 paths, a plan): collecting
    # every 700 allocations costs an edit's apply ~7 ms for nothing; every 50,000 keeps memory bounded.
    gc.set_threshold(50_000, 10, 10)

    # The installed command's `snapshot` is over in milliseconds: no collection at all (`apply`
    # may run for hours: it keeps it). Both end the process at once when done.
    short = argv is None and args[:1] == ["snapshot"]
    if short:
        gc.disable()  # no collection of a snapshot's 10,000 tuples just before the process ends
    code = run_hot(args)
    if code is not None:
        if argv is None:
            _exit_now(code)
        return code
    if short:
        gc.enable()
    from runner.cli.app import run

    return run(args)


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down: freeing a snapshot's 10,000
    tuples and every module one by one costs ~20 ms, and a hot command has already closed
    its state, joined its threads and waited for its runs: nothing is left but its output
    to flush."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the process was started with that descriptor closed
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: the reader went away
            pass
    os._exit(code)
