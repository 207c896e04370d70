"""Writing stored files out of the object store into a user's folder (`runs download`,
`models download`), never outside it.

The paths come from state.db, which may come from anywhere (a CI cache, a copied
`.runner/`): every one is checked before anything is written (relative, no `..`, no
empty part), and every folder on the way is opened with `O_NOFOLLOW` relative to its
parent, so an existing link inside the destination is never written through. Each
file is verified against its digest while it is copied and renamed into place whole.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from runner.errors import StateError
from runner.state.nofollow import DIR_FLAGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from runner.state.objects import ObjectError, ObjectStore


class UnsafePath(StateError):
    """A stored path would write outside the destination folder."""


def path_problem(rel: str) -> str | None:
    """Why a stored relative path cannot be written under a folder; None when it can."""
    if not rel:
        return "is empty"
    if rel.startswith("/") or os.path.isabs(rel):
        return "is absolute"
    parts = rel.split("/")
    if any(part in ("..",) for part in parts):
        return "goes up with `..`"
    if any(part in ("", ".") for part in parts) or "\0" in rel:
        return "is not a plain relative path"
    return None


def write_files(objects: ObjectStore, dest: Path, rows: Iterable[tuple[str, str]], what: str,
                damaged: Callable[[str, str, ObjectError], Exception] | None = None) -> list[Path]:
    """Copy each (relative path, digest) under `dest`; returns the files written.

    Every path is checked first: a bad one is an error naming it, and nothing is written.
    """
    from runner.state.objects import ObjectError

    items = list(rows)
    for rel, _digest in items:
        problem = path_problem(rel)
        if problem is not None:
            raise UnsafePath(f"{what}: the stored path {rel!r} {problem}; nothing was written (state.db "
                             f"was altered: run `runner doctor`)")
    os.makedirs(dest, exist_ok=True)
    written = []
    for rel, digest in items:
        folder_fd, name = _open_parent(dest, rel, what)
        try:
            objects.copy_into(digest, folder_fd, name, mode=0o644)
        except ObjectError as exc:
            raise (damaged(rel, digest, exc) if damaged else exc) from None
        except IsADirectoryError:
            raise UnsafePath(f"{what}: {dest / rel} is a folder; nothing was written over it") from None
        finally:
            os.close(folder_fd)
        written.append(dest / rel)
    return written


def _open_parent(dest: Path, rel: str, what: str) -> tuple[int, str]:
    """A descriptor of the folder `rel`'s file goes in (made as needed, no link followed), and its name."""
    *folders, name = rel.split("/")
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for index, part in enumerate(folders):
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                inner = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                where = "/".join(folders[:index + 1])
                raise UnsafePath(f"{what}: {dest / where} is a symbolic link or a file, not a folder; "
                                 f"{rel} was not written through it") from None
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd, name
