"""Console entry point. `runner --version` answers before anything heavy is imported."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from runner import __version__

        print(f"runner {__version__}")
        return 0
    from runner.cli.app import run

    return run(args)
