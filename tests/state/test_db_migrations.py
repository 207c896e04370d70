"""state.db: WAL, the migration ladder, and a database from an older (or newer) runner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runner.errors import StateError
from runner.state import open_state_at
from runner.state.db import connect, user_version
from runner.state.migrations import MIGRATIONS


def test_fresh_database_is_at_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    state = open_state_at(tmp_path / ".runner")
    assert user_version(state.db) == len(MIGRATIONS) >= 2
    assert state.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert state.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert state.db.execute("SELECT value FROM meta WHERE key = 'objects_algorithm'").fetchone() == ("sha256",)
    assert (tmp_path / ".runner" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_upgrade_from_an_older_schema_keeps_the_data(tmp_path: Path) -> None:
    root = tmp_path / ".runner"
    root.mkdir()
    old = connect(root / "state.db", migrations=MIGRATIONS[:1])
    assert user_version(old) == 1
    old.execute("INSERT INTO snapshots (job, digest, files, bytes, created_at) VALUES ('train', 'ab', 3, 9, 'then')")
    old.execute("INSERT INTO stat_cache VALUES ('a.py', 1, 2, 3, 4, 'cd', 5)")
    old.close()

    state = open_state_at(root)
    assert user_version(state.db) == len(MIGRATIONS)
    assert state.db.execute("SELECT job, digest, files, bytes, code FROM snapshots").fetchall() == [
        ("train", "ab", 3, 9, ".")]
    assert state.db.execute("SELECT path, digest FROM stat_cache").fetchall() == [("a.py", "cd")]
    indexes = {row[1] for row in state.db.execute("PRAGMA index_list(stat_cache)")}
    assert "stat_cache_by_digest" in indexes


def test_a_database_from_a_newer_runner_is_refused(tmp_path: Path) -> None:
    root = tmp_path / ".runner"
    open_state_at(root).close()
    raw = sqlite3.connect(root / "state.db")
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(StateError, match="newer runner"):
        open_state_at(root)


def test_a_failing_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    connect(path).close()
    broken = [*MIGRATIONS, "CREATE TABLE later (x INTEGER); INSERT INTO nowhere VALUES (1);"]
    with pytest.raises(StateError):
        connect(path, migrations=broken)
    db = connect(path)
    assert user_version(db) == len(MIGRATIONS)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'later'").fetchone() is None


def test_statements_with_inner_semicolons_stay_whole(tmp_path: Path) -> None:
    trigger = """
    CREATE TABLE t (x INTEGER);
    CREATE TABLE log (x INTEGER);
    CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.x); END;
    """
    db = connect(tmp_path / "s.db", migrations=[*MIGRATIONS, trigger])
    db.execute("INSERT INTO t VALUES (7)")
    assert db.execute("SELECT x FROM log").fetchall() == [(7,)]


def test_read_only_open_of_a_missing_state_creates_nothing(tmp_path: Path) -> None:
    state = open_state_at(tmp_path / ".runner", create=False)
    assert not state.exists
    assert state.db.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
    assert not (tmp_path / ".runner").exists()
