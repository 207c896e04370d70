"""Item 3 of issue 16: an empty or missing state.db beside stored objects is an error (gc
refuses it); `runner doctor` checks the state, `runner doctor --repair` repairs what is safe."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tests.conftest import CliResult, run_console
from tests.security.test_download_paths import MAKE, SPEC


@pytest.fixture
def cli():
    """The real console script: an in-process apply leaves SQLite connections that would
    checkpoint their WAL into a database the test has just emptied."""

    def invoke(*args) -> CliResult:
        done = run_console(*args)
        return CliResult(done.returncode, done.stdout, done.stderr)

    return invoke


@pytest.fixture
def applied(project, cli):
    project.gen({"train.yaml": SPEC, "src": {"make.py": MAKE}})
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    return project


def _objects(project) -> list:
    return sorted(p for p in (project / ".runner" / "objects" / "sha256").rglob("*") if p.is_file())


@pytest.mark.parametrize("how", ["empty", "missing"])
@pytest.mark.parametrize("command", [("gc",), ("plan",), ("apply",), ("runs", "list"), ("models", "list")])
def test_a_lost_database_is_an_error_and_nothing_is_deleted(applied, cli, how, command) -> None:
    db = applied / ".runner" / "state.db"
    for side in ("state.db-wal", "state.db-shm"):
        (applied / ".runner" / side).unlink(missing_ok=True)
    if how == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    before = _objects(applied)
    result = cli(*command, "-C", applied.root)
    assert result.code not in (0, 3), result.out
    assert "state.db" in result.err and "backup" in result.err and "Traceback" not in result.err
    assert _objects(applied) == before
    doctor = cli("doctor", "-C", applied.root, "--json")
    assert doctor.code == 1
    report = json.loads(doctor.out)
    assert report["healthy"] is False and report["problems"][0]["check"] == "database"


def test_a_new_project_is_not_refused(project, cli) -> None:
    project.gen({"train.yaml": SPEC, "src": {"make.py": MAKE}})
    assert cli("plan", "-C", project.root).code == 0
    assert cli("doctor", "-C", project.root).code == 0


def test_doctor_on_a_healthy_state(applied, cli) -> None:
    result = cli("doctor", "-C", applied.root, "--json")
    assert result.code == 0, result.out
    report = json.loads(result.out)
    assert report["healthy"] is True and report["problems"] == []
    assert report["checked"]["objects"] > 0 and report["checked"]["runs"] == 1


def test_doctor_finds_damage_and_repair_fixes_what_is_safe(applied, cli) -> None:
    with sqlite3.connect(applied / ".runner" / "state.db") as db:
        out_digest = db.execute("SELECT digest FROM run_files WHERE path = 'outputs/sub/b.txt'").fetchone()[0]
    obj = applied / ".runner" / "objects" / "sha256" / out_digest[:2] / out_digest[2:]
    os.chmod(obj, 0o644)
    obj.write_text("tampered\n")
    (applied / ".runner" / "cache").mkdir(exist_ok=True)
    (applied / ".runner" / "cache" / "junk").write_text("x")
    report = json.loads(cli("doctor", "-C", applied.root, "--json").out)
    assert not report["healthy"]
    messages = [p["message"] for p in report["problems"]]
    assert any(out_digest in m and "does not match its digest" in m for m in messages)
    assert any("outputs of make-1 missing from the store" in m for m in messages)
    assert obj.read_text() == "tampered\n"  # read-only
    assert (applied / ".runner" / "cache" / "junk").exists()

    repaired = cli("doctor", "-C", applied.root, "--repair", "--json")
    after = json.loads(repaired.out)
    assert repaired.code == 1  # the run's output is gone for good: still a problem
    assert any("removed the damaged object" in r for r in after["repairs"])
    assert any("marked make-1" in r for r in after["repairs"])
    assert not obj.exists() and not (applied / ".runner" / "cache").exists()
    assert [p["check"] for p in after["problems"]] == ["references"]
    with sqlite3.connect(applied / ".runner" / "state.db") as db:
        assert db.execute("SELECT COUNT(*) FROM run_events WHERE run_id = 'make-1' AND status = 'damaged'"
                          ).fetchone()[0] == 1


def test_doctor_reports_a_damaged_database(applied, cli) -> None:
    db = applied / ".runner" / "state.db"
    cli("runs", "list", "-C", applied.root)
    for side in ("state.db-wal", "state.db-shm"):
        (applied / ".runner" / side).unlink(missing_ok=True)
    data = bytearray(db.read_bytes())
    data[:16] = b"not a database!!"
    db.write_bytes(bytes(data))
    result = cli("doctor", "-C", applied.root)
    assert result.code == 1
    assert "state.db" in result.out and "Traceback" not in result.err


def test_doctor_reports_gone_run_folders_as_a_warning(applied, cli) -> None:
    import shutil

    shutil.rmtree(applied / ".runner" / "runs" / "make-1")
    report = json.loads(cli("doctor", "-C", applied.root, "--json").out)
    assert report["healthy"] is True
    assert [(p["check"], p["severity"]) for p in report["problems"]] == [("run_folders", "warning")]
