"""Issue 16, item 6, the rest: a damaged run row stops plan and apply with one line naming the
run (not exit 3), and a stored output damaged at the same size is a reason to rerun."""

from __future__ import annotations

import sqlite3

import pytest

from runner.state import open_state_at
from tests.conftest import ProjectDir
from tests.runs.helpers import plan_json, reasons, two_jobs


def test_a_same_size_damage_of_an_output_is_a_reason_to_rerun(project: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    two_jobs(project)
    assert cli("apply", "-C", project.root).code == 0
    with open_state_at(project.root / ".runner") as state:
        [digest] = [d for (d,) in state.db.execute(
            "SELECT digest FROM run_files WHERE run_id = 'prep-1' AND kind = 'outputs'")]
        path = state.objects.path(digest)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01  # same size, other content
    path.chmod(0o600)
    path.write_bytes(bytes(data))
    plan = plan_json(cli, project)
    assert "outputs of prep-1 missing from the store (one is damaged in the store)" in reasons(plan, "prep")
    assert {a["target"]: a["action"] for a in plan["actions"]}["prep"] == "run"


@pytest.mark.parametrize("column", ["error", "created_at", "git"])
def test_a_row_that_is_not_utf8_stops_plan_and_apply_naming_the_run(project: ProjectDir, cli, column: str) -> None:  # type: ignore[no-untyped-def]
    two_jobs(project)
    assert cli("apply", "-C", project.root).code == 0
    db = sqlite3.connect(project.root / ".runner" / "state.db")
    db.execute(f"UPDATE runs SET {column} = CAST(X'7072ff6570' AS TEXT) WHERE id = 'prep-1'")
    db.commit()
    db.close()
    for args in (("plan",), ("apply",)):
        result = cli(*args, "-C", project.root)
        assert result.code == 1, (args, result.err)
        assert "run prep-1 (column " in result.err and "not UTF-8" in result.err, (args, result.err)
