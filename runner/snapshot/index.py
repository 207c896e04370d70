"""A folder's index: the walk of its last snapshot and the digests the stat cache vouched for.

The stat cache answers per file, but loading 10,000 rows from SQLite costs more than
walking the folder. So each snapshotted folder (keyed by folder, ignore mode and omitted
files) also keeps an index: its files' stats in walk order and their digests, cut in
chunks of `CHUNK` files, each chunk's hash, the hash of those (the walk's), and the
manifest digest (the hashes are runner.quickhash's: importing hashlib would cost a no-op
more than its hashing). A no-op is one walk whose chunks hash to the stored walk hash:
it reads only the header, not the digests. After an edit, only the chunks whose hash
differs are read back and compared file by file, only the files whose stat differs go to
the stat cache, and only those chunks are written again: a few kilobytes, not the whole
walk.

A digest is kept only where the stat cache would trust it (not racy, see statcache);
`None` sends the file to the stat cache again. The index is only a shortcut to rows the
stat cache holds, so it obeys the same rule: every digest has its object. gc and a
damaged object clear all indexes and bump `meta.index_generation`; an index computed
before that (a plan running beside gc) is not written back. Each save bumps the folder's
`revision` and is dropped if another process saved since this one read the index, so
chunks of two writers never mix.
"""

from __future__ import annotations

import marshal

from runner.errors import StateError
from runner.quickhash import quick_digest

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator

    from runner.snapshot.statcache import Stat

FORMAT = 2  # 2: chunks hashed with runner.quickhash
CHUNK = 512
_GENERATION = "(SELECT value FROM meta WHERE key = 'index_generation')"


class IndexUnreadable(StateError):
    """The index's digests cannot be read: another process saved the index since its header
    was read, or a chunk is damaged."""

    def __init__(self) -> None:
        super().__init__("a snapshot's folder index could not be read (another runner saved it "
                         "meanwhile, or it is damaged); run the command again")


