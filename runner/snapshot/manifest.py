"""Snapshot manifests: the canonical JSON of a code folder's files, and diffs between two.

The manifest is `{"algorithm": "sha256", "fields": ["path", "size", "mode", "digest"],
"files": [[...], ...], "version": 1}` with sorted keys, no spaces, ASCII only, files
sorted by path; its sha256 is the snapshot digest. Modes are normalised like git's
(0o755 if any execute bit is set, else 0o644) so the digest does not depend on umask.
"""

from __future__ import annotations

from collections import namedtuple

from runner.collector import gc_paused
from runner.errors import StateError
from runner.jsontext import quote

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable

    from runner.state import State
    from runner.state.objects import ObjectStore

VERSION = 1
ALGORITHM = "sha256"
FIELDS = ("path", "size", "mode", "digest")


# One file of a manifest: path (relative to the code folder, POSIX), size, mode (0o644 or
# 0o755), digest (sha256 hex of the content, an object in the store). A namedtuple, not a
# dataclass: importing dataclasses costs a snapshot ~15 ms.
FileEntry = namedtuple("FileEntry", ["path", "size", "mode", "digest"])


class SnapshotDiff(namedtuple("SnapshotDiff", ["added", "removed", "modified"])):
    """Sorted paths added, removed, and modified (content or executable bit changed)."""

    __slots__ = ()

    def as_json(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed), "modified": list(self.modified)}



def encode(entries: list[FileEntry] | tuple[FileEntry, ...]) -> bytes:
    """The canonical manifest bytes; `entries` must already be sorted by path."""
    return encode_rows([tuple(e) for e in entries])


def encode_rows(rows: list[tuple[str, int, int, str]]) -> bytes:
    """`encode` for (path, size, mode, digest) tuples, sorted by path."""
    import json  # in the functions: `runner snapshot` after an edit does without it (and `re`)

    doc = {"algorithm": ALGORITHM, "fields": list(FIELDS), "version": VERSION, "files": rows}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


def replace_rows(data: bytes, changed: dict[str, tuple[int, int, str]]) -> bytes | None:
    """The manifest `data` with the rows of the `changed` paths (to their new size, mode and
    digest): the bytes `encode_rows` makes of the edited rows. None if a path has no row."""
    spans = _spans(data, changed)
    if spans is None:
        return None
    pieces: list[bytes | memoryview] = []
    view, done = memoryview(data), 0
    for path, (at, end) in sorted(spans.items(), key=lambda item: item[1]):
        size, mode, digest = changed[path]
        pieces += (view[done:at], f"[{quote(path)},{int(size)},{int(mode)},{quote(digest)}]".encode("ascii"))
        done = end
    pieces.append(view[done:])
    return b"".join(pieces)  # one copy of the manifest, not one per changed row


def rows_at(data: bytes, paths: Iterable[str]) -> dict[str, FileEntry] | None:
    """The rows of `paths` in the manifest `data`, or None if a path has no row. After the
    path come a size, a mode and a hex digest: read without a JSON decoder (`runner snapshot`
    after an edit does without importing one)."""
    spans = _spans(data, paths)
    if spans is None:
        return None
    rows = {}
    for path, (at, end) in spans.items():
        size, mode, digest = data[at + len(f"[{quote(path)},"):end - 1].split(b",")
        rows[path] = FileEntry(path, int(size), int(mode), digest.strip(b'"').decode("ascii"))
    return rows


def _spans(data: bytes, paths: Iterable[str]) -> dict[str, tuple[int, int]] | None:
    """Where each path's row is in the manifest `data` (start, end), or None if one has none.

    A row starts with `["PATH",` where PATH is the JSON string of its path: inside a JSON
    string a quote is escaped, so that text begins no other row; the search starts at the
    file list, past the `fields` header (a file may be named `path`)."""
    start = data.find(b'"files":[')
    if start < 0:
        return None
    spans = {}
    for path in paths:
        head = f"[{quote(path)},".encode("ascii")
        at = data.find(head, start)
        if at < 0:
            return None
        spans[path] = (at, data.index(b"]", at + len(head)) + 1)  # sizes, modes and digests hold no `]`
    return spans


def decode(data: bytes, digest: str) -> tuple[FileEntry, ...]:
    import json

    doc = json.loads(data)
    if doc.get("version") != VERSION or doc.get("algorithm") != ALGORITHM:
        raise StateError(f"snapshot {digest} has manifest version {doc.get('version')!r}, "
                         f"made by a newer runner; upgrade runner")
    return tuple(FileEntry(*row) for row in doc["files"])


