"""Take a job's snapshot: walk, ask the folder index and the stat cache, hash what changed, record.

A no-op (the folder index vouches for the whole walk, or nothing changed and the manifest
is already the job's latest) writes nothing but a missing index and takes no lock.
Otherwise the writer path takes the project lock (`record=True`), stores the changed
files and the manifest as objects, then commits the cache rows, the folder index and
the `snapshots` row in one transaction, after the objects are durable.
"""

from __future__ import annotations

import os
import time

from runner import progress
from runner.collector import gc_paused
from runner.errors import StateError
from runner.snapshot import ignore, records, statcache
from runner.snapshot import index as folder_index
from runner.snapshot.hashing import Hashed, hash_files
from runner.snapshot.limits import size_warnings
from runner.snapshot.manifest import (
    FileEntry,
    decode,
    encode_rows,
    know_changes,
    replace_rows,
    rows_at,
)
from runner.snapshot.walk import WalkResult, walk

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from runner.snapshot.index import FolderIndex, PatchedDigests
    from runner.snapshot.statcache import Stat
    from runner.state import State
    from runner.state.objects import ObjectStore

Row = tuple[str, int, int, str]  # a manifest entry: (path in the code folder, size, mode, digest)
LOAD_ALL_FROM = 200  # more unknown files than this: load the folder's stat-cache rows in one query
PATCH_UP_TO = 64  # at most this many changed files: edit the previous manifest instead of rebuilding it


class Snapshot:
    """A code folder's snapshot. Its `files` are built on first use: a no-op that the
    folder index answers only needs the count and size."""

    __slots__ = ("_files", "_rows", "bytes", "count", "digest", "excluded", "hashed", "job", "warnings")

    def __init__(self, job: str | None, digest: str, rows: Callable[[], list[Row]], *, count: int,
                 size: int, hashed: int, excluded: tuple[str, ...], warnings: tuple[str, ...]) -> None:
        self.job = job
        self.digest = digest
        self.count = count
        self.bytes = size
        self.hashed = hashed            # files read and hashed by this call
        self.excluded = excluded        # excluded top-level entries of the code folder
        self.warnings = warnings
        self._rows = rows
        self._files: tuple[FileEntry, ...] | None = None

    @property
    def files(self) -> tuple[FileEntry, ...]:
        if self._files is None:
            self._files = tuple(FileEntry(*row) for row in self._rows())
        return self._files

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "digest": self.digest, "files": self.count, "bytes": self.bytes,
                "hashed": self.hashed, "excluded": list(self.excluded)}


class Scan:
    """A walked folder and what the caches know: `digests[i]` is `found.files[i]`'s content
    digest, or None for a file to read (listed in `dirty`)."""

    __slots__ = ("digests", "dirty", "found", "index", "index_key", "indexed", "misses", "prefix", "recorded_ns",
                 "same_files", "stale")

    def __init__(self, found: WalkResult, prefix: str, recorded_ns: int, index_key: str | None,
                 index: FolderIndex) -> None:
        self.found = found
        self.prefix = prefix
        self.recorded_ns = recorded_ns
        self.index_key = index_key
        self.index = index
        self.indexed = index.vouches_for(found.files)  # nothing changed since the index was written
        self.digests: list[str | None] | PatchedDigests = []  # filled by classify (indexed: see known_digests)
        self.dirty: list[int] = []       # positions in found.files
        self.stale: list[str] = []       # stat-cache rows of files that are gone
        self.misses: list[int] = []      # positions whose digest the index did not vouch for
        self.same_files = self.indexed   # the index's files, in the same order (only stats differ)

    def known_digests(self) -> list[str | None] | PatchedDigests:
        """`digests`, or the index's when it vouched for the whole walk (read only if needed)."""
        return self.index.digests if self.indexed else self.digests


