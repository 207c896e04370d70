"""Open `state.db`: WAL mode, foreign keys, a busy timeout, and the migration ladder."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager

from runner.errors import StateError, is_disk_full
from runner.state.migrations import MIGRATIONS

TYPE_CHECKING = False  # annotations only: typing costs milliseconds to import
if TYPE_CHECKING:
    from collections.abc import Iterator

MMAP_BYTES = 256 << 20
BUSY_TIMEOUT_MS = 60_000  # a writer waits this long for another's transaction (gc can be slow)


def connect(path: str | os.PathLike[str] | None, migrations: list[str] | None = None) -> sqlite3.Connection:
    """Open (and create) the database at `path`, or an in-memory one for `None`; migrate it."""
    target = ":memory:" if path is None else os.fspath(path)
    try:
        conn = sqlite3.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        if path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a crash of runner
            # Reads map the file instead of copying it page by page (a folder index's digests: half the time).
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        migrate(conn, MIGRATIONS if migrations is None else migrations)
    except sqlite3.DatabaseError as exc:
        folder = (os.path.dirname(target) or ".") if path is not None else None
        if folder is not None and (is_disk_full(exc) or _nearly_full(folder)):  # SQLite says "disk I/O error"
            raise StateError(f"{target}: cannot open the state database: no space left on device; free "
                             f"some space and run the command again") from exc
        if folder is not None and not os.access(folder, os.W_OK):
            raise StateError(f"{target}: cannot open the state database ({exc}): {folder} is not writable "
                             f"(SQLite needs to write its -wal and -shm files there, even to read)") from exc
        raise StateError(f"{target}: cannot open the state database ({exc}); if the file is damaged, restore "
                         f"it from a backup, or try `sqlite3 {target} .recover | sqlite3 {target}.recovered` and "
                         f"put the result in its place; never delete it alone (runner would then refuse "
                         f"the state folder: see `runner doctor`)") from exc
    return conn


def _nearly_full(folder: str) -> bool:
    """Less room than SQLite needs to open a WAL database (its -shm file alone is 32 KiB)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 1 << 20


def not_utf8(conn: sqlite3.Connection, table: str, key: str = "id") -> list[str]:
    """Rows of `table` holding text that is not UTF-8 (SQLite stores what it is given, and
    `PRAGMA integrity_check` does not look): `KEY (column a, b)` each, the key shown with
    replacement characters when it is itself damaged."""
    old = conn.text_factory
    conn.text_factory = bytes
    try:
        cursor = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 - a table name from runner's code
        names = [d[0] for d in cursor.description]
        found = []
        for row in cursor:
            bad = [name for name, value in zip(names, row) if isinstance(value, bytes) and not _utf8(value)]
            if bad:
                shown = row[names.index(key)]
                shown = shown.decode("utf-8", "replace") if isinstance(shown, bytes) else str(shown)
                found.append(f"{shown} (column {', '.join(bad)})")
        return found
    finally:
        conn.text_factory = old


def _utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def is_not_utf8(exc: BaseException) -> bool:
    """SQLite's error for a stored text that Python cannot decode."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("Could not decode to UTF-8")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the block raises (even on KeyboardInterrupt)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: list[str]) -> None:
    """Apply the missing migrations, each in its own transaction with its version bump."""
    current = user_version(conn)
    if current > len(migrations):
        raise StateError(f"state.db has schema version {current}, made by a newer runner "
                         f"(this one knows {len(migrations)}); upgrade runner")
    for index in range(current, len(migrations)):
        with transaction(conn):
            if user_version(conn) != index:  # another process migrated while we waited
                continue
            for statement in _statements(migrations[index]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {index + 1}")


def _statements(script: str) -> Iterator[str]:
    """Split a script on `;` the way SQLite does (so triggers with inner `;` stay whole)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                yield pending
            pending = ""


def now() -> str:
    """The timestamp of state rows (runs, snapshots, models): UTC ISO-8601 with milliseconds,
    sortable as text."""
    import time

    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
