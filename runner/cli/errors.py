"""How every command ends when something goes wrong, with Typer (runner.cli.app) or without
(runner.cli.hot): one place, so both paths print the same messages and exit codes.

A `RunnerError` is the user's to fix: its message on stderr, its exit code. Anything else
that escapes is a bug: a crash log with the traceback, exit 3. Importing this module costs
nothing beyond `sys`: the hot path imports it before it knows whether anything fails.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def guarded(command: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    """Run `command` and turn whatever it raises into a message and an exit code."""
    from runner.errors import RunnerError

    try:
        return command(*args, **kwargs)
    except KeyboardInterrupt:
        return interrupted()
    except BrokenPipeError:  # the reader of our output went away (`runner runs list | head -1`)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    except RunnerError as exc:
        print(f"{exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 (anything else is a bug: keep the traceback for the report)
        return disk_full(exc) if _is_disk_full(exc) else report_bug(exc)


def _is_disk_full(exc: BaseException) -> bool:
    from runner.errors import is_disk_full

    return is_disk_full(exc)


def disk_full(exc: BaseException) -> int:
    """A full disk is the machine's state, not a bug: one line naming what was being written."""
    what = getattr(exc, "filename", None) or "the state database (.runner/state.db)"
    print(f"runner: no space left on device while writing {what}; free some space and run the "
          f"command again", file=sys.stderr)
    return 1


def interrupted() -> int:
    print("runner: interrupted", file=sys.stderr)
    return 130


def report_bug(exc: BaseException) -> int:
    import tempfile
    import time
    import traceback

    fd, path = tempfile.mkstemp(prefix=f"runner-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log")
    with open(fd, "w", encoding="utf-8") as log:
        log.write(f"runner {sys.argv!r}\n")
        traceback.print_exception(exc, file=log)
    print(f"runner: internal error: {type(exc).__name__}: {exc}\n"
          f"This is a bug in runner; please report it with the log at {path}", file=sys.stderr)
    return 3
