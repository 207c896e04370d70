"""The folder index in chunks: an edit reads and writes only its chunk; writers never mix."""

from __future__ import annotations

import os
from pathlib import Path

from runner.snapshot import index as folder_index
from runner.snapshot import take_snapshot
from runner.snapshot.walk import walk
from runner.state import State, open_state_at
from tests.conftest import ProjectDir

FILES = 2 * folder_index.CHUNK + 100  # three chunks


def _tree(project: ProjectDir) -> None:
    project.gen({"src": {f"m{i:04d}.py": f"x = {i}\n" for i in range(FILES)}})
    back = 10**10
    for name in os.listdir(project / "src"):  # not racy: as if written a while ago
        path = project / "src" / name
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns - back, st.st_mtime_ns - back))


def _chunk_rowids(state: State) -> dict[int, int]:
    return dict(state.db.execute("SELECT chunk, rowid FROM snapshot_index_chunks"))


def _fresh(project: ProjectDir, tmp_path: Path) -> str:
    return take_snapshot(project.root, "src", open_state_at(tmp_path / "elsewhere"), job="train").digest


def test_an_edit_rewrites_only_its_chunk(project: ProjectDir, state: State, tmp_path: Path) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    before = _chunk_rowids(state)
    assert len(before) == 3
    (project / "src" / f"m{folder_index.CHUNK + 7:04d}.py").write_text("x = 'edited'\n")
    edited = take_snapshot(project.root, "src", state, job="train")
    after = _chunk_rowids(state)
    assert edited.hashed == 1 and edited.digest == _fresh(project, tmp_path)
    assert [n for n in before if before[n] != after[n]] == [1]  # INSERT OR REPLACE gives a new rowid
    assert take_snapshot(project.root, "src", state, job="train").hashed == 0


def test_a_file_added_in_the_middle_shifts_every_later_chunk(project: ProjectDir, state: State,
                                                              tmp_path: Path) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    (project / "src" / "m0001a.py").write_text("new\n")
    (project / "src" / f"m{FILES - 1:04d}.py").unlink()
    again = take_snapshot(project.root, "src", state, job="train")
    assert again.hashed == 1 and again.count == FILES and again.digest == _fresh(project, tmp_path)
    assert take_snapshot(project.root, "src", state, job="train").hashed == 0


def test_of_two_saves_from_one_version_only_the_first_is_kept(project: ProjectDir, state: State) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    key = folder_index.key("src", True, frozenset())
    other = open_state_at(project.root / ".runner")
    first, second = folder_index.load(state.db, key), folder_index.load(other.db, key)
    walked = walk(project.root, "src").files
    digests, theirs = list(first.digests), list(second.digests)
    digests[0] = None  # the two writers disagree about the first file
    with state.transaction() as db:
        folder_index.save(db, key, first.successor(walked, digests, "a" * 64), first)
    with other.transaction() as db:
        folder_index.save(db, key, second.successor(walked, theirs, "b" * 64), second)
    stored = folder_index.load(state.db, key)
    assert stored.revision == first.revision + 1 and stored.manifest is None  # the first save: a None digest
    assert stored.digests[0] is None and stored.digests[1:] == digests[1:]
    other.close()


def test_a_no_op_that_needs_no_files_reads_only_the_header(project: ProjectDir, state: State) -> None:
    _tree(project)
    digest = take_snapshot(project.root, "src", state, job="train").digest
    with state.transaction() as db:
        db.execute("UPDATE snapshot_index_chunks SET data = x'00'")  # digests unreadable from here on
    bare = take_snapshot(project.root, "src", state, job="train", files=False)
    assert (bare.digest, bare.hashed) == (digest, 0)
    assert state.db.execute("SELECT count(*) FROM snapshot_index_chunks WHERE data = x'00'").fetchone()[0] == 3
    # a caller that needs the files: the stat cache answers, nothing is read again, the chunks are rewritten
    full = take_snapshot(project.root, "src", state, job="train")
    assert (full.digest, full.hashed, len(full.files)) == (digest, 0, FILES)
    assert state.db.execute("SELECT count(*) FROM snapshot_index_chunks WHERE data = x'00'").fetchone()[0] == 0


