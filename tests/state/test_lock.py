"""The project lock: a second writer waits with a message; readers never wait."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runner.state import open_state_at
from runner.state.lock import WAITING
from tests.conftest import ProjectDir, run_console

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from runner.state import open_state_at
    state = open_state_at(Path(sys.argv[1]))
    with state.lock():
        print("locked", flush=True)
        sys.stdin.readline()   # hold the lock until the test says so
    print("released", flush=True)
""")


def _hold_lock(root: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(timeout=30) == 0


@pytest.fixture
def train(project: ProjectDir) -> ProjectDir:
    project.gen({"train.yaml": "version: 1\njobs:\n  train:\n    command: python a.py\n", "a.py": "print(1)\n"})
    return project


def test_a_second_writer_waits_and_says_for_whom(train: ProjectDir) -> None:
    open_state_at(train.root / ".runner").close()
    holder = _hold_lock(train.root / ".runner")
    try:
        assert (train.root / ".runner" / "lock.pid").read_text().strip() == str(holder.pid)
        waiter = subprocess.Popen([str(Path(sys.executable).with_name("runner")), "snapshot", "train", "--json"],
                                  cwd=train.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert waiter.stderr is not None
        line = waiter.stderr.readline()  # blocks until the waiter prints: no timing assumptions
        assert line.strip() == WAITING.format(pid=holder.pid)
        assert waiter.poll() is None  # still waiting while the lock is held
    finally:
        _release(holder)
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert '"hashed": 1' in out  # a.py (the spec file is never part of a snapshot)
    assert not (train.root / ".runner" / "lock.pid").exists()


def test_readers_do_not_wait_for_the_lock(train: ProjectDir) -> None:
    assert run_console("snapshot", "train", cwd=train.root).returncode == 0
    (train.root / "a.py").write_text("print(2)\n")
    holder = _hold_lock(train.root / ".runner")
    try:
        done = run_console("snapshot", "diff", "train", "--json", cwd=train.root, timeout=60)
        assert done.returncode == 0, done.stderr
        assert '"a.py"' in done.stdout and "waiting" not in done.stderr
        gc = run_console("gc", "--dry-run", cwd=train.root, timeout=60)
        assert gc.returncode == 0 and "waiting" not in gc.stderr
    finally:
        _release(holder)


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    state = open_state_at(tmp_path / ".runner")
    with state.lock():
        with state.lock():
            assert (tmp_path / ".runner" / "lock.pid").exists()
        assert (tmp_path / ".runner" / "lock.pid").exists()
    assert not (tmp_path / ".runner" / "lock.pid").exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    open_state_at(tmp_path / ".runner").close()
    holder = _hold_lock(tmp_path / ".runner")
    holder.kill()
    holder.wait(timeout=30)
    state = open_state_at(tmp_path / ".runner")
    with state.lock():  # the kernel released the dead holder's lock: no wait, no message
        pass


def test_a_moved_state_folder_belongs_to_one_project(tmp_path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """$RUNNER_STATE_DIR shared by two projects would mix their runs and let one's --prune
    archive the other's models: the second project gets one clear error instead."""
    monkeypatch.setenv("RUNNER_STATE_DIR", str(tmp_path / "state"))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.yaml").write_text("version: 1\njobs:\n  train:\n    command: echo hi\n")
    assert cli("apply", "-C", tmp_path / "a").code == 0
    assert cli("apply", "-C", tmp_path / "a").code == 0  # the same project again: fine
    other = cli("apply", "-C", tmp_path / "b")
    assert other.code == 1 and other.err.count("\n") == 1
    assert f"holds the state of the project {tmp_path / 'a'}" in other.err and "own folder" in other.err
    assert cli("runs", "list", "-C", tmp_path / "b").code == 1
