"""The project write lock: one writer at a time per `.runner/`.

It is an OS file lock (`flock` on `.runner/lock`), so a crashed holder never leaves a
stale lock behind: the kernel releases it. The holder writes its pid to `lock.pid` so a
waiting process can say whom it waits for. Read-only commands never take it.

`fcntl.flock` itself, not the filelock package (which does the same on Linux and macOS):
importing filelock costs ~45 ms, as much as a whole unchanged snapshot.
"""

from __future__ import annotations

import contextlib
import os
import sys
from contextlib import contextmanager

from runner.errors import LockError, is_disk_full
from runner.state.layout import StateLayout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

WAITING = "waiting for another runner in this project (pid {pid})…"


class ProjectLock:
    """Re-entrant within one process: nested `hold()` calls share one acquisition."""

    def __init__(self, state_root: str | os.PathLike[str]) -> None:
        layout = StateLayout(state_root)  # strings: pathlib costs a snapshot ~8 ms
        self.path, self.pid_path = layout.lock, layout.lock_pid
        self._fd: int | None = None
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
            with open(self.pid_path, encoding="utf-8") as handle:
                return handle.read().strip() or "?"
        except OSError:
            return "?"

    def _acquire(self) -> None:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._error(exc) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(WAITING.format(pid=self.holder()), file=sys.stderr, flush=True)
                fcntl.flock(fd, fcntl.LOCK_EX)  # Ctrl-C interrupts the wait
        except OSError as exc:
            os.close(fd)
            raise self._error(exc) from exc
        except BaseException:
            os.close(fd)
            raise
        try:
            self._write_pid()
        except OSError as exc:
            if not is_disk_full(exc):  # a full disk: the lock holds all the same, the pid only names us
                os.close(fd)  # releases the lock: a watch must not wait on itself later
                raise self._error(exc) from exc
        self._fd = fd

    def _write_pid(self) -> None:
        """Written aside and renamed, so a waiting process reads a whole pid; no fsync: it
        only names the holder, and the kernel lock is what counts."""
        aside = f"{self.pid_path}.{os.getpid()}"
        try:
            with open(aside, "w", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()}\n")
            os.replace(aside, self.pid_path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(aside)
            raise

    def _error(self, exc: OSError) -> LockError:
        if is_disk_full(exc):
            return LockError(f"{self.path}: cannot take the project lock: no space left on device; "
                             f"free some space and run the command again")
        if isinstance(exc, PermissionError):
            return LockError(f"{self.path}: cannot take the project lock: permission denied")
        return LockError(f"{self.path}: cannot take the project lock ({exc}); if .runner is on "
                         f"a network filesystem, set RUNNER_STATE_DIR to a local folder")

    def _release(self) -> None:
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