def test_digests_saved_over_since_the_header_was_read_are_not_used(project: ProjectDir, state: State,
                                                                   tmp_path: Path) -> None:
    from runner.snapshot.take import scan_folder, store_scan, with_digests

    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    scan = scan_folder(project.root, "src", state)
    assert scan.indexed and scan.index.revision is not None
    other = open_state_at(project.root / ".runner")
    take_snapshot(project.root, "src", other, job="eval")  # same folder, another job: saves the index again
    other.close()
    try:
        scan.index.digests  # noqa: B018
        raise AssertionError("digests of another version of the index were read")
    except folder_index.IndexUnreadable:
        pass
    with_digests(scan, state.db, project.root)
    assert not scan.indexed and not scan.dirty and None not in scan.digests
    snap = store_scan(project.root, scan, state, "train", None, code="src")
    assert (snap.digest, snap.hashed) == (_fresh(project, tmp_path), 0)


def _damage_digests(state: State, *chunks: int) -> None:
    with state.transaction() as db:
        db.executemany("UPDATE snapshot_index_chunks SET data = x'00' WHERE chunk = ?", [(n,) for n in chunks])


def _damaged(state: State) -> list[int]:
    return [n for (n,) in state.db.execute("SELECT chunk FROM snapshot_index_chunks WHERE data = x'00' ORDER BY chunk")]


def test_an_edit_that_needs_no_files_reads_only_its_chunks_digests(project: ProjectDir, state: State,
                                                                   tmp_path: Path) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    _damage_digests(state, 0, 2)  # only chunk 1's digests stay readable
    (project / "src" / f"m{folder_index.CHUNK + 7:04d}.py").write_text("x = 'edited'\n")
    edited = take_snapshot(project.root, "src", state, job="train", files=False)
    assert (edited.hashed, edited.digest) == (1, _fresh(project, tmp_path))
    assert _damaged(state) == [0, 2]  # never read, never rewritten
    again = take_snapshot(project.root, "src", state, job="train", files=False)
    assert (again.hashed, again.digest) == (0, edited.digest)
    # a caller that needs the files reads every chunk: the damaged ones are rebuilt from the stat cache
    full = take_snapshot(project.root, "src", state, job="train")
    assert (full.hashed, full.digest, len(full.files)) == (0, edited.digest, FILES)
    assert _damaged(state) == []


def test_an_edit_whose_chunk_digests_are_damaged_asks_the_stat_cache(project: ProjectDir, state: State,
                                                                      tmp_path: Path) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    _damage_digests(state, 1)
    (project / "src" / f"m{folder_index.CHUNK + 7:04d}.py").write_text("x = 'edited'\n")
    edited = take_snapshot(project.root, "src", state, job="train", files=False)
    assert (edited.hashed, edited.digest) == (1, _fresh(project, tmp_path))
    assert _damaged(state) == []
    assert take_snapshot(project.root, "src", state, job="train", files=False).hashed == 0


def test_an_edit_after_a_plan_reads_every_digest(project: ProjectDir, state: State, tmp_path: Path) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, record=False)  # as `runner plan`: no manifest object stored
    (project / "src" / "m0003.py").write_text("x = 'edited'\n")
    edited = take_snapshot(project.root, "src", state, job="train", files=False)
    assert (edited.hashed, edited.digest) == (1, _fresh(project, tmp_path))
    assert state.objects.has(edited.digest)


