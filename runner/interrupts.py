"""Treat "please stop" signals like Ctrl-C, so cleanup code runs the same way for all of them.

A detached apply (the git hook) is stopped with SIGTERM, and `runner watch` loses its
terminal with SIGHUP; Python's default for both is to die at once, skipping `finally`
blocks, which would leave a commit's exported tree behind, or runs (each in its own
session) without anyone to cancel them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_signals_interrupt(*signums: int) -> Iterator[None]:
    """Within the block, raise KeyboardInterrupt on these signals (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["stop_signals_interrupt"]
