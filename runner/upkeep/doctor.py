"""`runner doctor [--repair]`: check a project's state, and repair what can be repaired safely.

Read-only by default: the database is opened read-only (nothing is migrated or created).
It checks, in order: that state.db is not missing or empty beside stored objects or run
folders (a lost database, not a new project), the database's integrity and schema
version, every text row (UTF-8), every object against its digest, every snapshot's
manifest, every object a run, a snapshot or a model version refers to, and every run's
folder.

`--repair` does only what loses nothing: it deletes runner's own caches (`cache/`, the
stat cache and the folder indexes: they are rebuilt from the files), removes damaged
objects (their content matches no digest, so nothing can use them; the stat cache rows
pointing at them go too, so the next snapshot stores the files again), and marks the
runs whose stored outputs are gone with a `damaged` event naming the missing files (plan
reruns them anyway: see `Facts._outputs_problem` in `runner.reconcile.planner`). A lost database, a damaged one,
or an unreadable manifest is reported with how to recover, never "repaired".
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from runner.state import StateLayout, emptied
from runner.state.migrations import MIGRATIONS
from runner.state.objects import CHUNK

ERROR, WARNING = "error", "warning"
TEXT_TABLES = {"runs": "id", "snapshots": "id", "model_versions": "name", "run_files": "run_id",
               "model_files": "name", "metrics": "run_id"}


@dataclass
class Finding:
    check: str  # database | schema | rows | objects | manifests | references | run_folders
    severity: str  # error | warning
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "message": self.message}


@dataclass
class Report:
    state: str
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def add(self, check: str, severity: str, message: str) -> Finding:
        finding = Finding(check, severity, message)
        self.findings.append(finding)
        return finding

    def as_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "state": self.state, "checked": self.checked,
                "problems": [f.as_json() for f in self.findings], "repairs": self.repairs}


def doctor(root: str, *, repair: bool = False) -> Report:
    """The state's findings; with `repair`, those left after the safe repairs (which it lists)."""
    if not repair:
        return _check(root, repair=False)
    from runner.state.lock import ProjectLock

    with ProjectLock(root).hold():
        first = _check(root, repair=True)
        after = _check(root, repair=False)
    after.repairs = first.repairs
    return after


