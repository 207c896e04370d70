"""Symlinks inside the project are followed; one leading outside is an error; special files are skipped."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from runner.errors import RunnerError
from runner.snapshot import take_snapshot
from runner.state import State
from tests.conftest import ProjectDir


def test_links_inside_the_project_are_followed(project: ProjectDir, state: State) -> None:
    project.gen({"shared": {"util.py": "u\n"}, "src": {"a.py": "a\n"}, "notes.txt": "n\n"})
    os.symlink("../shared", project / "src" / "lib")
    os.symlink("../notes.txt", project / "src" / "notes.txt")
    found = take_snapshot(project.root, "src", state)
    assert [e.path for e in found.files] == ["a.py", "lib/util.py", "notes.txt"]
    assert state.objects.read_bytes(found.files[1].digest) == b"u\n"


def test_a_link_leading_outside_is_an_error_naming_it(project: ProjectDir, state: State, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s\n")
    project.gen({"src": {"a.py": "a\n"}})
    os.symlink(tmp_path / "secret.txt", project / "src" / "leak.txt")
    with pytest.raises(RunnerError, match=r"^src/leak\.txt: symlink leads outside the project"):
        take_snapshot(project.root, "src", state)
    os.unlink(project / "src" / "leak.txt")
    os.symlink(tmp_path, project / "src" / "up")
    with pytest.raises(RunnerError, match=r"src/up: symlink leads outside"):
        take_snapshot(project.root, "src", state)


def test_an_ignored_outside_link_is_fine(project: ProjectDir, state: State, tmp_path: Path) -> None:
    project.gen({"src": {"a.py": "a\n", ".runnerignore": ".venv/\n"}})
    os.symlink(tmp_path, project / "src" / ".venv")
    found = take_snapshot(project.root, "src", state)
    assert [e.path for e in found.files] == [".runnerignore", "a.py"] and found.excluded == (".venv",)


def test_a_link_loop_is_an_error(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n"}})
    os.symlink("..", project / "src" / "again")
    with pytest.raises(RunnerError, match="src/again: symlink loops back"):
        take_snapshot(project.root, "src", state)


def test_sockets_and_fifos_are_skipped_with_a_warning(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n"}})
    os.mkfifo(project / "src" / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    here = os.getcwd()
    os.chdir(project / "src")  # AF_UNIX paths are short: bind by a relative name
    try:
        sock.bind("sock")
    finally:
        os.chdir(here)
    try:
        found = take_snapshot(project.root, "src", state)
    finally:
        sock.close()
    assert [e.path for e in found.files] == ["a.py"]
    assert any("pipe" in w and "fifo" in w for w in found.warnings)
    assert any("sock" in w and "socket" in w for w in found.warnings)


def test_broken_links_are_skipped_with_a_warning(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n"}})
    os.symlink("nowhere", project / "src" / "dangling")
    found = take_snapshot(project.root, "src", state)
    assert [e.path for e in found.files] == ["a.py"]
    assert found.warnings == ("skipped src/dangling: a broken symlink",)
