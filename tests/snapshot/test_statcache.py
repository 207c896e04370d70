"""The stat cache: unchanged files are not read again; every kind of change is seen."""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from pathlib import Path

import pytest

from runner.snapshot import index as folder_index
from runner.snapshot import take_snapshot
from runner.snapshot.index import clear
from runner.snapshot.statcache import WINDOW_NS, is_racy, load
from runner.state import State, open_state_at
from runner.upkeep.gc import collect_garbage
from tests.conftest import ProjectDir


def _age(path: Path, seconds: float = 10) -> None:
    """Backdate a file so its cache entry is not racy (as if edited a while ago)."""
    st = path.stat()
    back = int(seconds * 1e9)
    os.utime(path, ns=(st.st_atime_ns - back, st.st_mtime_ns - back))


def snap(project: ProjectDir, state: State):  # type: ignore[no-untyped-def]
    return take_snapshot(project.root, "src", state, job="train")


def test_hashed_is_zero_on_a_no_op_and_one_after_editing_one_file(project: ProjectDir, state: State) -> None:
    project.gen({"src": {f"m{i}.py": f"x = {i}\n" for i in range(20)}})
    first = snap(project, state)
    assert (first.hashed, len(first.files)) == (20, 20)
    assert snap(project, state).hashed == 0
    (project / "src" / "m3.py").write_text("x = 'three'\n")
    edited = snap(project, state)
    assert edited.hashed == 1 and edited.digest != first.digest
    assert snap(project, state).hashed == 0  # right after an edit too: racy entries were settled


def test_edit_without_size_change(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "x = 1\n"}})
    first = snap(project, state)
    (project / "src" / "a.py").write_text("x = 2\n")
    second = snap(project, state)
    assert second.hashed == 1 and second.files[0].size == first.files[0].size
    assert second.digest != first.digest


def test_same_size_and_mtime_but_a_new_inode(project: ProjectDir, state: State) -> None:
    path = project / "src" / "a.py"
    project.gen({"src": {"a.py": "x = 1\n"}})
    _age(path)
    first = snap(project, state)
    old = path.stat()
    fresh = project / "src" / "a.py.new"
    fresh.write_text("x = 2\n")
    os.utime(fresh, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(fresh, path)  # what an editor's atomic save or `rsync -t` does
    now = path.stat()
    assert (now.st_size, now.st_mtime_ns) == (old.st_size, old.st_mtime_ns) and now.st_ino != old.st_ino
    second = snap(project, state)
    assert second.hashed == 1 and second.digest != first.digest


def test_same_stat_but_racy_entry_is_read_again(project: ProjectDir, state: State) -> None:
    path = project / "src" / "a.py"
    project.gen({"src": {"a.py": "x = 1\n"}})
    snap(project, state)
    row = load(state.db, "src/")["src/a.py"]
    assert not is_racy(row[2], row[6])  # (path, size, mtime_ns, ino, ctime_ns, digest, recorded_ns)
    # forge the race: the row says the file was stat'ed in the same tick it was written
    state.db.execute("UPDATE stat_cache SET recorded_ns = mtime_ns + ? WHERE path = 'src/a.py'", (WINDOW_NS // 2,))
    assert snap(project, state).hashed == 0  # the folder index vouches: it trusted the row when written
    clear(state.db)
    assert snap(project, state).hashed == 1
    assert path.read_text() == "x = 1\n"


def test_a_file_still_racy_after_hashing_is_not_vouched_for_by_the_index(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "x = 1\n", "b.py": "y = 1\n"}})
    _age(project / "src" / "b.py")
    future = time.time_ns() + 60 * 10**9  # a clock skew: racy for longer than hashing waits
    os.utime(project / "src" / "a.py", ns=(future, future))
    assert snap(project, state).hashed == 2
    assert snap(project, state).hashed == 1  # a.py again, b.py from the index
    assert snap(project, state).hashed == 1


def test_the_index_is_cleared_by_gc_and_rebuilt_from_the_stat_cache(project: ProjectDir, state: State) -> None:
    path = project / "src" / "m0.py"
    project.gen({"src": {f"m{i}.py": f"x = {i}\n" for i in range(5)}})
    for i in range(5):
        _age(project / "src" / f"m{i}.py")
    snap(project, state)
    path.write_text("x = 'draft'\n")
    _age(path)
    draft = take_snapshot(project.root, "src", state, record=False)  # a plan: stored, not a gc root
    path.write_text("x = 'zero'\n")
    _age(path)
    final = snap(project, state)
    assert collect_garbage(state).objects == 1  # the draft's content
    assert not state.objects.has(hashlib.sha256(b"x = 'draft'\n").hexdigest()) and draft.digest != final.digest
    assert state.db.execute("SELECT COUNT(*) FROM snapshot_index").fetchone()[0] == 0
    again = snap(project, state)
    assert (again.hashed, again.digest) == (0, final.digest)  # the stat cache vouched for every file
    assert state.db.execute("SELECT COUNT(*) FROM snapshot_index").fetchone()[0] == 1


def test_mode_change_is_a_change(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"run.sh": "echo\n"}})
    first = snap(project, state)
    os.chmod(project / "src" / "run.sh", 0o755)
    second = snap(project, state)
    assert (first.files[0].mode, second.files[0].mode) == (0o644, 0o755)
    assert second.digest != first.digest


