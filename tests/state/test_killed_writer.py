"""A writer killed with SIGKILL at any moment leaves no half-written object and no row
that points at something missing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runner.snapshot import load_manifest, take_snapshot
from runner.state import open_state_at
from runner.state.objects import ALGORITHM
from tests.conftest import ProjectDir

WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from runner.snapshot import take_snapshot
    from runner.state import open_state_at
    root = Path(sys.argv[1])
    state = open_state_at(root / ".runner")
    print("ready", flush=True)
    for i in range(10_000):   # keep changing and snapshotting until killed
        (root / "src" / f"gen{i % 7}.txt").write_bytes(os.urandom(1000 + i))
        (root / "src" / "big.bin").write_bytes(os.urandom(6_000_000 + i))  # streamed: > SMALL
        take_snapshot(root, "src", state, job="train")
""")


def _check_consistent(root: Path) -> int:
    state = open_state_at(root / ".runner")
    base = root / ".runner" / "objects" / ALGORITHM
    for shard in base.iterdir() if base.is_dir() else []:
        for obj in shard.iterdir():  # every visible object is whole
            assert hashlib.sha256(obj.read_bytes()).hexdigest() == shard.name + obj.name
    snapshots = [row[0] for row in state.db.execute("SELECT digest FROM snapshots")]
    for digest in snapshots:  # every recorded snapshot can be read back entirely
        for entry in load_manifest(state, digest):
            assert state.objects.has(entry.digest), entry
    for path, digest in state.db.execute("SELECT path, digest FROM stat_cache"):
        assert state.objects.has(digest), path
    take_snapshot(root, "src", state, job="train")  # and the next writer just carries on
    state.close()
    return len(snapshots)


def _wait_for_a_write_in_flight(tmp: Path, writer: subprocess.Popen[str]) -> None:
    while writer.poll() is None:
        if tmp.is_dir() and any(tmp.iterdir()):
            return
        time.sleep(0.001)
    pytest.fail("the writer ended on its own")


def _kill_while_writing(root: Path, delay: float) -> bool:
    """Run a writer, SIGKILL it while an object is being written; True if it died mid-write."""
    tmp = root / ".runner" / "objects" / "tmp"
    before = set(tmp.iterdir()) if tmp.is_dir() else set()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    time.sleep(delay)
    _wait_for_a_write_in_flight(tmp, writer)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    return bool(set(tmp.iterdir()) - before)  # its temp file is left, invisible to readers


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.7, 1.2])
def test_sigkill_mid_write_leaves_consistent_state(project: ProjectDir, delay: float) -> None:
    project.gen({"src": {"a.py": "print(1)\n"}})
    died_mid_write = []
    for _ in range(5):  # the kill can land just after a rename: try until one lands mid-write
        died_mid_write.append(_kill_while_writing(project.root, delay))
        _check_consistent(project.root)
        if died_mid_write[-1]:
            break
    assert any(died_mid_write)