def take_snapshot(project_root: Path, code: str, state: State, *, job: str | None = None,
                  limits: Any = None, record: bool = True, omit: frozenset[str] = frozenset(),
                  files: bool = True) -> Snapshot:
    """Snapshot `project_root/code`. `limits` has `warn_mb` and `warn_files` (spec.snapshot);
    `omit` names project-relative files left out (the spec file, see `walk`).

    record=True stores the manifest and a `snapshots` row (under the project lock);
    record=False (`runner plan`) only fills the caches (stat cache, folder index, objects).
    files=False: the caller does not need the snapshot's `files` (an unchanged folder then
    costs one read of its index's header; `files` would read the rest while `state` is open).
    """
    with gc_paused():  # the walk, the index and the manifest are tens of thousands of acyclic tuples
        try:
            snap = _take(project_root, code, state, job, limits, record, omit, files)
        except folder_index.IndexUnreadable:  # another runner saved the index meanwhile, or it is damaged:
            if files:                         # reading all of it first falls back to the stat cache
                raise
            snap = _take(project_root, code, state, job, limits, record, omit, True)
    state.objects.know(snap.digest, lambda: snap.files)  # staging this snapshot need not read it back
    return snap


def _take(project_root: Path, code: str, state: State, job: str | None, limits: Any, record: bool,
          omit: frozenset[str], files: bool) -> Snapshot:
    scan = scan_folder(project_root, code, state, omit=omit, patch=not files)
    if files:
        with_digests(scan, state.db, project_root)
    if not scan.dirty and not scan.stale:
        snap, _ = _snapshot(scan, {}, job, limits, encode=False, objects=state.objects)
        if not record or (records.latest(state.db, job, code) == snap.digest and state.objects.has(snap.digest)):
            if not scan.indexed and state.exists:
                with state.transaction() as db:
                    folder_index.save(db, scan.index_key, _index(scan, {}, snap.digest), scan.index)
            return snap
    if not record:
        return store_scan(project_root, scan, state, job, limits, code=None)
    with state.lock():
        if folder_index.generation(state.db) != scan.index.generation:
            scan = scan_folder(project_root, code, state, omit=omit, patch=not files)  # gc ran: a digest may be gone
        return store_scan(project_root, scan, state, job, limits, code=code)


def scan_folder(project_root: Path, code: str, state: State, *, ignore_files: bool = True,
                omit: frozenset[str] = frozenset(), patch: bool = False) -> Scan:
    """Walk and classify. patch=True: after an edit of a few files, read the digests of
    their chunks only (the scan can then list its files only while `state` is open)."""
    recorded_ns = time.time_ns()  # before any stat: see the racy rule in statcache
    translations = state.layout.cache_file("ignore-patterns.marshal") if state.exists else None
    if translations and ignore_files:
        ignore.load_translations(translations)
    with gc_paused():
        found = walk(project_root, code, ignore_files=ignore_files, skip=state.root_path, omit=omit)
        if translations and ignore_files:
            ignore.save_translations(translations)
        key = folder_index.key(code, ignore_files, omit)
        scan = Scan(found, "" if code == "." else code + "/", recorded_ns, key, folder_index.load(state.db, key))
        if not scan.indexed:
            classify(scan, state.db, project_root, state.objects if patch else None)
    return scan


def with_digests(scan: Scan, db: Any, project_root: Path) -> None:
    """Make sure an indexed scan can list its files' digests (a no-op read only the index's
    header): read them, or, if another runner saved the index since, ask the stat cache."""
    if scan.indexed:
        try:  # read now, while the scan can still change course
            scan.index.digests_for(len(scan.found.files))
        except folder_index.IndexUnreadable:
            scan.index, scan.indexed = scan.index.emptied(), False
            classify(scan, db, project_root)


def classify(scan: Scan, db: Any, project_root: Path, objects: ObjectStore | None = None) -> None:
    """Fill `scan.digests`: from the folder index where a file's stat is unchanged, else from
    its stat-cache row; files neither vouches for are `dirty`. `objects`: where the previous
    manifest must be for an edit to read only its chunks' digests (see `_edited_manifest`)."""
    files = scan.found.files
    manifest = scan.index.manifest
    patch = objects is not None and manifest is not None and objects.has(manifest)
    try:
        digests, misses, scan.same_files = _from_index(scan.index, files, patch)
    except folder_index.IndexUnreadable:  # saved by another runner since, or damaged
        scan.index = scan.index.emptied()
        digests, misses, scan.same_files = _from_index(scan.index, files, False)
    scan.misses = misses
    if len(misses) > LOAD_ALL_FROM:
        rows = statcache.load(db, scan.prefix)
        known = rows.keys() | {st[0] for st in scan.index.stats}
    else:
        rows = statcache.load_paths(db, [files[i][0] for i in misses])
        # some file the index knew is gone only if the walk has fewer known files than the index
        gone = not scan.same_files and len(scan.index.stats) + len(misses) > len(files)
        known = {st[0] for st in scan.index.stats} if gone else set()
    if known:
        walked = {st[0] for st in files}
        scan.stale = [path for path in known if path not in walked]
    lookup = statcache.lookup
    for i in misses:
        digest = lookup(rows.get(files[i][0]), files[i])
        if digest is None:
            scan.dirty.append(i)
        else:
            digests[i] = digest
    scan.digests = digests
    # A row the walk did not return is only dropped when its file is gone: under `code: .`
    # the rows of a git-ignored dataset (hashed as a data input) must stay.
    scan.stale = [p for p in scan.stale if not os.path.lexists(os.path.join(project_root, p))]


