"""A workspace's record and pool live in `.runner/`, beside the run folder: what a run leaves
there must never make runner write outside its workspace, nor crash it (issue 15)."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

from runner.snapshot import take_snapshot
from runner.snapshot.manifest import encode
from runner.snapshot.workspace import _stats, lease_workspace
from runner.state import open_state_at


def project(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "src" / rel).write_text(text)


def code(run_dir: Path) -> dict[str, str]:
    return {p.relative_to(run_dir).as_posix(): p.read_text() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def rewrite_record(pool: Path, change) -> None:  # type: ignore[no-untyped-def]
    record = pool / "0.record"
    data = marshal.loads(record.read_bytes())
    change(data)
    record.write_bytes(marshal.dumps(data))


def test_a_hard_link_the_record_vouches_for_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("not runner's\n")
    project(tmp_path, {"a.py": "one\n", "b.py": "b\n"})
    pool = tmp_path / ".runner" / "workspaces" / "j"
    with open_state_at(tmp_path / ".runner") as state:
        first = take_snapshot(tmp_path, "src", state, job="j")
        with lease_workspace(state, "j", first.digest, tmp_path / "run1") as run_dir:
            (run_dir / "a.py").unlink()
            os.link(victim, run_dir / "a.py")  # the run's copy is now the victim's inode
        empty = state.objects.put_bytes(encode([]))  # a snapshot without a.py: the next one adds it

        def vouch(data: dict) -> None:
            data["folders"][""]["a.py"] = _stats((pool / "0" / "a.py").stat())
            data["snapshot"] = empty

        rewrite_record(pool, vouch)
        with lease_workspace(state, "j", first.digest, tmp_path / "run2") as run_dir:
            assert code(run_dir) == {"a.py": "one\n", "b.py": "b\n"}
    assert victim.read_text() == "not runner's\n"


def test_a_record_naming_files_the_snapshot_does_not_have_is_not_an_error(tmp_path: Path) -> None:
    project(tmp_path, {"a.py": "one\n", "pkg/b.py": "b\n"})
    pool = tmp_path / ".runner" / "workspaces" / "j"
    with open_state_at(tmp_path / ".runner") as state:
        snap = take_snapshot(tmp_path, "src", state, job="j")
        for ghost in ("ghost.py", "\ud800", "pkg/../../x"):
            with lease_workspace(state, "j", snap.digest, tmp_path / "runs" / str(len(ghost))) as run_dir:
                assert code(run_dir) == {"a.py": "one\n", "pkg/b.py": "b\n"}

            def plant(data: dict, name: str = ghost) -> None:
                folder, _, base = name.rpartition("/")
                data["folders"].setdefault(folder + "/" if folder else "", {})[base] = b"\0" * 32

            rewrite_record(pool, plant)
        with lease_workspace(state, "j", snap.digest, tmp_path / "runs" / "last") as run_dir:
            assert code(run_dir) == {"a.py": "one\n", "pkg/b.py": "b\n"}


def test_a_run_folder_made_in_advance_does_not_replace_the_code(tmp_path: Path) -> None:
    project(tmp_path, {"train.py": "print('snapshot')\n"})
    with open_state_at(tmp_path / ".runner") as state:
        snap = take_snapshot(tmp_path, "src", state, job="j")
        ahead = tmp_path / "runs" / "j-2"
        (ahead / "logs").mkdir(parents=True)
        (ahead / "logs" / "std_log.txt").write_text("environment built\n")  # runner's own, kept
        (ahead / "train.py").write_text("print('hijacked')\n")  # planted by an earlier run
        with lease_workspace(state, "j", snap.digest, ahead) as run_dir:
            assert (run_dir / "train.py").read_text() == "print('snapshot')\n"
            assert (run_dir / "logs" / "std_log.txt").read_text() == "environment built\n"


def test_links_in_place_of_the_run_folder_or_the_pool_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "0").mkdir(parents=True)
    (outside / "0" / "keep.txt").write_text("not runner's\n")
    (outside / "a.txt").write_text("not runner's either\n")
    project(tmp_path, {"train.py": "x\n"})
    pool = tmp_path / ".runner" / "workspaces" / "j"
    with open_state_at(tmp_path / ".runner") as state:
        snap = take_snapshot(tmp_path, "src", state, job="j")
        with lease_workspace(state, "j", snap.digest, tmp_path / "run1") as run_dir:
            run_dir.rename(tmp_path / "moved")  # the run puts a link where its folder was
            run_dir.symlink_to(outside)
        with lease_workspace(state, "j", snap.digest, tmp_path / "run2") as run_dir:
            os.rename(pool, tmp_path / "old-pool")  # and a link where the pool was
            pool.symlink_to(outside)
        with lease_workspace(state, "j", snap.digest, tmp_path / "run3") as run_dir:
            assert code(run_dir) == {"train.py": "x\n"}
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == ["0", "0/keep.txt", "a.txt"]
    assert (outside / "0" / "keep.txt").read_text() == "not runner's\n"
