"""Materialise a stored snapshot into a folder (a run's working folder): copies, modes kept."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import StateError
from runner.snapshot.index import clear as clear_indexes
from runner.snapshot.manifest import FileEntry, load_manifest
from runner.state.db import connect, transaction
from runner.state.objects import ObjectError

if TYPE_CHECKING:
    from runner.state import State


def stage_snapshot(state: State, digest: str, dest: Path) -> None:
    """Copy every file of snapshot `digest` under `dest` (created if needed), verified by digest.

    A missing or damaged object raises `ObjectError`; its stat-cache rows are dropped
    first, so the next `runner snapshot` reads those files again and stores them anew.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for entry in load_manifest(state, digest):
        target = dest / _safe(entry, digest)
        try:
            state.objects.copy_to(entry.digest, target, mode=entry.mode)
        except ObjectError as exc:
            forget(state, exc.digest)
            raise


def _safe(entry: FileEntry, digest: str) -> str:
    path = entry.path
    if path.startswith("/") or posixpath.normpath(path) != path or path.split("/")[0] == "..":
        raise StateError(f"snapshot {digest} holds a path that leaves its folder ({path!r}); "
                         f"it is damaged: delete its object and take the snapshot again")
    return path


def forget(state: State, digest: str) -> None:
    """Drop stat-cache rows (and every folder index) that may point at a missing or damaged
    object, so its files are read and stored again by the next snapshot.

    Its own connection: runs are staged in worker threads, and a connection is per thread."""
    if not state.exists:
        return
    db = connect(state.layout.db)
    try:
        with transaction(db):
            db.execute("DELETE FROM stat_cache WHERE digest = ?", (digest,))
            clear_indexes(db)  # folder indexes are shortcuts to those rows
    finally:
        db.close()