def test_digests_of_an_index_cleared_and_saved_again_at_the_same_revision_are_not_used(
        project: ProjectDir, state: State, tmp_path: Path) -> None:
    from runner.snapshot.take import scan_folder, store_scan, with_digests

    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    scan = scan_folder(project.root, "src", state)  # reads the header of revision 1
    other = open_state_at(project.root / ".runner")
    with other.transaction() as db:
        folder_index.clear(db)  # as gc or a damaged object does, without the project lock
    (project / "src" / "m0003.py").write_text("x = 'edited'\n")  # the other runner sees an edit
    take_snapshot(project.root, "src", other, job="eval")  # and saves revision 1 again
    other.close()
    assert folder_index.load(state.db, scan.index_key).revision == scan.index.revision
    with_digests(scan, state.db, project.root)
    assert not scan.indexed  # the other version's digests were refused: the stat cache answered
    (project / "src" / "m0003.py").write_text("x = 3\n")  # back as walked (a new stat: it is read again)
    assert store_scan(project.root, scan, state, "train", None, code="src").digest == _fresh(project, tmp_path)


def test_a_chunk_that_reads_but_holds_too_few_digests_is_not_trusted(project: ProjectDir, state: State,
                                                                    tmp_path: Path) -> None:
    import marshal

    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    (data,) = state.db.execute("SELECT data FROM snapshot_index_chunks WHERE chunk = 0").fetchone()
    version, digests = marshal.loads(data)
    with state.transaction() as db:
        db.execute("UPDATE snapshot_index_chunks SET data = ? WHERE chunk = 0", (marshal.dumps((version, digests[1:])),))
    again = take_snapshot(project.root, "src", state, job="train")
    assert (again.hashed, len(again.files), again.digest) == (0, FILES, _fresh(project, tmp_path))


def test_a_no_op_without_files_over_the_size_limits_reads_no_digests(project: ProjectDir, state: State) -> None:
    from types import SimpleNamespace

    _tree(project)
    limits = SimpleNamespace(warn_mb=1000, warn_files=10)
    digest = take_snapshot(project.root, "src", state, job="train", limits=limits).digest
    _damage_digests(state, 0, 1, 2)
    bare = take_snapshot(project.root, "src", state, job="train", limits=limits, files=False)
    assert (bare.digest, bare.hashed) == (digest, 0) and "largest files" in bare.warnings[0]
    assert _damaged(state) == [0, 1, 2]


def test_many_edits_without_files_over_damaged_digests_ask_the_stat_cache(project: ProjectDir, state: State,
                                                                         tmp_path: Path) -> None:
    _tree(project)
    take_snapshot(project.root, "src", state, job="train")
    for n in range(70):  # more than an edited manifest takes: every digest is needed
        (project / "src" / f"m{n:04d}.py").write_text(f"x = 'edited {n}'\n")
    _damage_digests(state, 2)
    edited = take_snapshot(project.root, "src", state, job="train", files=False)
    assert (edited.hashed, edited.digest) == (70, _fresh(project, tmp_path))


def test_no_ops_of_an_empty_folder_write_nothing(project: ProjectDir, state: State) -> None:
    (project / "empty").mkdir()
    take_snapshot(project.root, "empty", state, job="train")
    revision = state.db.execute("SELECT revision FROM snapshot_index").fetchone()
    for _ in range(3):
        assert take_snapshot(project.root, "empty", state, job="train").count == 0
    assert state.db.execute("SELECT revision FROM snapshot_index").fetchone() == revision


def test_an_edit_without_files_that_cannot_patch_the_manifest_reads_everything_again(
        project: ProjectDir, state: State, tmp_path: Path) -> None:
    _tree(project)
    first = take_snapshot(project.root, "src", state, job="train")
    manifest = state.objects.path(first.digest)
    manifest.chmod(0o644)
    manifest.write_bytes(b"damaged")  # the previous manifest cannot be edited: every digest is needed
    _damage_digests(state, 0, 2)  # and the digests of the chunks without an edit cannot be read
    (project / "src" / f"m{folder_index.CHUNK + 7:04d}.py").write_text("x = 'edited'\n")
    edited = take_snapshot(project.root, "src", state, job="train", files=False)
    assert edited.digest == _fresh(project, tmp_path)
    assert take_snapshot(project.root, "src", state, job="train", files=False).hashed == 0
