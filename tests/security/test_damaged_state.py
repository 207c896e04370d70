"""Item 6 of issue 16: a UTF-8-damaged row does not crash `runs list`; missing or damaged
upstream outputs are a reason to rerun; a damaged manifest does not make gc delete files."""

from __future__ import annotations

import os
import sqlite3

import pytest

from tests.runs.helpers import actions, plan_json, reasons, two_jobs


def _db(project) -> sqlite3.Connection:
    return sqlite3.connect(project / ".runner" / "state.db", isolation_level=None)


def _object(project, digest: str):
    return project / ".runner" / "objects" / "sha256" / digest[:2] / digest[2:]


@pytest.fixture
def applied(project, cli):
    two_jobs(project)
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    return project


@pytest.mark.parametrize("column", ["git", "job", "status", "error", "params"])
def test_a_row_that_is_not_utf8_does_not_crash_runs_list(applied, cli, column) -> None:
    with _db(applied) as db:
        db.execute(f"UPDATE runs SET {column} = CAST(X'7b22ff227d' AS TEXT) WHERE id = 'prep-1'")
    for args in (("runs", "list"), ("runs", "list", "--json")):
        result = cli(*args, "-C", applied.root)
        assert result.code not in (3,), result.err
        assert "prep-1" in result.err and "Traceback" not in result.err
        assert "train-1" in result.out
    assert cli("runs", "show", "train-1", "-C", applied.root).code == 0


@pytest.mark.parametrize("damage", ["delete", "truncate", "folder"])
def test_a_missing_upstream_output_is_a_reason_to_rerun(applied, cli, damage) -> None:
    with _db(applied) as db:
        digest = db.execute("SELECT digest FROM run_files WHERE run_id = 'prep-1' AND kind = 'outputs'").fetchone()[0]
    obj = _object(applied, digest)
    os.chmod(obj, 0o644)
    if damage == "delete":
        obj.unlink()
    elif damage == "truncate":
        obj.write_bytes(obj.read_bytes()[:-1])
    else:
        obj.unlink()
        obj.mkdir()
    plan = plan_json(cli, applied)
    assert actions(plan)["prep"] == "run"
    assert "outputs of prep-1 missing from the store" in reasons(plan, "prep")
    assert plan["changes"] is True
    if damage == "folder":
        obj.rmdir()
    result = cli("apply", "-C", applied.root)
    assert result.code == 0, result.out + result.err
    assert actions(plan_json(cli, applied)) == {"prep": "skip", "train": "skip"}


def test_a_damaged_manifest_does_not_make_gc_delete_its_files(applied, cli) -> None:
    with _db(applied) as db:
        manifest = db.execute("SELECT snapshot FROM runs WHERE id = 'prep-1'").fetchone()[0]
        files = [d for (d,) in db.execute("SELECT digest FROM stat_cache")]
    obj = _object(applied, manifest)
    os.chmod(obj, 0o644)
    obj.write_bytes(b"garbage")
    before = sorted(p for p in (applied / ".runner" / "objects" / "sha256").rglob("*") if p.is_file())
    result = cli("gc", "-C", applied.root)
    after = sorted(p for p in (applied / ".runner" / "objects" / "sha256").rglob("*") if p.is_file())
    assert after == before, result.out + result.err
    assert all(_object(applied, d).exists() for d in files)
    assert result.code == 0 and "removed 0 objects" in result.out
    assert manifest[:12] in result.err and "keeps every object" in result.err and "doctor" in result.err
