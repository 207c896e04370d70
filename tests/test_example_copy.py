"""Tests run the committed example, never the working tree's (the README's tour edits it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import ProjectDir
from tests.example_copy import REPO, committed_example


def test_an_edited_example_does_not_reach_the_tests(project: ProjectDir, tmp_path: Path) -> None:
    project.gen({"example-project": {"train.yaml": "params: {kernel: linear}\n", "src": {"t.py": "print(1)\n"},
                                     ".runnerignore": "x\n"}})
    project.commit()
    (project.root / "example-project" / "train.yaml").write_text("params: {kernel: rbf}\n")  # the tour's edit
    (project.root / "example-project" / "src" / "new.py").write_text("")  # and an untracked file

    copy = committed_example(tmp_path / "copy", repo=project.root)

    assert (copy / "train.yaml").read_text() == "params: {kernel: linear}\n"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == \
        [".runnerignore", "src/t.py", "train.yaml"]


def test_the_copy_is_heads_example(tmp_path: Path) -> None:
    copy = committed_example(tmp_path / "ex")
    head = subprocess.run(["git", "-C", str(REPO), "show", "HEAD:example-project/train.yaml"],
                          capture_output=True, text=True, check=True).stdout
    assert (copy / "train.yaml").read_text() == head


def test_no_test_copies_or_reads_the_live_example_folder() -> None:
    live = re.compile(r"""(parent|parents\[\d\]|ROOT|REPO|HERE)\s*/\s*["']example-project["']""")
    offenders = [path.relative_to(REPO).as_posix() for path in (REPO / "tests").rglob("*.py")
                 if path.name not in ("example_copy.py", "test_example_copy.py") and live.search(path.read_text())]
    assert offenders == []
