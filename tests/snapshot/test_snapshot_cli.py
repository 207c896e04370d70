"""`runner snapshot JOB` and `runner snapshot diff JOB [OLD_DIGEST]`: the checked contracts."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import ProjectDir, run_console

SPEC = """\
version: 1
snapshot: {warn_mb: 1, warn_files: 2000}
jobs:
  train:
    code: src
    command: python train.py
  whole:
    command: echo whole
"""


@pytest.fixture
def proj(project: ProjectDir) -> ProjectDir:
    project.gen({"train.yaml": SPEC, ".gitignore": "*.log\n",
                 "src": {"train.py": "print(1)\n", "util.py": "u = 1\n", "debug.log": "x\n", "data": {"x.csv": "1\n"},
                         ".runnerignore": "data/\n*.log\n"}})
    project.commit()
    return project


def test_snapshot_json_contract(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("snapshot", "train", "--json", "-C", proj.root)
    assert first.code == 0, first.err
    doc = json.loads(first.out)
    assert list(doc) == ["job", "digest", "files", "bytes", "hashed", "excluded"]
    assert (doc["job"], doc["files"], doc["hashed"], doc["excluded"]) == ("train", 3, 3, ["data", "debug.log"])
    assert doc["bytes"] == len("print(1)\n") + len("u = 1\n") + len("data/\n*.log\n")
    assert len(doc["digest"]) == 64 and int(doc["digest"], 16) >= 0
    assert json.loads(cli("snapshot", "train", "--json", "-C", proj.root).out)["hashed"] == 0
    (proj / "src" / "util.py").write_text("u = 2\n")
    again = json.loads(cli("snapshot", "train", "--json", "-C", proj.root).out)
    assert again["hashed"] == 1 and again["digest"] != doc["digest"]


def test_snapshot_human_output(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("snapshot", "train", "-C", proj.root)
    assert done.code == 0
    assert "job train: snapshot " in done.out and "3 files" in done.out
    assert "excluded: data, debug.log" in done.out
    whole = cli("snapshot", "whole", "-C", proj.root)
    assert ".git" in whole.out and "excluded:" in whole.out


def test_snapshot_diff(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    no_history = cli("snapshot", "diff", "train", "-C", proj.root)
    assert no_history.code == 1 and "runner snapshot train" in no_history.err
    first = json.loads(cli("snapshot", "train", "--json", "-C", proj.root).out)
    (proj / "src" / "train.py").write_text("print(2)\n")
    (proj / "src" / "util.py").unlink()
    (proj / "src" / "new.py").write_text("n\n")
    diff = cli("snapshot", "diff", "train", "--json", "-C", proj.root)
    assert diff.code == 0, diff.err
    assert json.loads(diff.out) == {"added": ["new.py"], "removed": ["util.py"], "modified": ["train.py"]}
    cli("snapshot", "train", "-C", proj.root)
    (proj / "src" / "new.py").unlink()
    explicit = cli("snapshot", "diff", "train", first["digest"], "--json", "-C", proj.root)
    assert json.loads(explicit.out) == {"added": [], "removed": ["util.py"], "modified": ["train.py"]}
    human = cli("snapshot", "diff", "train", first["digest"][:10], "-C", proj.root)
    assert f"since snapshot {first['digest'][:12]}" in human.out and "- util.py" in human.out
    bad = cli("snapshot", "diff", "train", "0000000000", "-C", proj.root)
    assert bad.code == 1 and "not a recorded snapshot" in bad.err


def test_unknown_job_is_one_line_listing_the_jobs(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    for args in (("snapshot", "nope"), ("snapshot", "diff", "nope")):
        done = cli(*args, "-C", proj.root)
        assert done.code == 1 and done.out == ""
        assert done.err.count("\n") == 1
        assert done.err.startswith("unknown job 'nope'; jobs in ") and done.err.endswith("train.yaml: train, whole\n")


def test_a_job_named_diff_is_reached_with_take(project: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    project.gen({"train.yaml": "version: 1\njobs:\n  diff:\n    command: echo\n", "a.py": "a\n"})
    done = cli("snapshot", "take", "diff", "--json", "-C", project.root)
    assert done.code == 0 and json.loads(done.out)["job"] == "diff"


def test_size_warning_goes_to_stderr_and_json_stays_clean(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    (proj / "src" / "weights.bin").write_bytes(b"w" * 2_000_000)
    done = cli("snapshot", "train", "--json", "-C", proj.root)
    assert json.loads(done.out)["files"] == 4
    assert "warning: job 'train'" in done.err and "weights.bin" in done.err


def test_symlink_escape_is_a_one_line_error(proj: ProjectDir, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    os.symlink(tmp_path, proj / "src" / "outside")
    done = cli("snapshot", "train", "--json", "-C", proj.root)
    assert done.code == 1 and done.out == ""
    assert done.err.startswith("src/outside: symlink leads outside the project") and done.err.count("\n") == 1


def test_end_to_end_console_script(proj: ProjectDir) -> None:
    first = run_console("snapshot", "train", "--json", cwd=proj.root)
    assert first.returncode == 0, first.stderr
    second = run_console("snapshot", "train", "--json", cwd=proj.root)
    assert json.loads(second.stdout)["hashed"] == 0
    assert proj.git("status", "--porcelain") == ""  # .runner/ adds nothing to git