class FolderIndex:
    """A folder's index: its manifest and chunk hashes, and (read on first use) its digests
    and, chunk by chunk, its stats."""

    __slots__ = ("_chunks", "_digest_chunks", "_digests", "_fresh", "_source", "_stats", "chunk_shas",
                 "generation", "manifest", "revision", "walk_sha")

    def __init__(self, digests: list[str | None] | PatchedDigests | None, manifest: str | None,
                 generation: str | None, *, stats: list[Stat] | None = None, chunk_shas: list[str] | None = None, walk_sha: str | None = None,
                 revision: int | None = None, source: tuple[sqlite3.Connection, str] | None = None) -> None:
        self._digests = digests     # per file: the trusted content digest, or None; None: not read yet
        self.manifest = manifest    # the snapshot digest of exactly this walk, if every digest is trusted
        self.generation = generation
        self.revision = revision    # of the stored index (None: none stored)
        self.walk_sha = walk_sha
        self.chunk_shas = chunk_shas or []
        self._stats = stats
        self._source = source
        self._chunks: dict[int, list[Stat]] = {}
        self._digest_chunks: dict[int, list[str | None]] = {}  # read one by one (see `patched`)
        self._fresh: tuple[list[Stat], list[bytes], list[str]] | None = None  # a walk `vouches_for` cut up

    @property
    def digests(self) -> list[str | None] | PatchedDigests:
        """Per file, in walk order: read on first use, from the same version of the index as
        the header (else `IndexUnreadable`)."""
        if self._digests is None:
            self._digests = self._read_digests()
        return self._digests

    def digests_for(self, count: int) -> list[str | None] | PatchedDigests:
        """`digests`, checked to be one per file of a walk of `count` files that this index
        holds (same files, maybe other stats); else `IndexUnreadable`."""
        if len(self.digests) != count:
            raise IndexUnreadable()  # a damaged chunk that still reads
        return self.digests

    def emptied(self) -> FolderIndex:
        """This index without its contents (unreadable): a save over it rewrites every chunk."""
        return FolderIndex([], None, self.generation, revision=self.revision)

    def vouches_for(self, walked: list[Stat]) -> bool:
        """True when nothing changed: the same files with the same stats, all trusted (the
        walk hashes alike only if its chunks' bytes, so its files and stats, are the same)."""
        if self.manifest is None:
            return False
        return _walk_sha(self._cut(walked)[2]) == self.walk_sha

    def changed(self, walked: list[Stat]) -> list[int] | None:
        """Positions of `walked` whose stat differs from the index's, when it has the same
        files in the same order (only the chunks that differ are read); else None."""
        shas = self._cut(walked)[2]
        if self.revision is None or len(shas) != len(self.chunk_shas):
            return None
        positions = []
        for number, sha in enumerate(shas):
            if sha == self.chunk_shas[number]:
                continue
            old = self._chunk(number)
            start = number * CHUNK
            new = walked[start:start + CHUNK]
            if old is None or len(old) != len(new):
                return None
            for offset, (was, seen) in enumerate(zip(old, new)):
                if was != seen:
                    if was[0] != seen[0]:
                        return None  # another file at this place: not the same files
                    positions.append(start + offset)
        return positions

    @property
    def stats(self) -> list[Stat]:
        """The whole walk, in walk order (empty if a stored chunk changed or is damaged)."""
        if self._stats is None:
            stats: list[Stat] = []
            for number in range(len(self.chunk_shas)):
                chunk = self._chunk(number)
                if chunk is None:
                    stats = []
                    break
                stats += chunk
            self._stats = stats if len(stats) == len(self.digests) else []
        return self._stats

    def patched(self, count: int, edits: dict[int, str | None]) -> PatchedDigests:
        """This index's digests for a walk of the same `count` files with `edits` made: the
        chunks holding an edit are read now (else `IndexUnreadable`), the others only if
        someone goes through them all. For an index whose every digest is trusted."""
        digests = PatchedDigests(self, count, edits)
        for number in digests.touched():
            self.digest_chunk(number, min(CHUNK, count - number * CHUNK))
        return digests

    def digest_chunk(self, number: int, size: int) -> list[str | None]:
        """The digests of chunk `number` (`size` files), from the header's version of the index."""
        if self._digests is not None:
            return self._digests[number * CHUNK:number * CHUNK + size]
        if number not in self._digest_chunks:
            db, index_key = self._source or (None, None)
            row = None if db is None else db.execute(
                f"SELECT h.revision, {_GENERATION}, c.data FROM snapshot_index h JOIN snapshot_index_chunks c "
                "ON c.key = h.key AND c.chunk = ? WHERE h.key = ?", (number, index_key)).fetchone()
            if row is None or row[:2] != (self.revision, self.generation):
                raise IndexUnreadable()  # saved again since the header was read (or cleared, then saved)
            self._digest_chunks[number] = _digests_of(row[2], size)
        return self._digest_chunks[number]

    def known(self) -> dict[str, tuple[Stat, str | None]]:
        return {st[0]: (st, digest) for st, digest in zip(self.stats, self.digests)}

    def successor(self, walked: list[Stat], digests: list[str | None] | PatchedDigests,
                  manifest: str) -> FolderIndex:
        """The index of a new walk of this folder, to save over this one."""
        _, _, shas = self._cut(walked)
        new = FolderIndex(digests, manifest, self.generation, stats=walked, chunk_shas=shas,
                          walk_sha=_walk_sha(shas), revision=self.revision)
        new._fresh = self._fresh  # the chunks' bytes are made once
        return new

    def chunk_read(self, number: int) -> bool:
        """False if chunk `number` was read back and found damaged (a save rewrites it)."""
        return self._chunks.get(number, True) is not None

    def chunk_bytes(self, number: int) -> bytes:
        return self._cut(self.stats)[1][number]

    def _cut(self, walked: list[Stat]) -> tuple[list[Stat], list[bytes], list[str]]:
        if self._fresh is None or self._fresh[0] is not walked:
            chunks = [_dump(walked[start:start + CHUNK]) for start in range(0, len(walked), CHUNK)]
            self._fresh = (walked, chunks, [quick_digest(chunk) for chunk in chunks])
        return self._fresh

    def _chunk(self, number: int) -> list[Stat] | None:
        """Stored chunk `number`, if it is still the one the chunk hashes name."""
        if number not in self._chunks:
            found = None
            if self._source is not None and number < len(self.chunk_shas):
                db, key = self._source
                row = db.execute("SELECT walk FROM snapshot_index_chunks WHERE key = ? AND chunk = ?",
                                 (key, number)).fetchone()
                if row is not None and quick_digest(row[0]) == self.chunk_shas[number]:
                    try:
                        found = marshal.loads(row[0])
                    except (EOFError, ValueError, TypeError):
                        found = None
            self._chunks[number] = found
        return self._chunks[number]

    def _read_digests(self) -> list[str | None]:
        if self._source is None:
            return []
        db, index_key = self._source
        rows = db.execute(f"SELECT h.revision, {_GENERATION}, c.chunk, c.data FROM snapshot_index h "
                          "LEFT JOIN snapshot_index_chunks c ON c.key = h.key WHERE h.key = ? ORDER BY c.chunk",
                          (index_key,)).fetchall()
        if not rows or rows[0][:2] != (self.revision, self.generation):
            raise IndexUnreadable()  # saved again since the header was read (or cleared, then saved)
        chunks = [(number, data) for _, _, number, data in rows if number is not None]  # none: empty folder
        if [number for number, _ in chunks] != list(range(len(self.chunk_shas))):
            raise IndexUnreadable()  # chunks missing
        digests: list[str | None] = []
        for number, data in chunks:  # every chunk but the last holds CHUNK files
            digests += _digests_of(data, CHUNK if number < len(chunks) - 1 else None)
        return digests


