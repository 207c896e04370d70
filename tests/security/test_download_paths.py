"""Item 2 of issue 16: `runs download` and `models download` never write outside `--to`."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

SPEC = """
version: 1
jobs:
  make:
    code: src
    script: make.py
models:
  m:
    job: make
    path: outputs/model.bin
"""
MAKE = """
import os
out = os.environ["RUNNER_OUTPUTS"]
open(os.path.join(out, "model.bin"), "w").write("weights\\n")
os.makedirs(os.path.join(out, "sub"))
open(os.path.join(out, "sub", "b.txt"), "w").write("b\\n")
"""


@pytest.fixture
def applied(project, cli):
    project.gen({"train.yaml": SPEC, "src": {"make.py": MAKE}})
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    return project


def _db(project) -> sqlite3.Connection:
    return sqlite3.connect(project / ".runner" / "state.db", isolation_level=None)


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _bad_paths(tmp_path: Path) -> list[str]:
    return ["../../escaped.txt", "outputs/../../../escaped.txt", str(tmp_path / "abs-escaped.txt"), "outputs//x",
            "./x"]


@pytest.mark.parametrize("index", range(5))
def test_runs_download_refuses_a_stored_path_outside(applied, cli, tmp_path, monkeypatch, index) -> None:
    bad = _bad_paths(tmp_path)[index]
    with _db(applied) as db:
        db.execute("UPDATE run_files SET path = ? WHERE path = 'outputs/sub/b.txt'", (bad,))
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    before = _all_files(tmp_path)
    result = cli("runs", "download", "make-1", "-C", applied.root, "--to", str(work / "dl1"))
    assert result.code not in (0, 3), result.out
    assert bad in result.err and "Traceback" not in result.err
    assert _all_files(tmp_path) - before == set()


@pytest.mark.parametrize("index", range(3))
def test_models_download_refuses_a_stored_path_outside(applied, cli, tmp_path, index) -> None:
    bad = _bad_paths(tmp_path)[index]
    with _db(applied) as db:
        assert db.execute("UPDATE model_files SET path = ?", (bad,)).rowcount == 1
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    before = _all_files(tmp_path)
    result = cli("models", "download", "m:1", "-C", applied.root, "--to", str(work / "dl1"))
    assert result.code not in (0, 3), result.out
    assert bad in result.err and "Traceback" not in result.err
    assert _all_files(tmp_path) - before == set()


def test_download_does_not_write_through_an_existing_link(applied, cli, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dl"
    (dest / "outputs").mkdir(parents=True)
    os.symlink(outside, dest / "outputs" / "sub")
    result = cli("runs", "download", "make-1", "-C", applied.root, "--to", str(dest))
    assert result.code not in (0, 3)
    assert "symbolic link" in result.err and "Traceback" not in result.err
    assert list(outside.iterdir()) == []


def test_an_object_that_is_a_folder_is_an_error(applied, cli, tmp_path) -> None:
    with _db(applied) as db:
        digest = db.execute("SELECT digest FROM model_files").fetchone()[0]
    obj = applied / ".runner" / "objects" / "sha256" / digest[:2] / digest[2:]
    os.chmod(obj, 0o644)
    obj.unlink()
    obj.mkdir()
    for args in (("models", "download", "m:1"), ("runs", "download", "make-1")):
        result = cli(*args, "-C", applied.root, "--to", str(tmp_path / "dl"))
        assert result.code not in (0, 3), result.err
        assert "is a folder" in result.err and "Traceback" not in result.err