def _from_index(index: FolderIndex, files: list[Stat],
                patch: bool) -> tuple[list[str | None] | PatchedDigests, list[int], bool]:
    """Digests the index vouches for, the positions of the files it does not, and whether
    the walk has exactly the index's files in the same order. `patch`: a few edits may
    read only their chunks' digests (the index then trusts every digest: it has a manifest)."""
    changed = index.changed(files)  # the usual edit: same files in the same order, a few stats differ
    if changed is not None:
        if patch and len(changed) <= PATCH_UP_TO:
            return index.patched(len(files), dict.fromkeys(changed)), changed, True
        digests = list(index.digests_for(len(files)))
        for i in changed:
            digests[i] = None
        return digests, [i for i, digest in enumerate(digests) if digest is None], True
    previous = index.known()
    digests, misses = [], []
    for st in files:
        entry = previous.get(st[0])
        if entry is not None and entry[1] is not None and entry[0] == st:
            digests.append(entry[1])
        else:
            misses.append(len(digests))
            digests.append(None)
    return digests, misses, False


def store_scan(project_root: Path, scan: Scan, state: State, job: str | None, limits: Any,
               *, code: str | None) -> Snapshot:
    """Hash the dirty files; commit cache rows, the folder index and (with `code`) the recorded snapshot."""
    with_digests(scan, state.db, project_root)
    root = os.path.realpath(project_root)
    files = scan.found.files
    dirty = [files[i] for i in scan.dirty]
    with state.objects.batch(), progress.phase(f"storing {len(dirty):,} new objects", len(dirty), "files",
                                               sum(st[1] for st in dirty)) as step:
        hashed = hash_files(state.objects, root, dirty, scan.recorded_ns, step)
        snap, manifest = _snapshot(scan, hashed, job, limits, encode=code is not None, objects=state.objects)
        if code is not None:
            state.objects.put_bytes(manifest, snap.digest)  # _snapshot hashed these very bytes
    if not state.exists:
        return snap
    with state.transaction() as db:
        rows = {p: row for p, (row, _) in hashed.items()}
        if code is None:  # no project lock: gc may have removed an object since we stored it
            rows = {p: row for p, row in rows.items() if state.objects.has(row.digest)}
        statcache.save(db, rows, scan.stale)
        if scan.index_key is not None:
            folder_index.save(db, scan.index_key, _index(scan, {p: hashed[p] for p in rows}, snap.digest),
                              scan.index)
        if code is not None and records.latest(db, job, code) != snap.digest:
            records.record(db, job, code, snap.digest, snap.count, snap.bytes)
    return snap