def test_rows_of_deleted_files_are_dropped(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n", "b.py": "b\n"}})
    snap(project, state)
    (project / "src" / "b.py").unlink()
    after = snap(project, state)
    assert [e.path for e in after.files] == ["a.py"] and after.hashed == 0
    assert set(load(state.db, "src/")) == {"src/a.py"}


def test_the_cache_is_shared_between_jobs_and_prefixes(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n"}, "srcx": {"b.py": "b\n"}})
    take_snapshot(project.root, "src", state, job="one")
    whole = take_snapshot(project.root, ".", state, job="two")
    assert whole.hashed == 1  # only srcx/b.py; src/a.py came from the cache
    assert set(load(state.db, "src/")) == {"src/a.py"}


def test_plan_mode_fills_the_caches_but_records_nothing(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n"}})
    planned = take_snapshot(project.root, "src", state, job="train", record=False)
    assert planned.hashed == 1
    assert state.db.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
    recorded = snap(project, state)
    assert recorded.hashed == 0 and recorded.digest == planned.digest
    assert state.db.execute("SELECT job, digest FROM snapshots").fetchall() == [("train", planned.digest)]
    assert state.objects.has(planned.digest)


def test_a_moved_state_folder_inside_the_project_is_not_snapshotted(project: ProjectDir, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from runner.project import Project
    from runner.state import open_state

    monkeypatch.setenv("RUNNER_STATE_DIR", str(project / "local-state"))
    project.gen({"a.py": "a\n"})
    with open_state(Project(project.root, project / "train.yaml", "train.yaml")) as moved:
        assert moved.root == project / "local-state"
        first = take_snapshot(project.root, ".", moved, job="train")
        assert [e.path for e in first.files] == ["a.py"] and "local-state" in first.excluded
        assert take_snapshot(project.root, ".", moved, job="train").hashed == 0


def test_a_damaged_folder_index_is_rebuilt_not_trusted(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "x = 1\n", "b.py": "y = 1\n"}})
    first = snap(project, state)
    damages = ["UPDATE snapshot_index_chunks SET walk = x'00'", "UPDATE snapshot_index_chunks SET data = x'00'",
               "DELETE FROM snapshot_index_chunks", "UPDATE snapshot_index SET chunk_shas = 'x,y'",
               f"UPDATE snapshot_index_chunks SET walk = x'{marshal.dumps([('src/a.py', 1, 2, 3, 4, 5)], 2).hex()}'"]
    for damage in damages:
        state.db.execute(damage)
        (project / "src" / "a.py").touch()  # a changed stat: the index's stored stats are read
        again = snap(project, state)
        assert (again.digest, again.hashed) == (first.digest, 1)  # a.py read again, b.py vouched for
        assert snap(project, state).hashed == 0  # and the index works again
        index = folder_index.load(state.db, folder_index.key("src", True, frozenset()))
        assert index.stats and index.changed(index.stats) == []  # repaired: its chunks read back



def test_gc_between_the_walk_and_the_lock_never_gets_a_removed_object_recorded(
        project: ProjectDir, state: State, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.snapshot import take

    project.gen({"src": {"a.py": "x = 1\n"}})
    _age(project / "src" / "a.py")
    take_snapshot(project.root, "src", state, record=False)  # a plan: a.py stored, not a gc root
    walk_then_gc = take.scan_folder

    def scan_folder(*args, **kwargs):  # type: ignore[no-untyped-def]
        scan = walk_then_gc(*args, **kwargs)
        collect_garbage(state)  # removes a.py's object: nothing recorded references it yet
        return scan

    monkeypatch.setattr(take, "scan_folder", scan_folder)
    recorded = snap(project, state)
    assert recorded.files and all(state.objects.has(f.digest) for f in recorded.files)
    assert state.objects.has(recorded.digest)


def test_many_files_added_and_removed_after_an_index_match_a_fresh_snapshot(
        project: ProjectDir, state: State, tmp_path: Path) -> None:
    project.gen({"src": {f"m{i}.py": f"x = {i}\n" for i in range(300)}})
    snap(project, state)
    for i in range(0, 300, 2):
        (project / "src" / f"m{i}.py").unlink()
    project.gen({"src": {f"n{i}.py": f"y = {i}\n" for i in range(250)}})  # > LOAD_ALL_FROM unknown files
    (project / "src" / "m1.py").write_text("x = 'one'\n")
    again = snap(project, state)
    fresh = take_snapshot(project.root, "src", open_state_at(tmp_path / "elsewhere"), job="train")
    assert (again.hashed, again.digest, again.count) == (251, fresh.digest, 400)
    assert not state.db.execute("SELECT COUNT(*) FROM stat_cache WHERE path LIKE 'src/m%' AND "
                                "CAST(substr(path, 6, length(path) - 8) AS INTEGER) % 2 = 0").fetchone()[0]


@pytest.mark.parametrize("large", [0, 1, 3])  # no pool, one large file without a pool, a pool
def test_small_and_large_files_are_stored_whatever_path_hashes_them(project: ProjectDir, state: State,
                                                                    large: int) -> None:
    from runner.snapshot.hashing import LARGE

    project.gen({"src": {f"s{i}.py": f"x = {i}\n" for i in range(5)}})
    for i in range(large):
        (project / "src" / f"big{i}.bin").write_bytes(bytes([i]) * (LARGE + i))
    first = snap(project, state)
    assert first.hashed == 5 + large
    for entry in first.files:
        content = (project / "src" / entry.path).read_bytes()
        assert entry.digest == hashlib.sha256(content).hexdigest() == \
            hashlib.sha256(state.objects.read_bytes(entry.digest)).hexdigest()
