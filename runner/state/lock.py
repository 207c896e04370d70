"""The project write lock: one writer at a time per `.runner/`.

It is an OS file lock (filelock on `.runner/lock`), so a crashed holder never leaves a
stale lock behind: the kernel releases it. The holder writes its pid to `lock.pid` so a
waiting process can say whom it waits for. Read-only commands never take it.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from runner.atomic import atomic_write
from runner.errors import LockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

WAITING = "waiting for another runner in this project (pid {pid})…"


class ProjectLock:
    """Re-entrant within one process: nested `hold()` calls share one acquisition."""

    def __init__(self, state_root: Path) -> None:
        self.path = state_root / "lock"
        self.pid_path = state_root / "lock.pid"
        self._lock: Any = None
        self._depth = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self._depth == 0:
            self._acquire()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._release()

    def holder(self) -> str:
        """The pid the current holder wrote, or '?' while it has not written it yet."""
        try:
            return self.pid_path.read_text(encoding="utf-8").strip() or "?"
        except OSError:
            return "?"

    def _acquire(self) -> None:
        from filelock import FileLock, Timeout  # only writers pay for this import

        self._lock = FileLock(str(self.path), thread_local=False)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            print(WAITING.format(pid=self.holder()), file=sys.stderr, flush=True)
            self._wait()
        except OSError as exc:
            raise self._error(exc) from exc
        atomic_write(self.pid_path, f"{os.getpid()}\n")

    def _wait(self) -> None:
        try:
            self._lock.acquire(timeout=-1, poll_interval=0.05)
        except OSError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: OSError) -> LockError:
        return LockError(f"{self.path}: cannot take the project lock ({exc}); if .runner is on "
                         f"a network filesystem, set RUNNER_STATE_DIR to a local folder")

    def _release(self) -> None:
        try:
            self.pid_path.unlink()
        except FileNotFoundError:
            pass
        self._lock.release()
        self._lock = None
