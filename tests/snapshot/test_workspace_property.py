"""A leased workspace holds exactly its snapshot, whatever the snapshots before it and
whatever the runs before it did to their code (issue 15): a property over many sequences."""

from __future__ import annotations

import contextlib
import marshal
import os
import shutil
import stat
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.snapshot import take_snapshot
from runner.snapshot.workspace import lease_workspace
from runner.state import open_state_at

NAMES = st.sampled_from(["a.py", "b.txt", "pkg", "sub", "x"])
# A tree: file name -> content (a str), or folder name -> a tree; modes by a trailing "!" (executable).
TREES = st.recursive(st.dictionaries(NAMES, st.sampled_from(["one\n", "two\n", "three\n", "two\n!"]), max_size=3),
                     lambda inner: st.dictionaries(NAMES, st.one_of(inner, st.sampled_from(["one\n", "four\n"])),
                                                   max_size=3), max_leaves=8)
# What a run does to its code: (action, path parts); paths that do not exist are skipped.
VANDALISM = st.lists(st.tuples(st.sampled_from(["edit", "delete", "add", "chmod", "mkdir", "replace", "link",
                                                "touch-back", "far-future"]),
                               st.lists(NAMES, min_size=1, max_size=3)), max_size=5)


def write_tree(root: Path, tree: dict) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)

    def put(folder: Path, node: dict) -> None:
        for name, value in node.items():
            if isinstance(value, dict):
                (folder / name).mkdir()
                put(folder / name, value)
            else:
                (folder / name).write_text(value.rstrip("!"))
                os.chmod(folder / name, 0o755 if value.endswith("!") else 0o644)

    put(root, tree)


def listing(root: Path, skip: tuple[str, ...] = (), empty: bool = True) -> dict[str, tuple[str, int]]:
    """Every file under `root`: its text and whether it is executable; with `empty`, folders
    that hold no file too (a snapshot has none)."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in skip:
            continue
        if path.is_symlink():
            found[rel] = ("link", 0)
        elif path.is_file():
            found[rel] = (path.read_text(), bool(path.stat().st_mode & stat.S_IXUSR))
        elif empty and not any(p.is_file() for p in path.rglob("*")):
            found[rel] = ("empty folder", 0)
    return found


def vandalise(run_dir: Path, actions: list[tuple[str, list[str]]]) -> None:
    for action, parts in actions:
        path = run_dir.joinpath(*parts)
        with contextlib.suppress(OSError):
            if action == "edit" and path.is_file():
                path.write_text(path.read_text()[::-1] or "x")  # same size: the ctime tells
            elif action == "delete":
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            elif action == "add":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("added by the run\n")
            elif action == "chmod" and path.exists():
                os.chmod(path, 0o700)
            elif action == "mkdir":
                (path / "__pycache__").mkdir(parents=True, exist_ok=True)
                (path / "__pycache__" / "m.pyc").write_bytes(b"\0")
            elif action == "replace" and path.is_file():
                path.unlink()
                path.mkdir()
                (path / "inside").write_text("a folder where a file was\n")
            elif action == "link":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.unlink(missing_ok=True) if not path.is_dir() else shutil.rmtree(path)
                path.symlink_to("/")
            elif action == "far-future" and path.is_file():
                os.utime(path, ns=(0, 2**63 + 10**9))  # an mtime past what 64 bits of nanoseconds hold
            elif action == "touch-back" and path.is_file():
                st_ = path.stat()
                path.write_text(path.read_text().upper() or "y")
                os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns))  # its mtime put back


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(TREES, VANDALISM), min_size=1, max_size=4), tamper=st.booleans())
def test_every_lease_holds_exactly_its_snapshot(steps: list[tuple[dict, list]], tamper: bool,
                                                tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("proj")
    outside = root / "outside.txt"
    outside.write_text("not runner's\n")
    with open_state_at(root / ".runner") as state:
        for number, (tree, actions) in enumerate(steps):
            write_tree(root / "src", tree)
            snap = take_snapshot(root, "src", state, job="j")
            run_dir = root / ".runner" / "runs" / f"j-{number}"
            with lease_workspace(state, "j", snap.digest, run_dir, source=root / "src"):
                assert listing(run_dir, skip=("outputs", "logs", "inputs")) == listing(root / "src", empty=False)
                (run_dir / "outputs").mkdir()
                vandalise(run_dir, actions)
            if tamper:  # a record written by a run: paths that leave the slot are never used
                record = root / ".runner" / "workspaces" / "j" / "0.record"
                with contextlib.suppress(OSError, ValueError, EOFError):
                    data = marshal.loads(record.read_bytes())
                    data["folders"][""]["../../../outside.txt"] = (1, 2, 3, 4)
                    data["fresh"]["../../../outside.txt"] = "0" * 64
                    record.write_bytes(marshal.dumps(data))
    assert outside.read_text() == "not runner's\n"


def test_a_file_a_run_dated_past_2262_is_written_again(tmp_path: Path) -> None:
    """Its stat does not fit the record's 64-bit fields: it never matches, whatever it holds."""
    write_tree(tmp_path / "src", {"a.py": "one\n", "pkg": {"b.txt": "two\n"}})
    with open_state_at(tmp_path / ".runner") as state:
        snap = take_snapshot(tmp_path, "src", state, job="j")
        for number in range(3):
            run_dir = tmp_path / "runs" / str(number)
            with lease_workspace(state, "j", snap.digest, run_dir):
                assert listing(run_dir) == listing(tmp_path / "src")
                (run_dir / "pkg" / "b.txt").write_text("TWO\n")
                os.utime(run_dir / "pkg" / "b.txt", ns=(0, 2**63 + 10**9))


def test_a_slot_whose_snapshot_gc_removed_is_built_anew(tmp_path: Path) -> None:
    """Its manifest gone, the slot's record cannot say what the next snapshot changes."""
    write_tree(tmp_path / "src", {"a.py": "one\n", "pkg": {"b.txt": "two\n"}})
    with open_state_at(tmp_path / ".runner") as state:
        first = take_snapshot(tmp_path, "src", state, job="j")
        with lease_workspace(state, "j", first.digest, tmp_path / "runs" / "1"):
            pass
        write_tree(tmp_path / "src", {"a.py": "ONE\n", "c.txt": "three\n"})
        second = take_snapshot(tmp_path, "src", state, job="j")
        state.objects.path(first.digest).unlink()  # as gc does once no run refers to it
    with open_state_at(tmp_path / ".runner") as state:  # a new command: nothing kept in memory
        with lease_workspace(state, "j", second.digest, tmp_path / "runs" / "2") as run_dir:
            assert listing(run_dir) == listing(tmp_path / "src", empty=False)
