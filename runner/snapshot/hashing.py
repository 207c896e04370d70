"""Read and store the files the stat cache could not vouch for; each changed file is read once.

Large files are hashed on a small thread pool (reads, sha256 of large buffers and the
object writes release the GIL), small ones one after the other. Files that were racy
when stat'ed are read again once their racy window has passed (see
`runner.snapshot.statcache`).
"""

from __future__ import annotations

import os
import time

from runner.errors import RunnerError
from runner.progress import NOTHING, Phase
from runner.snapshot.statcache import (
    MAX_WAIT_NS,
    Row,
    is_racy,
    row_for,
    stat_of,
    window,
)

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from runner.snapshot.statcache import Stat
    from runner.state.objects import ObjectStore

Found = list["Stat"]
Hashed = dict[str, tuple[Row, int]]  # project-relative path -> (cache row, bytes read)
LARGE = 1 << 20  # files from this size are hashed on a thread pool


def hash_files(objects: ObjectStore, root: str, files: Found, recorded_ns: int, step: Phase = NOTHING) -> Hashed:
    """Store every file's content; vanished files are left out of the result. `step` counts them."""
    hashed = _hash_all(objects, root, files, recorded_ns, step)
    racy = [st for st in files if st[0] in hashed and is_racy(st[2], recorded_ns)]
    if racy:
        wait = max(st[2] + window(st[2]) for st in racy) - time.time_ns()
        if wait <= MAX_WAIT_NS:
            time.sleep(max(wait, 0) / 1e9)
            again_ns = time.time_ns()
            hashed.update(_hash_all(objects, root, _restat(root, racy), again_ns))
    return hashed


def _restat(root: str, files: Found) -> Found:
    fresh = []
    for path, *_ in files:
        try:
            fresh.append(stat_of(path, os.stat(os.path.join(root, path))))
        except FileNotFoundError:
            continue
    return fresh


def _hash_all(objects: ObjectStore, root: str, files: Found, recorded_ns: int, step: Phase = NOTHING) -> Hashed:
    """Small files one after the other (their cost is Python's, which threads would only
    fight over: twice as slow on two cores); large ones on a pool (their reads, sha256 and
    writes release the GIL)."""
    one = _hasher(objects, root, recorded_ns, step)
    large = [st for st in files if st[1] >= LARGE]
    results = [one(st) for st in files if st[1] < LARGE]
    if len(large) < 2:  # no pool for one file
        results += [one(st) for st in large]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(large), 2 * (os.cpu_count() or 1))) as pool:
            results += pool.map(one, large)
    return {path: value for path, value in results if value is not None}


def _hasher(objects: ObjectStore, root: str, recorded_ns: int,
            step: Phase = NOTHING) -> Callable[[Stat], tuple[str, tuple[Row, int] | None]]:
    def one(st: Stat) -> tuple[str, tuple[Row, int] | None]:
        path = st[0]
        try:
            digest, size = objects.put_file(os.path.join(root, path))
        except FileNotFoundError:
            return path, None  # deleted since the walk: not part of this snapshot
        except PermissionError as exc:
            raise RunnerError(f"{path}: cannot read it ({exc.strerror}); fix its permissions "
                              f"or list it in .runnerignore") from exc
        step.advance()
        return path, (row_for(st, digest, recorded_ns), size)

    return one
