"""Digests of data inputs (a dataset or a project path: one file or a folder), through the stat cache.

A folder's digest is its manifest digest (ignore files inside data folders are not
applied: data is what it is). Contents go into the object store like code, so a data
version can be staged or compared later.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import RunnerError
from runner.snapshot import statcache

if TYPE_CHECKING:
    from runner.state import State


def hash_path(project_root: Path, rel: str, state: State) -> str:
    path = project_root / rel
    if path.is_dir():
        from runner.snapshot.take import scan_folder, store_scan

        scan = scan_folder(project_root, rel, state, ignore_files=False)
        return store_scan(project_root, scan, state, None, None, code=None).digest
    return _hash_file(project_root, rel, state)


def _hash_file(project_root: Path, rel: str, state: State) -> str:
    recorded_ns = time.time_ns()
    try:
        st = os.stat(project_root / rel)
    except OSError as exc:
        raise RunnerError(f"{rel}: cannot read this input ({exc.strerror})") from exc
    cached = statcache.lookup(statcache.load_path(state.db, rel).get(rel), st)
    if cached is not None:
        return cached
    digest, _size = state.objects.put_file(project_root / rel)
    if state.exists:
        with state.transaction() as db:
            statcache.save(db, {rel: statcache.row_for(st, digest, recorded_ns)}, [])
    return digest
