"""Console entry point. `runner --version` answers before anything heavy is imported, and
`runner snapshot JOB` without Typer (runner.cli.hot); everything else goes to Typer."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from runner import __version__

        print(f"runner {__version__}")
        return 0
    from runner.cli.hot import run as run_hot

    code = run_hot(args)
    if code is not None:
        return code
    from runner.cli.app import run

    return run(args)
