"""A folder's index: the walk of its last snapshot and the digests the stat cache vouched for.

The stat cache answers per file, but loading 10,000 rows from SQLite costs more than
walking the folder. So each snapshotted folder (keyed by folder, ignore mode and omitted
files) also keeps one row holding, as a single marshalled blob, the list of its files'
stats in walk order, their digests and the manifest digest. A no-op is then one walk,
one blob and one list comparison; after an edit, only the files whose stat differs
are looked up in the stat cache, one row each.

A digest is kept only where the stat cache would trust it (not racy, see statcache);
`None` sends the file to the stat cache again. The index is only a shortcut to rows the
stat cache holds, so it obeys the same rule: every digest has its object. gc and a
damaged object clear all indexes and bump `meta.index_generation`; an index computed
before that (a plan running beside gc) is not written back.
"""

from __future__ import annotations

import marshal

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    import sqlite3

    from runner.snapshot.statcache import Stat

FORMAT = 1
_GENERATION = "(SELECT value FROM meta WHERE key = 'index_generation')"


class FolderIndex:
    """A folder's index. Its walk is held as a list of stats, as marshalled bytes, or both:
    each is made from the other only when asked for."""

    __slots__ = ("_compared", "_stats", "_walk", "digests", "generation", "manifest")

    def __init__(self, stats: list[Stat] | None, digests: list[str | None], manifest: str | None,
                 generation: str | None, walk: bytes | None = None) -> None:
        self._stats = stats
        self._walk = walk
        self.digests = digests      # per file: the trusted content digest, or None
        self.manifest = manifest    # the snapshot digest of exactly this walk, if every digest is trusted
        self.generation = generation
        self._compared: tuple[list[Stat], bytes] | None = None  # the last walk vouches_for marshalled

    @property
    def stats(self) -> list[Stat]:
        """The walk, in walk order."""
        if self._stats is None:
            try:
                self._stats = marshal.loads(self._walk) if self._walk else []
            except (EOFError, ValueError, TypeError):
                self._stats = []
            if len(self._stats) != len(self.digests):  # damaged: it is only a cache
                self._stats, self.digests = [], []
        return self._stats

    @property
    def walk(self) -> bytes:
        if self._walk is None:
            self._walk = _dump_walk(self._stats or [])
        return self._walk

    def vouches_for(self, walked: list[Stat]) -> bool:
        """True when nothing changed: the same files with the same stats, all trusted. Compared
        as marshalled bytes: cheaper than unmarshalling 10,000 tuples to compare them."""
        if self.manifest is None or len(walked) != len(self.digests):
            return False
        self._compared = (walked, _dump_walk(walked))
        return self._compared[1] == self.walk

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
    """The folder's index, or an empty one (none yet, or unreadable: it is only a cache)."""
    row = db.execute(f"SELECT walk, data, {_GENERATION} FROM (SELECT 1) "
                     "LEFT JOIN snapshot_index ON key = ?", (index_key,)).fetchone()
    walk, data, generation = row
    if walk is not None:
        try:
            version, digests, manifest = marshal.loads(data)
            if version == FORMAT:
                return FolderIndex(None, digests, manifest, generation, walk=walk)
        except (EOFError, ValueError, TypeError):
            pass
    return FolderIndex([], [], None, generation)


def save(db: sqlite3.Connection, index_key: str, index: FolderIndex) -> None:
    """Store the index in the caller's transaction, unless gc ran since it was loaded."""
    manifest = index.manifest if None not in index.digests else None
    db.execute("INSERT OR REPLACE INTO snapshot_index (key, walk, data) "
               f"SELECT ?, ?, ? WHERE {_GENERATION} IS ?",
               (index_key, index.walk, marshal.dumps((FORMAT, index.digests, manifest)),
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
