"""Reusable code workspaces (issue 15): each run sees a complete private copy of its snapshot,
built from the job's pool by the manifest diff, and nothing a run does reaches the next one."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from runner.project import find_project
from runner.snapshot.workspace import lease_workspace
from runner.state import open_state

# The run records what it sees, then edits, deletes and adds files of its own code.
VANDAL = """
import json, os, pathlib
seen = {p.as_posix(): p.read_text() for p in sorted(pathlib.Path('.').rglob('*'))
        if p.is_file() and p.parts[0] not in ('outputs', 'logs', 'inputs') and '__pycache__' not in p.parts}
json.dump(seen, open(os.path.join(os.environ['RUNNER_OUTPUTS'], 'seen.json'), 'w'))
open('data.txt', 'a').write('changed by the run\\n')
os.remove('pkg/gone.txt')
os.chmod('pkg/keep.txt', 0o755)
open('added.txt', 'w').write('new')
os.makedirs('extra/deep', exist_ok=True)
open('extra/deep/x.txt', 'w').write('x')
os.symlink('/etc', 'link')
"""
SPEC = "version: 1\njobs:\n  v:\n    code: src\n    script: vandal.py\n"
CODE = {"vandal.py": VANDAL, "data.txt": "original\n", "pkg": {"gone.txt": "gone\n", "keep.txt": "keep\n"}}


def expected(project: Any) -> dict[str, str]:
    src = project / "src"
    return {p.relative_to(src).as_posix(): p.read_text() for p in sorted(src.rglob("*")) if p.is_file()}


def seen(project: Any, run_id: str) -> dict[str, str]:
    return json.loads((project / ".runner" / "runs" / run_id / "outputs" / "seen.json").read_text())


def objects_intact(project: Any) -> None:
    objects = project / ".runner" / "objects" / "sha256"
    for path in objects.rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.name + path.name


def vandal_project(project: Any, cli: Any) -> None:
    project.gen({"train.yaml": SPEC, "src": CODE})
    assert cli("apply", "-C", project.root).code == 0


def test_a_run_that_edits_its_code_does_not_change_the_next_run(project: Any, cli: Any) -> None:
    vandal_project(project, cli)
    assert seen(project, "v-1") == expected(project)
    assert cli("apply", "-C", project.root, "--force", "v").code == 0
    assert seen(project, "v-2") == expected(project)
    objects_intact(project)
    # the run folders keep what the run produced (its top-level extras too); the code went back to the pool
    assert sorted(p.name for p in (project / ".runner" / "runs" / "v-2").iterdir()) == \
        ["added.txt", "extra", "link", "logs", "outputs"]
    assert (project / ".runner" / "workspaces" / "v" / "0" / "vandal.py").exists()


def test_an_edit_rewrites_only_what_changed(project: Any, cli: Any) -> None:
    project.gen({"train.yaml": SPEC.replace("vandal.py", "show.py"), "src": {
        "show.py": "import json, os\njson.dump({'data': open('data.txt').read()}, "
                   "open(os.path.join(os.environ['RUNNER_OUTPUTS'], 'seen.json'), 'w'))\n",
        "data.txt": "one\n", "other.txt": "same\n"}})
    assert cli("apply", "-C", project.root).code == 0
    tree = project / ".runner" / "workspaces" / "v" / "0"
    stamp = (tree / "other.txt").stat().st_mtime_ns, (tree / "data.txt").stat().st_mtime_ns
    (project / "src" / "data.txt").write_text("two\n")
    assert cli("apply", "-C", project.root).code == 0
    assert seen(project, "v-2") == {"data": "two\n"}
    assert (tree / "other.txt").stat().st_mtime_ns == stamp[0]  # reused, not copied again
    assert (tree / "data.txt").stat().st_mtime_ns != stamp[1]


def test_a_workspace_changed_between_runs_is_restored(project: Any, cli: Any) -> None:
    vandal_project(project, cli)
    tree = project / ".runner" / "workspaces" / "v" / "0"
    data = tree / "data.txt"
    st = data.stat()
    data.write_text("ORIGINAL\n")  # same size, and its mtime put back: the ctime still tells
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    (tree / "pkg" / "keep.txt").unlink()
    (tree / "stray.py").write_text("print('stray')\n")
    (tree / "pkg" / "sub").mkdir()
    assert cli("apply", "-C", project.root, "--force", "v").code == 0
    assert seen(project, "v-2") == expected(project)
    objects_intact(project)


def test_a_damaged_workspace_record_rebuilds_the_workspace(project: Any, cli: Any) -> None:
    vandal_project(project, cli)
    (project / ".runner" / "workspaces" / "v" / "0.record").write_bytes(b"{not a record")
    assert cli("apply", "-C", project.root, "--force", "v").code == 0
    assert seen(project, "v-2") == expected(project)


def test_concurrent_runs_of_one_job_get_their_own_workspace(project: Any, cli: Any) -> None:
    vandal_project(project, cli)
    with open_state(find_project(project.root), create=False) as state:
        digest = state.db.execute("SELECT snapshot FROM runs WHERE id = 'v-1'").fetchone()[0]
        barrier, trees, errors = threading.Barrier(3), [], []

        def one(i: int) -> None:
            try:
                run_dir = project / "scratch" / str(i)
                with lease_workspace(state, "v", digest, run_dir):
                    trees.append(sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()))
                    (run_dir / "data.txt").write_text(f"run {i}\n")
                    barrier.wait(timeout=30)  # all three hold a workspace at once
                    assert (run_dir / "data.txt").read_text() == f"run {i}\n"
                    (run_dir / "outputs").mkdir()
                assert sorted(p.name for p in run_dir.iterdir()) == ["outputs"]
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert trees == [sorted(expected(project))] * 3
        pool = project / ".runner" / "workspaces" / "v"
        assert sorted(p.name for p in pool.iterdir() if p.is_dir()) == ["0", "1", "2"]
        for slot in ("0", "1", "2"):
            assert (pool / slot / "data.txt").read_text().startswith("run ")
    assert cli("apply", "-C", project.root, "--force", "v").code == 0  # any slot: restored
    assert seen(project, "v-2") == expected(project)


def test_parallel_runs_of_one_code_folder(project: Any, cli: Any) -> None:
    spec = SPEC + "  w:\n    code: src\n    script: vandal.py\n"
    project.gen({"train.yaml": spec, "src": CODE})
    assert cli("apply", "-C", project.root, "--jobs", "2").code == 0
    assert seen(project, "v-1") == expected(project) == seen(project, "w-1")
    assert cli("apply", "-C", project.root, "--jobs", "2", "--force", "v", "--force", "w").code == 0
    assert seen(project, "v-2") == expected(project) == seen(project, "w-2")


def test_gc_removes_workspaces_no_run_holds(project: Any, cli: Any) -> None:
    vandal_project(project, cli)
    pool = project / ".runner" / "workspaces" / "v"
    dry = json.loads(cli("gc", "-C", project.root, "--json", "--dry-run").out)
    assert dry["workspaces"] == 1 and (pool / "0").is_dir()
    with open_state(find_project(project.root), create=False) as state:
        digest = state.db.execute("SELECT snapshot FROM runs WHERE id = 'v-1'").fetchone()[0]
        with lease_workspace(state, "v", digest, project / "scratch" / "held"):
            done = json.loads(cli("gc", "-C", project.root, "--json").out)
            assert done["workspaces"] == 0 and (project / "scratch" / "held" / "vandal.py").exists()
    done = json.loads(cli("gc", "-C", project.root, "--json").out)
    assert done["workspaces"] == 1 and not (project / ".runner" / "workspaces" / "v").exists()
    assert cli("apply", "-C", project.root, "--force", "v").code == 0  # built anew
    assert seen(project, "v-2") == expected(project)


def _damage(project: Any, content: bytes, how: str) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    obj = project / ".runner" / "objects" / "sha256" / digest[:2] / digest[2:]
    if how == "missing":
        obj.unlink()
    else:  # the same size: only its digest tells
        obj.chmod(0o644)
        obj.write_bytes(bytes(len(content)))
    return obj


def test_a_lost_object_is_stored_again_from_the_working_tree(project: Any, cli: Any) -> None:
    for how in ("missing", "damaged"):
        vandal_project(project, cli) if how == "missing" else None
        assert cli("gc", "-C", project.root).code == 0  # no workspace left: the next run copies every file
        obj = _damage(project, b"keep\n", how)
        result = cli("apply", "-C", project.root, "--force", "v", "--json")
        assert result.code == 0, result.out + result.err
        assert obj.read_bytes() == b"keep\n"
        objects_intact(project)


def test_a_lost_object_whose_file_changed_fails_the_staging_and_is_read_again(project: Any, cli: Any,
                                                                             tmp_path: Path) -> None:
    """The working tree changed after the plan (or the object is gone and so is the file):
    the staging fails naming the object, and the next snapshot reads the file again."""
    import pytest

    from runner.state.objects import ObjectError

    vandal_project(project, cli)
    assert cli("gc", "-C", project.root).code == 0
    _damage(project, b"keep\n", "damaged")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "pkg").mkdir(parents=True)
    (elsewhere / "pkg" / "keep.txt").write_text("kept?\n")
    with open_state(find_project(project.root)) as state:
        digest = state.db.execute("SELECT snapshot FROM runs WHERE id = 'v-1'").fetchone()[0]
        for source in (None, elsewhere):
            with pytest.raises(ObjectError, match="damaged"), \
                    lease_workspace(state, "v", digest, tmp_path / "run", source=source):
                pass
    result = cli("apply", "-C", project.root, "--force", "v", "--json")
    assert result.code == 0, result.out + result.err
    objects_intact(project)


def test_an_output_deleted_from_the_store_that_shares_a_code_file_object(project: Any, cli: Any) -> None:
    """An output with the same content as a code file is one object: deleting it (the output
    is missing, so the job reruns) must not leave the rerun's code without it."""
    project.gen({"train.yaml": "version: 1\njobs:\n  c:\n    code: src\n    script: copy.py\n", "src": {
        "copy.py": "import os, shutil\nshutil.copy('same.txt', os.path.join(os.environ['RUNNER_OUTPUTS'], 'o.txt'))\n",
        "same.txt": "shared content\n"}})
    assert cli("apply", "-C", project.root).code == 0
    _damage(project, b"shared content\n", "missing")
    plan = cli("plan", "-C", project.root)
    assert "missing from the store" in plan.out, plan.out
    result = cli("apply", "-C", project.root, "--json")
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["runs"][0]["status"] == "completed"
    assert (project / ".runner" / "runs" / "c-2" / "outputs" / "o.txt").read_text() == "shared content\n"
    objects_intact(project)