def _snapshot(scan: Scan, hashed: Hashed, job: str | None, limits: Any, *, encode: bool,
              objects: ObjectStore | None = None) -> tuple[Snapshot, bytes]:
    """The snapshot of the scan once `hashed` is known, and (if `encode` or needed for the
    digest) its manifest's bytes. `objects`: where the previous manifest may be read."""
    files = scan.found.files
    rows: list[Row] | None = None
    if scan.indexed and not encode:
        manifest = b""  # unchanged: the index knows the digest
        digest = str(scan.index.manifest)
        count, size = len(files), sum(st[1] for st in files)
    else:
        import hashlib  # not at the top: a no-op snapshot never needs it (importing it costs ~2.5 ms)

        if (edited := _edited_manifest(scan, hashed, objects)) is not None:
            manifest, size, gone, came = edited
            count = len(files)
        else:
            rows = _rows(scan, hashed)
            manifest = encode_rows(rows)
            count, size = len(rows), sum(row[1] for row in rows)
        digest = hashlib.sha256(manifest).hexdigest()
        if edited is not None and objects is not None:  # what changed since the previous manifest: known
            know_changes(objects, str(scan.index.manifest), digest, gone, came)

    def entries() -> list[Row]:
        if rows is not None:
            return rows
        if manifest and isinstance(scan.digests, folder_index.PatchedDigests):  # maybe no longer readable
            return [tuple(entry) for entry in decode(manifest, digest)]
        return _rows(scan, hashed)

    def walked() -> list[tuple[str, int]]:  # the largest files and folders need no digests
        cut = len(scan.prefix)
        return [(st[0][cut:], st[1]) for st in files]

    label = f"job {job!r}" if job else f"code folder {scan.prefix.rstrip('/') or '.'!r}"
    warnings = scan.found.warnings + size_warnings(walked, count, size, label, getattr(limits, "warn_mb", None),
                                                   getattr(limits, "warn_files", None))
    snap = Snapshot(job, digest, entries, count=count, size=size, hashed=len(hashed),
                    excluded=tuple(sorted(scan.found.excluded)), warnings=tuple(warnings))
    return snap, manifest


def _rows(scan: Scan, hashed: Hashed) -> list[Row]:
    """(path in the code folder, size, normalised mode, digest) of every file still there, by path."""
    cut, files = len(scan.prefix), scan.found.files
    rows = [(st[0][cut:], st[1], _mode(st[5]), digest)
            for st, digest in zip(files, scan.known_digests()) if digest is not None]
    for i in scan.dirty:
        st = files[i]
        if st[0] in hashed:  # else: deleted since the walk, not part of this snapshot
            row, size = hashed[st[0]]
            rows.append((st[0][cut:], size, _mode(st[5]), row.digest))
    rows.sort()  # paths are unique, so this sorts by path
    return rows


def _mode(st_mode: int) -> int:
    """The manifest keeps only "executable or not" of a file's mode (as git does)."""
    return 0o755 if st_mode & 0o111 else 0o644


def _edited_manifest(scan: Scan, hashed: Hashed, objects: ObjectStore | None
                     ) -> tuple[bytes, int, dict[str, FileEntry], dict[str, FileEntry]] | None:
    """The manifest and total size as an edit of the previous manifest's rows, when the
    folder has the same files and only a few changed (rebuilding 10,000 rows costs more),
    and the rows whose file changed, before and after (not those whose stat alone did); or None."""
    if objects is None or not scan.same_files or scan.index.manifest is None or \
            not 0 < len(scan.misses) <= PATCH_UP_TO:
        return None
    cut, files, size = len(scan.prefix), scan.found.files, 0
    changed = {}
    for i in scan.misses:
        st = files[i]
        digest, got = scan.digests[i], st[1]
        if digest is None:
            if st[0] not in hashed:
                return None  # deleted since the walk
            row, got = hashed[st[0]]
            digest = row.digest
        changed[st[0][cut:]] = (got, _mode(st[5]), digest)
        size += got - st[1]
    try:
        previous = objects.read_bytes(scan.index.manifest)
    except StateError:
        return None  # a plan's snapshot: its manifest was never stored
    edited, before = replace_rows(previous, changed), rows_at(previous, changed)
    if edited is None or before is None:
        return None
    gone = {path: entry for path, entry in before.items() if entry != FileEntry(path, *changed[path])}
    return edited, size + sum(st[1] for st in files), gone, {path: FileEntry(path, *changed[path]) for path in gone}


def _index(scan: Scan, hashed: Hashed, manifest: str) -> FolderIndex:
    """The folder index after this scan: a digest only where the stat cache would trust it."""
    digests = scan.known_digests().copy()
    files = scan.found.files
    for i in scan.dirty:
        st = files[i]
        found = hashed.get(st[0])
        if found is not None:
            row = found[0]
            trusted = (row.size, row.mtime_ns, row.ino, row.ctime_ns) == st[1:5] and \
                not statcache.is_racy(row.mtime_ns, row.recorded_ns)
            digests[i] = row.digest if trusted else None
    return scan.index.successor(files, digests, manifest)

