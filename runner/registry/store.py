"""The registry tables. Every change (a registration with its aliases, an update, an alias
moved by hand, an archive) is one SQLite transaction that also writes its history rows,
so a killed apply leaves a model either wholly registered or untouched.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runner.runs.store import now
from runner.state.db import transaction

FileRow = tuple[str, str, int]  # (path relative to the model, digest, size)
VERSION_COLUMNS = ("name", "version", "digest", "path", "kind", "run_id", "metadata", "lineage", "created_at")
_SELECT_VERSION = f"SELECT {', '.join(VERSION_COLUMNS)} FROM model_versions WHERE name = ?"


@dataclass(frozen=True)
class AliasMove:
    alias: str
    old: int | None  # the version it pointed at (None: a new alias)
    new: int | None  # the version it will point at (None: removed)
    hand_set: bool = False  # it was last set by `runner models alias`


@dataclass(frozen=True)
class NewVersion:
    name: str
    digest: str
    path: str
    kind: str  # file | folder
    run_id: str
    files: tuple[FileRow, ...]
    metadata: dict[str, Any]
    lineage: dict[str, Any]
    reasons: tuple[str, ...] = field(default=())


def alias_moves(current: dict[str, tuple[int, str]], declared: Iterable[str], version: int) -> list[AliasMove]:
    """What makes the declared aliases follow `version`: moves, and removals of aliases no longer declared.

    `current` maps alias -> (version, source). A hand-set alias that is not declared is never touched;
    a declared one already at `version` stays as it is (hand-set or not).
    """
    wanted = list(declared)
    moves = [AliasMove(a, current[a][0] if a in current else None, version,
                       a in current and current[a][1] == "manual")
             for a in wanted if a not in current or current[a][0] != version]
    moves += [AliasMove(a, v, None) for a, (v, source) in sorted(current.items())
              if source == "declared" and a not in wanted]
    return moves


class ModelStore:
    def __init__(self, conn: sqlite3.Connection, source: str = "train.yaml") -> None:
        self.conn = conn
        self.source = source  # the spec file whose models this store registers and archives

    # -- reading

    def model(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT name, status, created_at, updated_at, spec FROM models WHERE name = ?",
                                (name,)).fetchone()
        return dict(zip(("name", "status", "created_at", "updated_at", "spec"), row)) if row else None

    def models(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT name FROM models ORDER BY name").fetchall()
        return [m for (name,) in rows if (m := self.model(name)) is not None]

    def versions(self, name: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(_SELECT_VERSION + " ORDER BY version", (name,))
        return [_version(r) for r in rows.fetchall()]

    def version(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """One version, or the newest with `version=None`."""
        query = _SELECT_VERSION + (
            " AND version = ?" if version is not None else " ORDER BY version DESC LIMIT 1")
        row = self.conn.execute(query, (name, version) if version is not None else (name,)).fetchone()
        return _version(row) if row else None

    def files(self, name: str, version: int) -> list[FileRow]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT path, digest, size FROM model_files WHERE name = ? AND version = ? ORDER BY path", (name, version))]

    def aliases(self, name: str) -> dict[str, tuple[int, str]]:
        rows = self.conn.execute("SELECT alias, version, source FROM model_aliases WHERE name = ? ORDER BY alias",
                                 (name,))
        return {alias: (version, source) for alias, version, source in rows.fetchall()}

    def history(self, name: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT at, action, version, git_commit, detail FROM model_history"
                                 " WHERE name = ? ORDER BY id", (name,)).fetchall()
        return [{"at": at, "action": action, "version": version, "commit": commit, "detail": json.loads(detail)}
                for at, action, version, commit, detail in rows]

    # -- writing: one transaction each

    def register(self, new: NewVersion, declared: Iterable[str], *, commit: str | None) -> int:
        at = now()
        with transaction(self.conn) as db:
            self._ensure_active(db, new.name, at, commit)
            version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?",
                                 (new.name,)).fetchone()[0]
            db.execute("INSERT INTO model_versions (name, version, digest, path, kind, run_id, metadata, lineage,"
                       " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (new.name, version, new.digest, new.path, new.kind, new.run_id, _j(new.metadata),
                        _j(new.lineage), at))
            db.executemany("INSERT INTO model_files (name, version, path, digest, size) VALUES (?, ?, ?, ?, ?)",
                           [(new.name, version, *row) for row in new.files])
            _history(db, new.name, "register", version, {"digest": new.digest, "run_id": new.run_id,
                                                         "reasons": list(new.reasons)}, at, commit)
            self._move_aliases(db, new.name, declared, version, at, commit)
        return int(version)

    def update(self, name: str, metadata: dict[str, Any], declared: Iterable[str], *, commit: str | None) -> int:
        """Metadata in place on the newest version, declared aliases onto it, and back to active."""
        at = now()
        with transaction(self.conn) as db:
            self._ensure_active(db, name, at, commit)
            latest = self.version(name)
            assert latest is not None, "update of a model without versions"
            changed = {k: [latest["metadata"].get(k), v] for k, v in metadata.items() if latest["metadata"].get(k) != v}
            if changed:
                db.execute("UPDATE model_versions SET metadata = ? WHERE name = ? AND version = ?",
                           (_j(metadata), name, latest["version"]))
                _history(db, name, "update", latest["version"], {"changed": changed}, at, commit)
            self._move_aliases(db, name, declared, latest["version"], at, commit)
        return int(latest["version"])

    def set_alias(self, name: str, alias: str, version: int, *, commit: str | None) -> int | None:
        """Point `alias` at `version` by hand; returns the version it pointed at before."""
        at = now()
        with transaction(self.conn) as db:
            old = self.aliases(name).get(alias)
            _upsert_alias(db, name, alias, version, "manual", at)
            db.execute("UPDATE models SET updated_at = ? WHERE name = ?", (at, name))
            _history(db, name, "alias", version, {"alias": alias, "from": old[0] if old else None, "to": version,
                                                  "by": "hand"}, at, commit)
        return old[0] if old else None

    def archive(self, name: str, *, commit: str | None) -> None:
        at = now()
        with transaction(self.conn) as db:
            db.execute("UPDATE models SET status = 'archived', updated_at = ? WHERE name = ?", (at, name))
            _history(db, name, "archive", None, {"reason": f"not in {self.source}"}, at, commit)

    def _ensure_active(self, db: sqlite3.Connection, name: str, at: str, commit: str | None) -> None:
        current = self.model(name)
        if current is None:
            db.execute("INSERT INTO models (name, status, created_at, updated_at, spec) VALUES (?, 'active', ?, ?, ?)",
                       (name, at, at, self.source))
            return
        db.execute("UPDATE models SET status = 'active', updated_at = ?, spec = ? WHERE name = ?",
                   (at, self.source, name))
        if current["status"] == "archived":
            _history(db, name, "unarchive", None, {"reason": f"back in {self.source}"}, at, commit)

    def _move_aliases(self, db: sqlite3.Connection, name: str, declared: Iterable[str], version: int, at: str,
                      commit: str | None) -> None:
        for move in alias_moves(self.aliases(name), declared, version):
            if move.new is None:
                db.execute("DELETE FROM model_aliases WHERE name = ? AND alias = ?", (name, move.alias))
            else:
                _upsert_alias(db, name, move.alias, move.new, "declared", at)
            _history(db, name, "alias", move.new, {"alias": move.alias, "from": move.old, "to": move.new,
                                                   "by": "train.yaml", "was_hand_set": move.hand_set}, at, commit)


def _upsert_alias(db: sqlite3.Connection, name: str, alias: str, version: int, source: str, at: str) -> None:
    db.execute("INSERT INTO model_aliases (name, alias, version, source, updated_at) VALUES (?, ?, ?, ?, ?)"
               " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, source = excluded.source,"
               " updated_at = excluded.updated_at", (name, alias, version, source, at))


def _history(db: sqlite3.Connection, name: str, action: str, version: int | None, detail: dict[str, Any],
             at: str, commit: str | None) -> None:
    db.execute("INSERT INTO model_history (name, action, version, detail, at, git_commit) VALUES (?, ?, ?, ?, ?, ?)",
               (name, action, version, _j(detail), at, commit))


def _version(row: Any) -> dict[str, Any]:
    record = dict(zip(VERSION_COLUMNS, row))
    record["metadata"], record["lineage"] = json.loads(record["metadata"]), json.loads(record["lineage"])
    return record


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
