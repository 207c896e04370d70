"""The stat cache: a file whose (size, mtime_ns, inode, ctime_ns) is unchanged is not read again.

One SELECT loads the rows under the code folder; changed rows are written in one
transaction. Keys are project-relative paths, so jobs sharing files share entries.

Racy entries (git's "racy git" problem): a file written again within the same clock
tick as the stat we recorded keeps the same mtime and ctime, so its stat cannot tell.
Every row stores `recorded_ns`, taken before the walk that stat'ed the file, and a row is
trusted only if `mtime_ns + window <= recorded_ns`: the file had not been touched for a
whole window when it was stat'ed. The window is 20 ms for filesystems with sub-second
timestamps (Linux stamps files from its coarse clock, which lags the fine one by at most
one tick: 10 ms at the slowest HZ=100, so twice that) and 2 s for whole-second ones (FAT,
some network filesystems). Files that are racy when
hashed are read again once the window has passed (a wait of at most `MAX_WAIT_NS`),
so an edit followed at once by two snapshots hashes the file in the first one only.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    import os
    import sqlite3

WINDOW_NS = 20_000_000
COARSE_WINDOW_NS = 2_000_000_000
MAX_WAIT_NS = 200_000_000


Cached = tuple[str, int, int, int, int, str, int]  # a loaded row: path first, then Row's fields
# A walked file: (project-relative path, size, mtime_ns, ino, ctime_ns, st_mode). Plain tuples,
# not os.stat_result: a folder's list of them compares with its index in one C-level `==`.
Stat = tuple[str, int, int, int, int, int]


# What a file's row records; a namedtuple, not typing.NamedTuple (see TYPE_CHECKING above).
Row = namedtuple("Row", ["size", "mtime_ns", "ino", "ctime_ns", "digest", "recorded_ns"])


def window(mtime_ns: int) -> int:
    return COARSE_WINDOW_NS if mtime_ns % 1_000_000_000 == 0 else WINDOW_NS


def is_racy(mtime_ns: int, recorded_ns: int) -> bool:
    return mtime_ns + window(mtime_ns) > recorded_ns


_SELECT = "SELECT path, size, mtime_ns, ino, ctime_ns, digest, recorded_ns FROM stat_cache"


def load(db: sqlite3.Connection, prefix: str) -> dict[str, Cached]:
    """Rows whose path is under `prefix` ('' for the whole project, else 'src/'), in one query."""
    if not prefix:
        cursor = db.execute(_SELECT)
    else:  # a range scan on the primary key: '/' + 1 == '0'
        cursor = db.execute(_SELECT + " WHERE path >= ? AND path < ?", (prefix, prefix[:-1] + "0"))
    return {row[0]: row for row in cursor}


def load_paths(db: sqlite3.Connection, paths: list[str]) -> dict[str, Cached]:
    """The rows of a few files (those a folder's index could not vouch for)."""
    rows: dict[str, Cached] = {}
    for start in range(0, len(paths), 500):  # SQLite caps the number of `?` in one statement
        chunk = paths[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows.update((row[0], row) for row in db.execute(f"{_SELECT} WHERE path IN ({marks})", chunk))
    return rows


def lookup(row: Cached | None, st: Stat) -> str | None:
    """The cached digest if `st` is what was recorded and the row is not racy."""
    if row is None or row[1:5] != st[1:5]:
        return None
    return None if is_racy(row[2], row[6]) else row[5]


def stat_of(path: str, st: os.stat_result) -> Stat:
    return (path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_mode)


def row_for(st: Stat, digest: str, recorded_ns: int) -> Row:
    return Row(st[1], st[2], st[3], st[4], digest, recorded_ns)


def save(db: sqlite3.Connection, rows: dict[str, Row], stale: list[str]) -> None:
    """Write changed rows and drop rows of files that are gone, in the caller's transaction."""
    db.executemany("INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, ino, ctime_ns, digest, "
                   "recorded_ns) VALUES (?, ?, ?, ?, ?, ?, ?)", [(path, *row) for path, row in rows.items()])
    db.executemany("DELETE FROM stat_cache WHERE path = ?", [(path,) for path in stale])


