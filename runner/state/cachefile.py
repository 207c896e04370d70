"""runner's own cache files (`.runner/cache/*`): one key scheme, one checked format.

A cache entry is used only if it verifies: the file starts with this format's magic, the
key it was written under (what the answer depends on: the input's bytes, runner's and
Python's versions, the code that computed it) and a checksum over the payload's bytes.
Anything else, a damaged, truncated or foreign file included, is a miss, never a
different answer. Payloads are `marshal` data: reading JSON would import `json` and `re`
(~7 ms) on paths that must stay fast.
"""

from __future__ import annotations

import marshal
import os
import sys

from runner.quickhash import quick_digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAGIC = b"runner-cache 1\n"


def cache_key(kind: str, *parts: str | bytes) -> str:
    """The key of a cache entry: its kind, runner's and Python's versions, and `parts`."""
    from runner import __version__

    head = f"{kind}\0{__version__}\0{sys.hexversion}".encode()
    return quick_digest(b"\0".join([head, *(p if isinstance(p, bytes) else p.encode("utf-8") for p in parts)]))


def file_stamp(path: str) -> str:
    """A source file's size and mtime: part of a key when its code decides the cached answer."""
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def read_cache(path: str, key: str) -> Any:
    """The value stored under `key` in `path`, or None when it is missing or does not verify."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    head = len(MAGIC)
    if not data.startswith(MAGIC) or len(data) < head + 82:
        return None
    stored_key, checksum = data[head:head + 40].decode("ascii", "replace"), data[head + 41:head + 81]
    payload = data[head + 82:]
    if stored_key != key or checksum != quick_digest(payload).encode("ascii"):
        return None
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None


def write_cache(path: str, key: str, value: Any) -> bool:
    """Store `value` under `key`, atomically; best effort (False when it could not)."""
    from runner.atomic import atomic_write

    try:
        payload = marshal.dumps(value)
        atomic_write(path, b"".join([MAGIC, key.encode("ascii"), b"\n", quick_digest(payload).encode("ascii"),
                                     b"\n", payload]))
    except (OSError, ValueError):  # ValueError: a value marshal cannot write
        return False
    return True
