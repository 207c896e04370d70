"""Take a job's snapshot: walk, ask the stat cache, hash what changed, record the manifest.

A no-op (nothing changed, manifest already recorded as the job's latest) writes nothing
and takes no lock. Otherwise the writer path takes the project lock (`record=True`),
stores the changed files and the manifest as objects, then commits the cache rows and
the `snapshots` row in one transaction, after the objects are durable.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.runs.store import (
    now,  # one timestamp format: snapshots and runs are sorted together
)
from runner.snapshot import statcache
from runner.snapshot.hashing import Hashed, hash_files
from runner.snapshot.limits import size_warnings
from runner.snapshot.manifest import FileEntry, encode, encode_rows
from runner.snapshot.walk import WalkResult, walk

if TYPE_CHECKING:
    from runner.state import State


@dataclass(frozen=True)
class Snapshot:
    job: str | None
    digest: str
    files: tuple[FileEntry, ...]
    bytes: int
    hashed: int                    # files read and hashed by this call
    excluded: tuple[str, ...]      # excluded top-level entries of the code folder
    warnings: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "digest": self.digest, "files": len(self.files), "bytes": self.bytes,
                "hashed": self.hashed, "excluded": list(self.excluded)}


@dataclass
class Scan:
    found: WalkResult
    prefix: str
    known: dict[str, str]          # project-relative path -> digest vouched for by the cache
    dirty: list[tuple[str, os.stat_result]]
    stale: list[str]               # cache rows of files that are gone
    recorded_ns: int


def take_snapshot(project_root: Path, code: str, state: State, *, job: str | None = None,
                  limits: Any = None, record: bool = True, omit: frozenset[str] = frozenset()) -> Snapshot:
    """Snapshot `project_root/code`. `limits` has `warn_mb` and `warn_files` (spec.snapshot);
    `omit` names project-relative files left out (the spec file, see `walk`).

    record=True stores the manifest and a `snapshots` row (under the project lock);
    record=False (`runner plan`) only fills the caches (stat cache, objects).
    """
    scan = scan_folder(project_root, code, state, omit=omit)
    if record and not scan.dirty and not scan.stale:
        snap = _snapshot(scan, {}, job, limits)
        if _latest(state, job, code) == snap.digest and state.objects.has(snap.digest):
            return snap
    if not record:
        return store_scan(project_root, scan, state, job, limits, code=None)
    with state.lock():
        return store_scan(project_root, scan, state, job, limits, code=code)


def scan_folder(project_root: Path, code: str, state: State, *, ignore_files: bool = True,
                omit: frozenset[str] = frozenset()) -> Scan:
    recorded_ns = time.time_ns()  # before any stat: see the racy rule in statcache
    found = walk(project_root, code, ignore_files=ignore_files, skip=state.root, omit=omit)
    prefix = "" if code == "." else code + "/"
    scan = classify(found, prefix, statcache.load(state.db, prefix), recorded_ns)
    # A row the walk did not return is only dropped when its file is gone: under `code: .`
    # the rows of a git-ignored dataset (hashed as a data input) must stay.
    scan.stale = [p for p in scan.stale if not os.path.lexists(os.path.join(project_root, p))]
    return scan


def classify(found: WalkResult, prefix: str, cache: dict[str, statcache.Cached], recorded_ns: int) -> Scan:
    """Split the walked files into those the cache vouches for and those to read."""
    known: dict[str, str] = {}
    dirty = []
    lookup, get = statcache.lookup, cache.get
    for path, st in found.files:
        digest = lookup(get(path), st)
        if digest is None:
            dirty.append((path, st))
        else:
            known[path] = digest
    stale = list(cache.keys() - {path for path, _ in found.files}) if len(cache) > len(known) else []
    return Scan(found, prefix, known, dirty, stale, recorded_ns)


def store_scan(project_root: Path, scan: Scan, state: State, job: str | None, limits: Any,
               *, code: str | None) -> Snapshot:
    """Hash the dirty files; commit cache rows (and, with `code`, the recorded snapshot)."""
    root = os.path.realpath(project_root)
    with state.objects.batch():
        hashed = hash_files(state.objects, root, scan.dirty, scan.recorded_ns)
        snap = _snapshot(scan, hashed, job, limits)
        if code is not None:
            state.objects.put_bytes(encode(snap.files))  # the bytes whose hash is snap.digest
    if not state.exists:
        return snap
    with state.transaction() as db:
        rows = {p: row for p, (row, _) in hashed.items()}
        if code is None:  # no project lock: gc may have removed an object since we stored it
            rows = {p: row for p, row in rows.items() if state.objects.has(row.digest)}
        statcache.save(db, rows, scan.stale)
        if code is not None and _latest(state, job, code) != snap.digest:
            db.execute("INSERT INTO snapshots (job, digest, files, bytes, created_at, code) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (job, snap.digest, len(snap.files), snap.bytes, now(), code))
    return snap


def _snapshot(scan: Scan, hashed: Hashed, job: str | None, limits: Any) -> Snapshot:
    rows = _rows(scan, hashed)
    rows.sort()  # paths are unique, so this sorts by path
    files = tuple(map(FileEntry, *zip(*rows))) if rows else ()
    label = f"job {job!r}" if job else f"code folder {scan.prefix.rstrip('/') or '.'!r}"
    warnings = scan.found.warnings + size_warnings(files, label, getattr(limits, "warn_mb", None),
                                                   getattr(limits, "warn_files", None))
    return Snapshot(job=job, digest=hashlib.sha256(encode_rows(rows)).hexdigest(), files=files,
                    bytes=sum(row[1] for row in rows), hashed=len(hashed),
                    excluded=tuple(sorted(scan.found.excluded)), warnings=tuple(warnings))


def _rows(scan: Scan, hashed: Hashed) -> list[tuple[str, int, int, str]]:
    """(path in the code folder, size, normalised mode, digest) of every file still there."""
    cut, known, rows = len(scan.prefix), scan.known, []
    for path, st in scan.found.files:
        mode = 0o755 if st.st_mode & 0o111 else 0o644  # only "executable or not" is kept
        if path in known:
            rows.append((path[cut:], st.st_size, mode, known[path]))
        elif path in hashed:
            row, size = hashed[path]
            rows.append((path[cut:], size, mode, row.digest))
    return rows


def _latest(state: State, job: str | None, code: str) -> str | None:
    row = state.db.execute("SELECT digest FROM snapshots WHERE job IS ? AND code IS ? ORDER BY id DESC LIMIT 1",
                           (job, code)).fetchone()
    return row[0] if row else None
