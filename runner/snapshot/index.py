"""A folder's index: the walk of its last snapshot and the digests the stat cache vouched for.

The stat cache answers per file, but loading 10,000 rows from SQLite costs more than
walking the folder. So each snapshotted folder (keyed by folder, ignore mode and omitted
files) also keeps one row: its files' stats in walk order and their digests (marshalled
blobs), the sha256 of the marshalled walk, and the manifest digest. A no-op is one walk
whose marshalled bytes hash to the stored sha256: only those few bytes are read. After
an edit, the blobs are read and only the files whose stat differs are looked up in the
stat cache, one row each.

A digest is kept only where the stat cache would trust it (not racy, see statcache);
`None` sends the file to the stat cache again. The index is only a shortcut to rows the
stat cache holds, so it obeys the same rule: every digest has its object. gc and a
damaged object clear all indexes and bump `meta.index_generation`; an index computed
before that (a plan running beside gc) is not written back.
"""

from __future__ import annotations

import hashlib
import marshal

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    import sqlite3

    from runner.snapshot.statcache import Stat

FORMAT = 1
_GENERATION = "(SELECT value FROM meta WHERE key = 'index_generation')"


class FolderIndex:
    """A folder's index. Its digests come with the no-op check's `walk_sha` and `manifest`
    (one version of the row); its stats, the big part, are read on first use and only if
    they are still the walk `walk_sha` names."""

    __slots__ = ("_compared", "_data", "_digests", "_source", "_stats", "_walk", "generation", "manifest",
                 "walk_sha")

    def __init__(self, stats: list[Stat] | None, digests: list[str | None] | None, manifest: str | None,
                 generation: str | None, *, walk: bytes | None = None, walk_sha: str | None = None,
                 data: bytes | None = None, source: tuple[sqlite3.Connection, str] | None = None) -> None:
        self._stats = stats
        self._digests = digests
        self._data = data           # marshalled (format, digests), unmarshalled on first use
        self._walk = walk
        self._source = source
        self.walk_sha = walk_sha
        self.manifest = manifest    # the snapshot digest of exactly this walk, if every digest is trusted
        self.generation = generation
        self._compared: tuple[list[Stat], bytes] | None = None  # the last walk vouches_for marshalled

    @property
    def digests(self) -> list[str | None]:
        """Per file: the trusted content digest, or None."""
        if self._digests is None:
            self._digests = []
            try:
                version, digests = marshal.loads(self._data or b"")
                if version == FORMAT:
                    self._digests = digests
            except (TypeError, EOFError, ValueError):
                self.manifest = None  # damaged: it is only a cache
        return self._digests

    @property
    def stats(self) -> list[Stat]:
        """The walk, in walk order (empty if the stored row changed or is damaged)."""
        if self._stats is None:
            self._stats = []
            walk = self._read_walk()
            if walk is not None and hashlib.sha256(walk).hexdigest() == self.walk_sha:
                try:
                    stats = marshal.loads(walk)
                except (TypeError, EOFError, ValueError):
                    stats = []
                if len(stats) == len(self.digests):
                    self._stats, self._walk = stats, walk
        return self._stats

    @property
    def walk(self) -> bytes:
        if self._walk is None:
            self._walk = _dump_walk(self.stats)
        return self._walk

    def _read_walk(self) -> bytes | None:
        if self._source is None:
            return None
        db, key = self._source
        row = db.execute("SELECT walk FROM snapshot_index WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def vouches_for(self, walked: list[Stat]) -> bool:
        """True when nothing changed: the same files with the same stats, all trusted. The fresh
        walk is marshalled and hashed: cheaper than reading back 10,000 stored stats."""
        if self.manifest is None or self.walk_sha is None or len(self.digests) != len(walked):
            return False
        self._compared = (walked, _dump_walk(walked))
        return hashlib.sha256(self._compared[1]).hexdigest() == self.walk_sha

    def successor(self, walked: list[Stat], digests: list[str | None], manifest: str) -> FolderIndex:
        """The index of a new walk of this folder (same generation, bytes reused if made)."""
        made = self._compared[1] if self._compared is not None and self._compared[0] is walked else None
        return FolderIndex(walked, digests, manifest, self.generation, walk=made)

    def known(self) -> dict[str, tuple[Stat, str | None]]:
        return {st[0]: (st, digest) for st, digest in zip(self.stats, self.digests)}


def _dump_walk(stats: list[Stat]) -> bytes:
    return marshal.dumps(stats, 2)  # version 2 writes no back-references: equal lists, equal bytes


def key(code: str, ignore_files: bool, omit: frozenset[str]) -> str:
    return "\0".join([code, "rules" if ignore_files else "all", *sorted(omit)])


def load(db: sqlite3.Connection, index_key: str) -> FolderIndex:
    """The folder's index (all but its stats, read on first use), or an empty one."""
    walk_sha, manifest, data, generation = db.execute(
        f"SELECT walk_sha, manifest, data, {_GENERATION} FROM (SELECT 1) LEFT JOIN snapshot_index ON key = ?",
        (index_key,)).fetchone()
    if walk_sha is None:
        return FolderIndex([], [], None, generation)
    return FolderIndex(None, None, manifest, generation, walk_sha=walk_sha, data=data, source=(db, index_key))


def save(db: sqlite3.Connection, index_key: str, index: FolderIndex) -> None:
    """Store the index in the caller's transaction, unless gc ran since it was loaded."""
    digests = index.digests
    manifest = index.manifest if None not in digests else None
    walk = index.walk
    db.execute("INSERT OR REPLACE INTO snapshot_index (key, walk_sha, manifest, walk, data) "
               f"SELECT ?, ?, ?, ?, ? WHERE {_GENERATION} IS ?",
               (index_key, hashlib.sha256(walk).hexdigest(), manifest, walk, marshal.dumps((FORMAT, digests)),
                index.generation))


def generation(db: sqlite3.Connection) -> str | None:
    """Bumped each time indexes are cleared (gc, a damaged object)."""
    row = db.execute(f"SELECT {_GENERATION}").fetchone()
    return row[0] if row else None


def clear(db: sqlite3.Connection) -> None:
    """Forget every index (in the caller's transaction): some object they may name is gone."""
    db.execute("DELETE FROM snapshot_index")
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('index_generation', "
               f"COALESCE({_GENERATION}, 0) + 1)")
