"""Manifests, digests, staging a stored snapshot, diffs, input data digests, size warnings."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import RunnerError, StateError
from runner.snapshot import (
    FileEntry,
    diff_manifests,
    hash_path,
    load_manifest,
    stage_snapshot,
    take_snapshot,
)
from runner.snapshot.history import diff_job
from runner.snapshot.manifest import encode, encode_rows, replace_rows
from runner.snapshot.records import resolve
from runner.state import State, open_state_at
from tests.conftest import ProjectDir


def test_digest_is_the_hash_of_the_canonical_manifest(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"b.py": "b\n", "a.py": "a\n", "pkg": {"c.py": "c\n"}}})
    snap = take_snapshot(project.root, "src", state, job="train")
    data = state.objects.read_bytes(snap.digest)
    assert hashlib.sha256(data).hexdigest() == snap.digest
    doc = json.loads(data)
    assert (doc["version"], doc["algorithm"], doc["fields"]) == (1, "sha256", ["path", "size", "mode", "digest"])
    assert [row[0] for row in doc["files"]] == ["a.py", "b.py", "pkg/c.py"]
    assert load_manifest(state, snap.digest) == snap.files
    assert snap.bytes == 6


def test_digest_does_not_depend_on_umask_or_location(tmp_path: Path) -> None:
    digests = []
    for name, mode in (("one", 0o600), ("two", 0o664)):
        root = tmp_path / name
        (root / "src").mkdir(parents=True)
        for rel, text in (("a.py", "a\n"), ("run.sh", "#!/bin/sh\n")):
            (root / "src" / rel).write_text(text)
            os.chmod(root / "src" / rel, mode | (0o100 if rel == "run.sh" else 0))
        with open_state_at(root / ".runner") as state:
            snap = take_snapshot(root, "src", state)
        assert [e.mode for e in snap.files] == [0o644, 0o755]
        digests.append(snap.digest)
    assert digests[0] == digests[1]


def test_stage_materialises_a_past_snapshot(project: ProjectDir, state: State, tmp_path: Path) -> None:
    project.gen({"src": {"a.py": "old\n", "bin": {"run.sh": "#!/bin/sh\n"}}})
    os.chmod(project / "src" / "bin" / "run.sh", 0o755)
    old = take_snapshot(project.root, "src", state, job="train")
    (project / "src" / "a.py").write_text("new\n")
    take_snapshot(project.root, "src", state, job="train")
    dest = tmp_path / "run"
    stage_snapshot(state, old.digest, dest)
    assert (dest / "a.py").read_text() == "old\n"
    assert stat.S_IMODE((dest / "bin" / "run.sh").stat().st_mode) == 0o755
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == ["a.py", "bin/run.sh"]


def test_a_damaged_object_stops_staging_and_is_read_again_next_time(project: ProjectDir, state: State,
                                                                    tmp_path: Path) -> None:
    project.gen({"src": {"a.py": "a\n"}})
    snap = take_snapshot(project.root, "src", state, job="train")
    obj = state.objects.path(snap.files[0].digest)
    os.chmod(obj, 0o644)
    obj.write_text("evil\n")
    with pytest.raises(StateError, match=snap.files[0].digest):
        stage_snapshot(state, snap.digest, tmp_path / "run")
    assert not (tmp_path / "run" / "a.py").exists()
    obj.unlink()  # as the message says
    again = take_snapshot(project.root, "src", state, job="train")
    assert again.hashed == 1 and again.digest == snap.digest
    stage_snapshot(state, snap.digest, tmp_path / "run")
    assert (tmp_path / "run" / "a.py").read_text() == "a\n"


def test_diff_manifests() -> None:
    old = (FileEntry("a", 1, 0o644, "1"), FileEntry("b", 1, 0o644, "2"), FileEntry("c", 1, 0o644, "3"))
    new = (FileEntry("a", 1, 0o644, "1"), FileEntry("b", 2, 0o644, "9"), FileEntry("c", 1, 0o755, "3"),
           FileEntry("d", 1, 0o644, "4"))
    diff = diff_manifests(old, new)
    assert (diff.added, diff.removed, diff.modified) == (("d",), (), ("b", "c"))
    assert diff_manifests(new, old).removed == ("d",)


_ROWS = st.dictionaries(st.sampled_from("abcdefgh"), st.tuples(st.sampled_from("0123"), st.sampled_from([0o644, 0o755])))


@given(_ROWS, _ROWS)
def test_diff_manifests_matches_path_by_path(before: dict, after: dict) -> None:
    """Any two manifests: added, removed and modified as a comparison of every path says."""
    def entries(rows: dict) -> tuple[FileEntry, ...]:
        return tuple(FileEntry(path, int(digest), mode, digest) for path, (digest, mode) in sorted(rows.items()))

    diff = diff_manifests(entries(before), entries(after))
    assert diff.added == tuple(sorted(after.keys() - before.keys()))
    assert diff.removed == tuple(sorted(before.keys() - after.keys()))
    assert diff.modified == tuple(sorted(p for p in before.keys() & after.keys() if before[p] != after[p]))


def test_diff_against_the_previous_recorded_snapshot(project: ProjectDir, state: State) -> None:
    project.gen({"src": {"a.py": "a\n", "b.py": "b\n"}})
    with pytest.raises(StateError, match="no recorded snapshot of job 'train'"):
        diff_job(project.root, "src", state, "train")
    first = take_snapshot(project.root, "src", state, job="train")
    assert diff_job(project.root, "src", state, "train").diff.as_json() == {"added": [], "removed": [], "modified": []}
    (project / "src" / "a.py").write_text("A\n")
    (project / "src" / "b.py").unlink()
    (project / "src" / "c.py").write_text("c\n")
    expected = {"added": ["c.py"], "removed": ["b.py"], "modified": ["a.py"]}
    assert diff_job(project.root, "src", state, "train").diff.as_json() == expected
    take_snapshot(project.root, "src", state, job="train")  # now recorded: "previous" is still `first`
    assert diff_job(project.root, "src", state, "train").diff.as_json() == expected
    assert diff_job(project.root, "src", state, "train", first.digest[:8]).old == first.digest


def test_resolve_refuses_unknown_and_short_prefixes(state: State) -> None:
    with pytest.raises(StateError, match="not a recorded snapshot"):
        resolve(state.db, "abcd")
    with pytest.raises(StateError):
        resolve(state.db, "ab")


def test_hash_path_of_files_and_folders(project: ProjectDir, state: State) -> None:
    project.gen({".gitignore": "data/\n", "data": {"x.csv": "1\n", "sub": {"y.csv": "2\n"}}})
    assert hash_path(project.root, "data/x.csv", state) == hashlib.sha256(b"1\n").hexdigest()
    folder = hash_path(project.root, "data", state)  # ignore rules do not hide data from its digest
    entries = (FileEntry("sub/y.csv", 2, 0o644, hashlib.sha256(b"2\n").hexdigest()),
               FileEntry("x.csv", 2, 0o644, hashlib.sha256(b"1\n").hexdigest()))
    assert folder == hashlib.sha256(encode(entries)).hexdigest()
    (project / "data" / "sub" / "y.csv").write_text("3\n")
    assert hash_path(project.root, "data", state) != folder
    with pytest.raises(RunnerError, match="does not exist"):
        hash_path(project.root, "nope.csv", state)


def test_size_warnings_name_the_largest_files_and_folders(project: ProjectDir, state: State) -> None:
    from types import SimpleNamespace

    project.gen({"src": {"a.py": "a\n", "data": {"big.bin": b"x" * 3_000_000, "small.bin": b"y" * 10},
                         "more": {f"f{i}": "z" for i in range(5)}}})
    quiet = take_snapshot(project.root, "src", state, limits=SimpleNamespace(warn_mb=300, warn_files=2000))
    assert quiet.warnings == ()
    loud = take_snapshot(project.root, "src", state, job="train", limits=SimpleNamespace(warn_mb=1, warn_files=2000))
    (warning,) = loud.warnings
    assert "job 'train'" in warning and "data/big.bin (2.9 MB)" in warning and "data/ (2 files" in warning
    many = take_snapshot(project.root, "src", state, limits=SimpleNamespace(warn_mb=300, warn_files=4))
    folders = many.warnings[0].partition("largest folders: ")[2]
    assert "8 files" in many.warnings[0] and folders.index("more/ (5 files") < folders.index("data/ (2 files")


PATHS = st.lists(st.one_of(st.sampled_from(["path", "size", "a", "a b", 'q"x', "b\\s", "[x]", "é", "日本", "d/e.py"]),
                           st.text(min_size=1, max_size=8)), min_size=1, max_size=12, unique=True)


@settings(max_examples=200, deadline=None)
@given(paths=PATHS, data=st.data())
def test_editing_rows_gives_the_bytes_of_encoding_the_edited_rows(paths: list[str], data: st.DataObject) -> None:
    rows = sorted((p, len(p), 0o644, hashlib.sha256(p.encode("utf-8", "surrogatepass")).hexdigest()) for p in paths)
    chosen = data.draw(st.lists(st.sampled_from(paths), unique=True, max_size=len(paths)))
    changed = {p: (data.draw(st.integers(0, 10**12)), data.draw(st.sampled_from([0o644, 0o755])),
                   hashlib.sha256(b"new" + p.encode("utf-8", "surrogatepass")).hexdigest()) for p in chosen}
    edited = sorted((p, *changed[p]) if p in changed else (p, size, mode, digest) for p, size, mode, digest in rows)
    assert replace_rows(encode_rows(rows), changed) == encode_rows(edited)
    assert replace_rows(encode_rows(rows), {"not-there": (1, 0o644, "0" * 64)}) is None


def test_an_edited_snapshot_has_the_digest_of_a_fresh_one(project: ProjectDir, state: State, tmp_path: Path) -> None:
    project.gen({"src": {f"m{i}.py": f"x = {i}\n" for i in range(30)} | {"path": "a file named like a field\n"}})
    first = take_snapshot(project.root, "src", state, job="train")
    (project / "src" / "m7.py").write_text("x = 'seven'\n")
    (project / "src" / "path").write_text("edited\n")
    os.chmod(project / "src" / "m8.py", 0o755)
    (project / "src" / "m9.py").write_text("x = 9\n")  # written again, the same content
    edited = take_snapshot(project.root, "src", state, job="train")
    from runner.snapshot.manifest import _changed_rows, changed_rows

    gone, came = changed_rows(state, first.digest, edited.digest)  # known from the edit, not compared
    assert (gone, came) == _changed_rows(state, first.digest, edited.digest)
    assert sorted(came) == ["m7.py", "m8.py", "path"]
    fresh = take_snapshot(project.root, "src", open_state_at(tmp_path / "other-state"), job="train")
    assert edited.hashed == 4 and fresh.hashed == 31
    assert edited.digest == fresh.digest and edited.files == fresh.files
    assert (edited.count, edited.bytes) == (fresh.count, fresh.bytes)
    assert state.objects.read_bytes(edited.digest) == encode(fresh.files)


DIFF_PATHS = st.lists(st.one_of(st.sampled_from(["a", "],[", 'x"],["y', "a],[1,2,3", 'p],[1,2,"q', "],[]", "[[", "]]",
                                                 '"version":', "é"]), st.text(min_size=1, max_size=6)),
                      min_size=0, max_size=8, unique=True)


@settings(max_examples=150, deadline=None)
@given(before=DIFF_PATHS, after=DIFF_PATHS, data=st.data())
def test_stored_snapshots_compared_as_text_match_a_comparison_of_every_row(
        before: list[str], after: list[str], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Paths that hold the row separator `],[`, quotes or brackets: the text comparison finds
    what a comparison of decoded rows finds (or decodes them whole)."""
    from runner.snapshot.manifest import _row_texts, changed_rows, diff_snapshots

    def row(path: str) -> tuple[str, int, int, str]:
        content = data.draw(st.sampled_from(["1", "2"]), label=path)
        return (path, 1, data.draw(st.sampled_from([0o644, 0o755])), hashlib.sha256(content.encode()).hexdigest())

    old = [FileEntry(*row(p)) for p in sorted(before)]
    new = [FileEntry(*row(p)) for p in sorted(after)]
    with open_state_at(tmp_path_factory.mktemp("state")) as state:
        old_digest, new_digest = state.objects.put_bytes(encode(old)), state.objects.put_bytes(encode(new))
        assert _row_texts(encode(old)) is not None  # compared as text, not decoded
        gone, came = changed_rows(state, old_digest, new_digest)
        assert set(gone.values()) == set(old) - set(new) and set(came.values()) == set(new) - set(old)
        assert diff_snapshots(state, old_digest, new_digest) == diff_manifests(old, new)
