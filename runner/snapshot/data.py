"""Digests of data inputs (a dataset or a project path: one file or a folder), through the stat cache.

A file's digest is the sha256 of its content; a folder's is its manifest digest, as a
snapshot's, but ignore files are not applied (data folders are usually git-ignored
themselves) and there are no size warnings. Contents go into the object store like
code (a stat-cache row always has its object: a `code: .` snapshot that contains the
data trusts the same rows), so unchanged data is never read twice; gc drops the copies
no snapshot references, and those files are read again once.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from runner.errors import RunnerError
from runner.snapshot.index import FolderIndex
from runner.snapshot.statcache import stat_of
from runner.snapshot.take import Scan, classify, scan_folder, store_scan
from runner.snapshot.walk import WalkResult

if TYPE_CHECKING:
    from runner.state import State

_NO_LIMITS = SimpleNamespace(warn_mb=float("inf"), warn_files=sys.maxsize)


def hash_path(project_root: Path, rel: str, state: State) -> str:
    """The digest of the project-relative file or folder `rel` (no escaping symlinks)."""
    root = os.path.realpath(project_root)
    real = os.path.realpath(os.path.join(root, rel))
    if real != root and not real.startswith(root + os.sep):
        raise RunnerError(f"{rel}: this input leads outside the project (to {real})")
    if os.path.isdir(real):
        scan = scan_folder(Path(root), rel, state, ignore_files=False)
        return store_scan(Path(root), scan, state, None, _NO_LIMITS, code=None).digest
    if not os.path.isfile(real):
        raise RunnerError(f"{rel}: cannot read this input (it does not exist in {root})")
    return _hash_file(Path(root), rel, real, state)


def _hash_file(root: Path, rel: str, real: str, state: State) -> str:
    recorded_ns = time.time_ns()  # before the stat: the racy rule in statcache
    # One file: its stat-cache row is the whole story, no folder index.
    scan = Scan(WalkResult([stat_of(rel, os.stat(real))]), "", recorded_ns, None, FolderIndex([], None, None))
    classify(scan, state.db, root)
    snap = store_scan(root, scan, state, None, _NO_LIMITS, code=None)
    if not snap.files:
        raise RunnerError(f"{rel}: this input disappeared while it was being read; try again")
    return snap.files[0].digest