def load_manifest(state: State, digest: str) -> tuple[FileEntry, ...]:
    """A stored snapshot's files (the manifest object is verified by its digest when read; a
    snapshot this command took or read already is not read again)."""
    known = state.objects.known(digest)
    if known is not None:
        return known() if callable(known) else known  # type: ignore[no-any-return]
    with gc_paused():  # ten thousand rows are no cycles
        files = decode(state.objects.read_bytes(digest), digest)
    state.objects.know(digest, files)
    return files


def changed_rows(state: State, old: str, new: str) -> tuple[dict[str, FileEntry], dict[str, FileEntry]]:
    """The files of snapshot `old` that `new` does not hold as they are, and those of `new` that
    `old` does not: path -> entry, for each. Both manifests are compared as text, row by row
    (sets of bytes, hashed in C): an edit of one file among 10,000 decodes two rows, not 20,000
    (both objects are still read and verified). Kept for the rest of the command: the plan
    and the staging of one run ask for the same two."""
    known = state.objects.known(f"{old}..{new}")
    if known is None:
        known = _changed_rows(state, old, new)
        know_changes(state.objects, old, new, *known)
    return known  # type: ignore[return-value]


def know_changes(objects: ObjectStore, old: str, new: str, gone: dict[str, FileEntry],
                 came: dict[str, FileEntry]) -> None:
    """Keep `changed_rows(old, new)` for the rest of the command: a snapshot made by editing
    the rows of its predecessor knows them without comparing the two."""
    objects.know(f"{old}..{new}", (gone, came))


def _changed_rows(state: State, old: str, new: str) -> tuple[dict[str, FileEntry], dict[str, FileEntry]]:
    old_rows, new_rows = _row_texts(_stored(state, old)), _row_texts(_stored(state, new))
    if old_rows is not None and new_rows is not None:
        gone, came = _decoded(set(old_rows).difference(new_rows)), _decoded(set(new_rows).difference(old_rows))
        if gone is not None and came is not None:
            return gone, came
    before, after = load_manifest(state, old), load_manifest(state, new)  # a path holding "],[": decoded whole
    return {e.path: e for e in set(before).difference(after)}, {e.path: e for e in set(after).difference(before)}


def _stored(state: State, digest: str) -> bytes:
    """A manifest's bytes; none (b"") if it is not stored: `runner plan` keeps a new one in memory."""
    from runner.state.objects import ObjectError

    try:
        return state.objects.read_bytes(digest)
    except ObjectError:
        return b""


def _row_texts(data: bytes) -> list[bytes] | None:
    """The JSON text of each row of a manifest's file list (without its brackets), or None
    if `data` is not laid out as `encode_rows` writes it. A path holding `],[` splits its row
    in pieces that are not rows (see `_decoded`)."""
    if not (data.startswith(_HEAD) and data.endswith(_TAIL)):  # another version: decoded, which says so
        return None
    body = data[len(_HEAD):-len(_TAIL)]
    if not body:
        return []
    if body[:1] != b"[" or body[-1:] != b"]":
        return None
    return body[1:-1].split(b"],[")


_HEAD = ('{"algorithm":"%s","fields":["path","size","mode","digest"],"files":[' % ALGORITHM).encode("ascii")
_TAIL = b'],"version":%d}' % VERSION


def _decoded(texts: set[bytes]) -> dict[str, FileEntry] | None:
    """Rows decoded one by one; None if a text is not a whole row. A piece of a row cut inside
    its path holds an odd number of unescaped quotes (or none at all) and is not one."""
    import json

    rows: dict[str, FileEntry] = {}
    for text in texts:
        try:
            row = json.loads(b"[" + text + b"]")
        except ValueError:
            return None
        if len(row) != 4 or not (isinstance(row[0], str) and isinstance(row[3], str)
                                 and type(row[1]) is int and type(row[2]) is int):
            return None
        rows[row[0]] = FileEntry(*row)
    return rows


def diff_snapshots(state: State, old: str, new: str) -> SnapshotDiff:
    """`diff_manifests` of two stored snapshots, read as text (see `changed_rows`)."""
    gone, came = changed_rows(state, old, new)
    return _diff({p: (e.digest, e.mode) for p, e in gone.items()}, {p: (e.digest, e.mode) for p, e in came.items()})


def diff_manifests(old: tuple[FileEntry, ...] | list[FileEntry],
                   new: tuple[FileEntry, ...] | list[FileEntry]) -> SnapshotDiff:
    # Rows present in both are dropped first, as whole tuples (hashed in C): an edit of one
    # file among 10,000 then compares two rows, not two dicts of every path.
    gone, came = set(old).difference(new), set(new).difference(old)
    return _diff({e.path: (e.digest, e.mode) for e in gone}, {e.path: (e.digest, e.mode) for e in came})


def _diff(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> SnapshotDiff:
    return SnapshotDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        modified=tuple(sorted(p for p in after.keys() & before.keys() if after[p] != before[p])),
    )