def test_a_run_folder_that_cannot_take_the_code_back_keeps_it(tmp_path: Path) -> None:
    from runner.snapshot.workspace import _move_out

    run_dir, tree = tmp_path / "run", tmp_path / "pool" / "0"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "code.py").write_text("x")
    tree.parent.mkdir()
    (tree.parent / "0.record").write_bytes(b"")
    tree.mkdir()
    (tree / "blocker").write_text("a slot folder that is not empty: the rename fails")
    _move_out(run_dir, tree, tree.parent / "0.record", {"code.py"})
    assert (run_dir / "code.py").exists() and not (tree.parent / "0.record").exists()


def test_a_change_within_the_clock_tick_of_the_record_is_found(tmp_path: Path) -> None:
    """A file changed in the same timestamp tick as the record was written keeps its stat:
    such ("racy") files, not older than the record, are hashed before they are trusted."""
    from runner.snapshot.workspace import _folder, _stats, _survey

    path = tmp_path / "data.txt"
    path.write_text("ORIGINAL\n")  # changed unseen: the record holds its current stat
    st = path.stat()
    record = {"folders": {"": {"data.txt": _stats(st)}},
              "fresh": {"data.txt": hashlib.sha256(b"original\n").hexdigest()}}
    with _folder(str(tmp_path)) as top:
        assert _survey(top, {**record, "sealed": st.st_ctime_ns + 1}) == ([], [])  # an older tick: trusted
        assert _survey(top, {**record, "sealed": st.st_ctime_ns}) == (["data.txt"], [])  # the same tick: hashed
        record["fresh"]["data.txt"] = hashlib.sha256(b"ORIGINAL\n").hexdigest()
        assert _survey(top, {**record, "sealed": st.st_ctime_ns}) == ([], [])  # hashed, and as written


