"""`runner gc`: unreferenced objects go, referenced ones stay, cache rows follow."""

from __future__ import annotations

import json
import os
import time

from runner.snapshot import hash_path, load_manifest, take_snapshot
from runner.state import State
from runner.upkeep.gc import collect_garbage
from tests.conftest import ProjectDir


def _objects(state: State) -> set[str]:
    return {digest for digest, _ in state.objects.iter_objects()}


def test_gc_removes_only_what_nothing_references(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n", "b.py": "b\n"}, "data": {"x.csv": "1,2\n"}})
    snap = take_snapshot(project.root, "src", state, job="train")
    hash_path(project.root, "data", state)  # cached and stored, but referenced by no snapshot
    loose = state.objects.put_bytes(b"loose")
    kept = {snap.digest} | {e.digest for e in snap.files}
    assert kept | {loose} <= _objects(state)

    dry = collect_garbage(state, dry_run=True)
    assert (dry.objects, dry.dry_run) == (2, True) and dry.bytes == len(b"loose") + len(b"1,2\n")
    assert state.objects.has(loose)

    done = collect_garbage(state)
    assert (done.objects, done.bytes) == (dry.objects, dry.bytes)
    assert _objects(state) == kept
    assert state.db.execute("SELECT path FROM stat_cache WHERE path LIKE 'data/%'").fetchall() == []
    assert load_manifest(state, snap.digest) == snap.files
    assert collect_garbage(state).objects == 0


def test_gc_then_snapshot_reads_dropped_files_again(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n"}})
    hash_path(project.root, "src/a.py", state)
    collect_garbage(state)  # a.py's object was referenced by nothing: gone, and so is its cache row
    snap = take_snapshot(project.root, "src", state, job="train")
    assert snap.hashed == 1
    assert state.objects.read_bytes(snap.files[0].digest) == b"a\n"


def test_gc_keeps_run_outputs_logs_and_models(project: ProjectDir, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Objects of runs (snapshot, outputs, logs) and of model versions are roots: after gc,
    downloads still verify every digest. Run through the CLI, as a user would."""
    project.gen({
        "train.yaml": "version: 1\njobs:\n  train:\n    code: src\n    command: python make.py\n"
                      "models:\n  m:\n    job: train\n    path: outputs/model.bin\n",
        "src": {"make.py": "import os\nopen(os.environ['RUNNER_OUTPUTS'] + '/model.bin', 'w').write('w')\n"
                           "print('trained')\n"},
    })
    assert cli("apply", "-C", project.root).code == 0
    # Drop the snapshot records: the run still references its snapshot, so it must survive.
    from runner.state import open_state_at

    with open_state_at(project.root / ".runner") as state:
        state.db.execute("DELETE FROM snapshots")
        state.db.commit()
        before = _objects(state)
    done = cli("gc", "--json", "-C", project.root)
    assert done.code == 0 and json.loads(done.out)["objects"] == 0, done.out
    with open_state_at(project.root / ".runner") as state:
        assert _objects(state) == before
    assert cli("runs", "download", "train", "--to", tmp_path / "run", "-C", project.root).code == 0
    assert (tmp_path / "run" / "outputs" / "model.bin").read_text() == "w"
    assert "trained" in (tmp_path / "run" / "logs" / "std_log.txt").read_text()
    assert cli("models", "download", "m", "--to", tmp_path / "model", "-C", project.root).code == 0
    assert cli("apply", "-C", project.root, "--force", "train").code == 0  # staging old snapshots still works


def test_stale_temp_files_are_removed(state: State) -> None:
    tmp = state.root / "objects" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    old, new = tmp / "old.tmp", tmp / "new.tmp"
    old.write_bytes(b"x" * 10)
    new.write_bytes(b"y")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    result = collect_garbage(state)
    assert result.temp_files == 1 and result.bytes == 10
    assert not old.exists() and new.exists()  # a writer may still be filling `new`


def test_gc_cli(project: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    project.gen({"train.yaml": "version: 1\njobs:\n  train:\n    command: echo\n", "a.py": "x\n"})
    assert cli("snapshot", "train", "-C", project.root).code == 0
    from runner.state import open_state_at

    with open_state_at(project.root / ".runner") as state:
        state.objects.put_bytes(b"garbage!")
    dry = cli("gc", "--dry-run", "-C", project.root)
    assert dry.code == 0 and "would remove 1 objects" in dry.out
    done = cli("gc", "--json", "-C", project.root)
    assert done.code == 0 and json.loads(done.out) == {"objects": 1, "bytes": 8, "temp_files": 0, "dry_run": False, "workspaces": 0}
    again = cli("gc", "-C", project.root)
    assert again.code == 0 and "removed 0 objects" in again.out


def test_a_lost_manifest_does_not_block_gc(project: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    project.gen({"train.yaml": "version: 1\njobs:\n  a:\n    code: src\n    command: python a.py\n",
                 "src": {"a.py": "print('a')\n"}})
    assert cli("apply", "-C", project.root).code == 0
    from runner.state import open_state_at

    with open_state_at(project.root / ".runner") as state:
        manifest = state.db.execute("SELECT snapshot FROM runs WHERE id = 'a-1'").fetchone()[0]
        path = next(p for d, p in state.objects.iter_objects() if d == manifest)
    path.chmod(0o600)
    path.unlink()
    done = cli("gc", "--dry-run", "-C", project.root)
    assert done.code == 0, done.err
    assert f"warning: snapshot {manifest[:12]} (the code of runs a-1) cannot be read" in done.err
