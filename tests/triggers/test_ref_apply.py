"""`runner apply --ref` / `runner plan --ref`: runs come from a commit's tree, never the dirty one."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import ProjectDir, run_console
from tests.triggers.support import git, runs

SPEC = """
version: 1
jobs:
  copy:
    code: src
    script: copy.py
    args:
      --data: ${{inputs.data}}
    inputs:
      data: {dataset: numbers}
datasets:
  numbers:
    path: data/numbers.txt
"""
COPY = """
import os, pathlib, sys
out = pathlib.Path(os.environ["RUNNER_OUTPUTS"])
out.joinpath("code.txt").write_text("v1")
out.joinpath("data.txt").write_text(pathlib.Path(sys.argv[2]).read_text())
"""


def _make(project: ProjectDir, sub: str = "") -> Path:
    tree: Any = {"train.yaml": SPEC, "src": {"copy.py": COPY}, "data": {"numbers.txt": "1 2 3\n"}}
    project.gen({sub: tree} if sub else tree)
    project.commit("v1")
    return project.root / sub if sub else project.root


def _exports(commit: str) -> list[str]:
    return [p for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(f"runner-ref-{commit[:8]}")]


def test_ref_ignores_the_dirty_tree_and_records_the_commit(project: ProjectDir, tmp_path: Path) -> None:
    root = _make(project)
    head = git(root, "rev-parse", "HEAD")
    (root / "src" / "copy.py").write_text((root / "src" / "copy.py").read_text().replace('"v1"', '"dirty"'))
    (root / "data" / "numbers.txt").write_text("dirty data\n")
    (root / "train.yaml").write_text("not: [valid\n")  # the working tree's spec is not even read

    done = run_console("apply", "--ref", "HEAD", "--json", "-C", root)

    assert done.returncode == 0, done.stderr
    [run] = runs(root)
    assert run["status"] == "completed"
    assert run["git"]["commit"] == head
    assert run["git"]["dirty"] is False
    folder = root / ".runner" / "runs" / run["id"] / "outputs"
    assert (folder / "code.txt").read_text() == "v1"
    assert (folder / "data.txt").read_text() == "1 2 3\n"
    assert not _exports(head), "the exported tree must be removed"


def test_plan_ref_compares_the_commit_not_the_working_tree(project: ProjectDir) -> None:
    root = _make(project)
    assert run_console("apply", "--ref", "HEAD", "-C", root).returncode == 0
    (root / "src" / "copy.py").write_text("print('edited')\n")

    at_ref = run_console("plan", "--ref", "HEAD", "--detailed-exitcode", "--json", "-C", root)
    working = run_console("plan", "--detailed-exitcode", "--json", "-C", root)

    assert at_ref.returncode == 0, at_ref.stderr
    assert [a["action"] for a in json.loads(at_ref.stdout)["actions"]] == ["skip"]
    assert working.returncode == 2


def test_project_in_a_subfolder_of_the_repository(project: ProjectDir) -> None:
    root = _make(project, sub="ml")
    head = git(project.root, "rev-parse", "HEAD")

    done = run_console("apply", "--ref", head[:10], "-C", root)

    assert done.returncode == 0, done.stderr
    [run] = runs(root)
    assert (run["status"], run["git"]["commit"], run["git"]["dirty"]) == ("completed", head, False)
    assert (root / ".runner" / "state.db").exists()
    assert not (project.root / ".runner").exists()


def test_a_failed_run_still_removes_the_export(project: ProjectDir) -> None:
    root = _make(project)
    (root / "src" / "copy.py").write_text("raise SystemExit(3)\n")
    head = project.commit("broken")

    done = run_console("apply", "--ref", "HEAD", "-C", root)

    assert done.returncode == 1
    assert runs(root)[0]["status"] == "failed"
    assert not _exports(head)


def test_unknown_ref_is_one_clear_line(project: ProjectDir) -> None:
    root = _make(project)

    done = run_console("apply", "--ref", "no-such-branch", "-C", root)

    assert done.returncode == 1
    assert "--ref no-such-branch: no such commit" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert runs(root) == []


def test_an_empty_ref_is_an_error_not_head(project: ProjectDir) -> None:
    """`runner apply --ref "$SHA"` with SHA unset must not quietly apply the working tree."""
    root = _make(project)
    done = run_console("apply", "--ref", "", "-C", root)
    assert done.returncode == 1 and done.stderr.strip() == (
        "--ref was given an empty value: pass a commit sha, branch or tag")
    assert runs(root) == []


def test_option_like_ref_is_not_passed_to_git(project: ProjectDir) -> None:
    root = _make(project)

    done = run_console("plan", "--ref=--output=/tmp/x", "-C", root)

    assert done.returncode == 1
    assert "no such commit" in done.stderr


def test_not_a_git_repository(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    ProjectDir(root.parent).gen({"plain": {"train.yaml": "version: 1\njobs: {}\n"}})

    done = run_console("plan", "--ref", "HEAD", "-C", root)

    assert done.returncode == 1
    assert "not in a git repository" in done.stderr and "Traceback" not in done.stderr


def test_a_spec_missing_from_the_commit(project: ProjectDir) -> None:
    project.gen({"README": "x"})
    project.commit("no spec yet")
    project.gen({"train.yaml": "version: 1\njobs: {}\n"})

    done = run_console("plan", "--ref", "HEAD", "-C", project.root)

    assert done.returncode == 1
    assert "is not in commit" in done.stderr


def test_shallow_clone(project: ProjectDir, tmp_path: Path) -> None:
    _make(project)
    first = git(project.root, "rev-parse", "HEAD")
    (project.root / "src" / "copy.py").write_text(COPY.replace('"v1"', '"v2"'))
    second = project.commit("v2")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{project.root}", str(clone)], check=True)
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"

    done = run_console("apply", "--ref", second, "-C", clone)
    old = run_console("apply", "--ref", first, "-C", clone)

    assert done.returncode == 0, done.stderr
    [run] = runs(clone)
    assert run["git"]["commit"] == second
    assert (clone / ".runner" / "runs" / run["id"] / "outputs" / "code.txt").read_text() == "v2"
    assert old.returncode == 1 and "no such commit" in old.stderr


def test_a_git_ignored_dataset_is_explained(project: ProjectDir) -> None:
    project.gen({"train.yaml": SPEC, "src": {"copy.py": COPY}, "data": {"numbers.txt": "1 2 3\n"},
                 ".gitignore": "data/\n"})
    project.commit("v1")
    done = run_console("apply", "--ref", "HEAD", "-C", project.root)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    first, note = done.stderr.strip().splitlines()
    assert first.endswith("path 'data/numbers.txt' does not exist in the project")
    assert note.startswith("(--ref HEAD reads only the files that commit tracks: git-ignored")