def test_a_first_run_of_many_files_is_written_whole(project: Any, cli: Any) -> None:
    """Past `PARALLEL_FROM` files the first staging writes on two threads: every file still
    arrives with its content and mode, and a lost object among them is restored."""
    from runner.snapshot.workspace import PARALLEL_FROM

    many = {f"p{i % 7}": {} for i in range(7)}
    for i in range(PARALLEL_FROM + 100):
        many[f"p{i % 7}"][f"m{i}.txt"] = f"file {i}\n" if i % 50 else "same\n"
    project.gen({"train.yaml": SPEC.replace("vandal.py", "look.py"), "src": {
        **many, "look.py": "import json, os, pathlib\n"
        "seen = {p.as_posix(): p.read_text() for p in sorted(pathlib.Path('.').glob('p*/*.txt'))}\n"
        "json.dump(seen, open(os.path.join(os.environ['RUNNER_OUTPUTS'], 'seen.json'), 'w'))\n"}})
    assert cli("apply", "-C", project.root).code == 0
    want = {k: v for k, v in expected(project).items() if k.endswith(".txt")}
    assert seen(project, "v-1") == want and len(want) == PARALLEL_FROM + 100
    assert cli("gc", "-C", project.root).code == 0  # the next run writes every file again
    _damage(project, b"same\n", "missing")
    assert cli("apply", "-C", project.root, "--force", "v").code == 0
    assert seen(project, "v-2") == want
    objects_intact(project)