def _check(root: str, *, repair: bool) -> Report:
    layout = StateLayout(root)
    report = Report(state=root, checked={"objects": 0, "snapshots": 0, "runs": 0, "model_files": 0})
    lost = emptied(layout)
    if lost is not None:
        report.add("database", ERROR, lost)
        return report
    if not os.path.exists(layout.db):
        return report  # no state yet: nothing to check
    try:
        db = sqlite3.connect(f"file:{layout.db}?mode=ro", uri=True, isolation_level=None)
        db.text_factory = bytes
        result = [row[0].decode("utf-8", "replace") for row in db.execute("PRAGMA integrity_check")]
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        report.add("database", ERROR, f"{layout.db} cannot be read ({exc}): restore it from a backup, or try "
                                      f"`sqlite3 {layout.db} .recover | sqlite3 {layout.db}.recovered` and put "
                                      f"the result in its place (keep the damaged file until then)")
        return report
    with db:
        if result != ["ok"]:
            report.add("database", ERROR, f"{layout.db} fails its integrity check: {'; '.join(result[:5])}")
        if version > len(MIGRATIONS):
            report.add("schema", ERROR, f"{layout.db} has schema version {version}, made by a newer runner")
            return report
        tables = {row[0].decode() for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        _check_rows(db, tables, report)
        damaged = _check_objects(layout, report)
        _check_references(db, layout, tables, damaged, report, repair)
        _check_run_folders(db, layout, tables, report)
    if repair and not any(f.check in ("database", "rows") for f in report.findings):
        _repair(layout, damaged, report)
    return report


def _check_rows(db: sqlite3.Connection, tables: set[str], report: Report) -> None:
    """Every text value decodes as UTF-8 (a damaged row would stop `runs list`)."""
    for table, key in TEXT_TABLES.items():
        if table not in tables:
            continue
        bad: set[str] = set()
        for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 (names from TEXT_TABLES)
            for value in row:
                if isinstance(value, bytes):
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError:
                        bad.add(_text(row[0]))
        for name in sorted(bad):
            report.add("rows", ERROR, f"{table} row {name} ({key}) holds text that is not UTF-8: edit it "
                                      f"with sqlite3 or restore state.db from a backup")


def _check_objects(layout: StateLayout, report: Report) -> dict[str, str]:
    """Every object against its digest; returns the damaged ones (digest -> path)."""
    damaged: dict[str, str] = {}
    base = os.path.join(layout.objects, "sha256")
    if not os.path.isdir(base):
        return damaged
    for shard in sorted(os.scandir(base), key=lambda e: e.name):
        if not shard.is_dir(follow_symlinks=False):
            continue
        for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            digest = shard.name + entry.name
            report.checked["objects"] += 1
            problem = _object_problem(entry.path, digest)
            if problem is not None:
                damaged[digest] = entry.path
                report.add("objects", ERROR, f"object sha256:{digest} ({entry.path}) {problem}")
    return damaged


def _object_problem(path: str, digest: str) -> str | None:
    if os.path.islink(path):
        return "is a symbolic link"
    if os.path.isdir(path):
        return "is a folder, not a file"
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                hasher.update(chunk)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None if hasher.hexdigest() == digest else "is damaged: its content does not match its digest"


def _check_references(db: sqlite3.Connection, layout: StateLayout, tables: set[str], damaged: dict[str, str],
                      report: Report, repair: bool) -> None:
    from runner.snapshot.manifest import decode

    def present(digest: str) -> bool:
        return digest not in damaged and os.path.isfile(_object(layout, digest))

    if "snapshots" in tables:
        manifests = sorted({_text(r[0]) for r in db.execute("SELECT digest FROM snapshots UNION "
                                                            "SELECT snapshot FROM runs") if r[0]})
        for digest in manifests:
            report.checked["snapshots"] += 1
            try:
                with open(_object(layout, digest), "rb") as file:
                    data = file.read()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ValueError("its content does not match its digest")
                entries = decode(data, digest)
            except Exception as exc:  # noqa: BLE001 (any damage of a manifest is a finding)
                report.add("manifests", ERROR, f"the manifest of snapshot {digest[:12]} cannot be read "
                                               f"({_reason(exc)}): gc keeps every object while it is so; "
                                               f"restore .runner/objects from a backup")
                continue
            missing = [e.path for e in entries if not present(e.digest)]
            if missing:
                report.add("references", ERROR, f"snapshot {digest[:12]}: {len(missing)} files missing from "
                                                f"the store ({', '.join(missing[:3])}); take the snapshot "
                                                f"again (`runner snapshot JOB`) to store them")
    if "run_files" in tables:
        gone: dict[str, list[str]] = {}
        for run_id, path, digest in db.execute("SELECT run_id, path, digest FROM run_files ORDER BY run_id, path"):
            if not present(_text(digest)):
                gone.setdefault(_text(run_id), []).append(_text(path))
        report.checked["runs"] = int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        for run_id, paths in gone.items():
            report.add("references", ERROR, f"outputs of {run_id} missing from the store: {', '.join(paths[:3])}"
                                            f"{' ...' if len(paths) > 3 else ''} (plan reruns its job)")
        if repair and gone and not any(f.check in ("database", "rows") for f in report.findings):
            _mark_runs(layout, gone, report)
    if "model_files" in tables:
        for name, version, path, digest in db.execute("SELECT name, version, path, digest FROM model_files "
                                                      "ORDER BY name, version, path"):
            report.checked["model_files"] += 1
            if not present(_text(digest)):
                report.add("references", ERROR, f"model {_text(name)}:{version}: {_text(path)} missing from "
                                                f"the store; rerun its job to register a new version")


def _check_run_folders(db: sqlite3.Connection, layout: StateLayout, tables: set[str], report: Report) -> None:
    if "runs" not in tables:
        return
    gone = [_text(r[0]) for r in db.execute("SELECT id FROM runs ORDER BY created_at, id")
            if not os.path.isdir(layout.run_dir(_text(r[0])))]
    if gone:
        report.add("run_folders", WARNING, f"{len(gone)} runs have no folder in runs/ any more "
                                           f"({', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}); their "
                                           f"stored outputs and logs are what remains")


def _mark_runs(layout: StateLayout, gone: dict[str, list[str]], report: Report) -> None:
    from runner.state.db import connect, now, transaction

    db = connect(layout.db)
    try:
        with transaction(db):
            for run_id, paths in gone.items():
                detail = f"outputs missing from the store: {', '.join(paths)}"
                seen = db.execute("SELECT 1 FROM run_events WHERE run_id = ? AND status = 'damaged' AND detail = ?",
                                  (run_id, detail)).fetchone()
                if seen is None:
                    db.execute("INSERT INTO run_events (run_id, status, at, detail) VALUES (?, 'damaged', ?, ?)",
                               (run_id, now(), detail))
                    report.repairs.append(f"marked {run_id}: {detail}")
    finally:
        db.close()


def _repair(layout: StateLayout, damaged: dict[str, str], report: Report) -> None:
    """Only what loses nothing: caches (rebuilt from the files) and objects no digest matches."""
    import shutil

    from runner.state.db import connect, transaction

    cache = os.path.join(layout.root, "cache")
    if os.path.isdir(cache):
        shutil.rmtree(cache, ignore_errors=True)
        report.repairs.append("removed cache/ (runner rebuilds it)")
    db = connect(layout.db)
    try:
        with transaction(db):  # connect() migrated the database: these tables exist
            db.execute("DELETE FROM stat_cache")
            db.execute("DELETE FROM snapshot_index_chunks")
            db.execute("DELETE FROM snapshot_index")
        report.repairs.append("cleared the stat cache and the folder indexes (the next snapshot reads the files)")
    finally:
        db.close()
    for digest, path in damaged.items():
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        report.repairs.append(f"removed the damaged object sha256:{digest}")


def _object(layout: StateLayout, digest: str) -> str:
    return os.path.join(layout.objects, "sha256", digest[:2], digest[2:])


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "it is missing"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
