"""Reading a run's folders without following a symbolic link, at any level.

A run's script controls what its `outputs/` and `logs/` hold, folders included: it can
replace `outputs/` with a link to `/etc`. Every folder here is opened relative to its
parent's descriptor with `O_NOFOLLOW | O_DIRECTORY` and every file with `O_NOFOLLOW`,
so a link swapped in at any moment is refused by the kernel, never followed: nothing
outside the run folder is read.
"""

from __future__ import annotations

import errno
import os
import stat

from runner.errors import RunnerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class LinkedFolder(RunnerError):
    """A folder runner collects is a symbolic link (or not a folder)."""


def open_folder(parent: str, name: str) -> int | None:
    """A descriptor of `parent/name`, a real folder; None when it does not exist."""
    parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                st = os.lstat(name, dir_fd=parent_fd)  # type: ignore[call-arg]
            except OSError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise LinkedFolder(f"{name}/ is a symbolic link, not a folder: runner stores only files "
                                   f"inside the run folder, so nothing of {name}/ was stored") from None
            raise LinkedFolder(f"{name}/ is not a folder: nothing of it was stored") from None
        raise
    finally:
        os.close(parent_fd)


def regular_files(folder_fd: int, prefix: str, warn: Callable[[str], None]) -> Iterator[tuple[str, int, int, str]]:
    """(relative path, open descriptor, its folder's descriptor, its name) of every regular file
    under `folder_fd`, links skipped with a warning. The caller closes each file's descriptor
    (the folder's stays open until the next file); `folder_fd` is closed at the end."""
    try:
        with os.scandir(folder_fd) as scan:
            entries = sorted((entry.name, entry.is_symlink(), entry.is_dir(follow_symlinks=False))
                             for entry in scan)
        for name, is_link, is_dir in entries:
            rel = f"{prefix}/{name}"
            if is_link:
                warn(f"{rel} is a symbolic link: not stored (only files inside the run folder are)")
                continue
            flags = DIR_FLAGS if is_dir else FILE_FLAGS
            try:
                fd = os.open(name, flags, dir_fd=folder_fd)
            except FileNotFoundError:
                continue  # gone since the listing
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a link since the listing
                    warn(f"{rel} is a symbolic link: not stored (only files inside the run folder are)")
                    continue
                raise
            if is_dir:
                yield from regular_files(fd, rel, warn)
                continue
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a fifo, a socket, a device: never read
                os.close(fd)
                continue
            os.set_blocking(fd, True)
            yield rel, fd, folder_fd, name
    finally:
        os.close(folder_fd)
