"""The one way runner writes a file it owns: a temp file in the same folder, then `os.replace`.

A reader sees the old content or the new, never half of it, even if the writer is killed.
"""

from __future__ import annotations

import os


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None) -> None:
    import tempfile  # here, not at the top: commands that only read never pay for it

    folder, name = os.path.split(os.fspath(path))
    folder = folder or "."
    os.makedirs(folder, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