class PatchedDigests:
    """An index's digests with a few positions replaced (an edit's), read chunk by chunk:
    an edit of one file reads the digests of its chunk, not those of the whole folder.
    Only for an index whose every digest is trusted (its header has a manifest)."""

    __slots__ = ("_base", "_count", "_edits")

    def __init__(self, base: FolderIndex, count: int, edits: dict[int, str | None]) -> None:
        self._base = base
        self._count = count
        self._edits = edits

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, position: int) -> str | None:
        if position in self._edits:
            return self._edits[position]
        number, offset = divmod(position, CHUNK)
        return self._base.digest_chunk(number, min(CHUNK, self._count - number * CHUNK))[offset]

    def __setitem__(self, position: int, digest: str | None) -> None:
        self._edits[position] = digest

    def __iter__(self) -> Iterator[str | None]:
        for number in range((self._count + CHUNK - 1) // CHUNK):
            yield from self.chunk(number)

    def __contains__(self, digest: object) -> bool:
        if digest is None:  # the base trusts every digest: only an edit can be None
            return None in self._edits.values()
        return any(d == digest for d in self)

    def copy(self) -> PatchedDigests:
        return PatchedDigests(self._base, self._count, dict(self._edits))

    def based_on(self, index: FolderIndex) -> bool:
        return self._base is index

    def touched(self) -> set[int]:
        """The chunks holding an edit."""
        return {position // CHUNK for position in self._edits}

    def chunk(self, number: int) -> list[str | None]:
        start = number * CHUNK
        size = min(CHUNK, self._count - start)
        if number in self.touched():
            digests = list(self._base.digest_chunk(number, size))
        else:  # going through them all: one read of the whole index, not one per chunk
            digests = self._base.digests[start:start + size]
            if len(digests) != size:
                raise IndexUnreadable()  # its last chunk is damaged but still reads
        for position, digest in self._edits.items():
            if start <= position < start + size:
                digests[position - start] = digest
        return digests


def _digests_of(data: bytes, size: int | None) -> list[str | None]:
    """A chunk row's digests (of `size` files, if given; else 1 to CHUNK), or `IndexUnreadable`
    if damaged."""
    try:
        version, digests = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        raise IndexUnreadable() from None  # damaged: the next save rewrites it
    if version != FORMAT or not isinstance(digests, list) or \
            not (len(digests) == size if size is not None else 0 < len(digests) <= CHUNK):
        raise IndexUnreadable()
    return digests


def _chunk_of(digests: list[str | None] | PatchedDigests, number: int) -> list[str | None]:
    if isinstance(digests, PatchedDigests):
        return digests.chunk(number)
    return digests[number * CHUNK:(number + 1) * CHUNK]


def _dump(stats: list[Stat]) -> bytes:
    return marshal.dumps(stats, 2)  # version 2 writes no back-references: equal lists, equal bytes


def _walk_sha(chunk_shas: list[str]) -> str:
    return quick_digest(",".join(chunk_shas).encode("ascii"))


def key(code: str, ignore_files: bool, omit: frozenset[str]) -> str:
    return "\0".join([code, "rules" if ignore_files else "all", *sorted(omit)])


def load(db: sqlite3.Connection, index_key: str) -> FolderIndex:
    """The folder's index, its header only (digests and stats are read on first use), or
    an empty one."""
    walk_sha, manifest, revision, chunk_shas, generation = db.execute(
        f"SELECT h.walk_sha, h.manifest, h.revision, h.chunk_shas, {_GENERATION} "
        "FROM (SELECT 1) LEFT JOIN snapshot_index h ON h.key = ?", (index_key,)).fetchone()
    if walk_sha is None:
        return FolderIndex([], None, generation)
    return FolderIndex(None, manifest, generation, chunk_shas=chunk_shas.split(",") if chunk_shas else [],
                       walk_sha=walk_sha, revision=revision, source=(db, index_key))


def save(db: sqlite3.Connection, index_key: str, index: FolderIndex, base: FolderIndex) -> None:
    """Store `index` over `base` (the index it was made from) in the caller's transaction:
    only its changed chunks; nothing if gc ran or another process saved since `base` was read."""
    manifest = index.manifest if None not in index.digests else None
    shas = ",".join(index.chunk_shas)
    if base.revision is None:
        cursor = db.execute(
            "INSERT OR IGNORE INTO snapshot_index (key, walk_sha, manifest, revision, chunk_shas) "
            f"SELECT ?, ?, ?, 1, ? WHERE {_GENERATION} IS ?",
            (index_key, index.walk_sha, manifest, shas, index.generation))
    else:
        cursor = db.execute(
            "UPDATE snapshot_index SET walk_sha = ?, manifest = ?, revision = revision + 1, chunk_shas = ? "
            f"WHERE key = ? AND revision = ? AND {_GENERATION} IS ?",
            (index.walk_sha, manifest, shas, index_key, base.revision, index.generation))
    if cursor.rowcount != 1:
        return  # another writer or gc came first: its index stands
    digests = index.digests
    # An edit of `base` (PatchedDigests): the chunks holding an edit; else compare digests.
    touched = digests.touched() if isinstance(digests, PatchedDigests) and digests.based_on(base) else None
    same_shape = touched is not None or (base.revision is not None and len(base.digests) == len(digests))
    for number, sha in enumerate(index.chunk_shas):
        same_walk = same_shape and number < len(base.chunk_shas) and base.chunk_shas[number] == sha \
            and base.chunk_read(number)
        if same_walk and touched is not None and number not in touched:
            continue  # neither its walk nor its digests changed (and they were never read)
        part = _chunk_of(digests, number)
        if same_walk and touched is None and _chunk_of(base.digests, number) == part:
            continue
        db.execute("INSERT OR REPLACE INTO snapshot_index_chunks (key, chunk, walk, data) VALUES (?, ?, ?, ?)",
                   (index_key, number, index.chunk_bytes(number), marshal.dumps((FORMAT, part))))
    db.execute("DELETE FROM snapshot_index_chunks WHERE key = ? AND chunk >= ?", (index_key, len(index.chunk_shas)))


def generation(db: sqlite3.Connection) -> str | None:
    """Bumped each time indexes are cleared (gc, a damaged object)."""
    row = db.execute(f"SELECT {_GENERATION}").fetchone()
    return row[0] if row else None


def clear(db: sqlite3.Connection) -> None:
    """Forget every index (in the caller's transaction): some object they may name is gone."""
    db.execute("DELETE FROM snapshot_index_chunks")
    db.execute("DELETE FROM snapshot_index")
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('index_generation', "
               f"COALESCE({_GENERATION}, 0) + 1)")
