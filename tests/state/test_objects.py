"""The object store: content-addressed, read-only, verified on every read."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import StateError
from runner.state import State
from runner.state.objects import SMALL, ObjectError, ObjectStore


def test_put_and_read_back(state: State) -> None:
    digest = state.objects.put_bytes(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    path = state.objects.path(digest)
    assert path == state.root / "objects" / "sha256" / digest[:2] / digest[2:]
    assert state.objects.read_bytes(digest) == b"hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert state.objects.has(digest) and not state.objects.has("0" * 64)


def test_put_file_streams_big_files(state: State, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(SMALL + 12345)
    big.write_bytes(data)
    digest, size = state.objects.put_file(big)
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert state.objects.read_bytes(digest) == data
    assert state.objects.put_file(big) == (digest, size)  # stored once; the second temp file is dropped
    assert list((state.root / "objects" / "tmp").iterdir()) == []


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=3000))
def test_any_content_round_trips(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    store = ObjectStore(tmp_path_factory.mktemp("objects"))
    assert store.read_bytes(store.put_bytes(data)) == data


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


@pytest.mark.parametrize("damage", [b"hellO", b"hell", b""])
def test_tampered_or_truncated_object_is_an_error_naming_it(state: State, damage: bytes, tmp_path: Path) -> None:
    digest = state.objects.put_bytes(b"hello")
    _tamper(state.objects.path(digest), damage)
    with pytest.raises(StateError, match=digest) as info:
        state.objects.read_bytes(digest)
    assert str(state.objects.path(digest)) in str(info.value) and "damaged" in str(info.value)
    dest = tmp_path / "out" / "f.txt"
    with pytest.raises(ObjectError, match=digest):
        state.objects.copy_to(digest, dest)
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no partial copy left behind


def test_missing_object_is_an_error(state: State, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(StateError, match=f"{digest}.*missing"):
        state.objects.read_bytes(digest)
    with pytest.raises(StateError, match="missing"):
        state.objects.copy_to(digest, tmp_path / "x")


def test_copy_to_is_a_writable_copy_not_a_link(state: State, tmp_path: Path) -> None:
    digest = state.objects.put_bytes(b"#!/bin/sh\n")
    dest = tmp_path / "run" / "go.sh"
    state.objects.copy_to(digest, dest, mode=0o755)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert dest.stat().st_ino != state.objects.path(digest).stat().st_ino
    dest.write_bytes(b"changed by the run")
    assert state.objects.read_bytes(digest) == b"#!/bin/sh\n"


def test_batch_defers_sync_but_stores_everything(state: State) -> None:
    with state.objects.batch():
        digests = [state.objects.put_bytes(str(i).encode()) for i in range(20)]
    assert all(state.objects.read_bytes(d) == str(i).encode() for i, d in enumerate(digests))


def test_read_only_view_stores_nothing(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects", writable=False)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (SMALL + 1))
    assert store.put_file(big)[0] == hashlib.sha256(b"x" * (SMALL + 1)).hexdigest()
    assert store.put_bytes(b"y") == hashlib.sha256(b"y").hexdigest()
    assert not (tmp_path / "objects").exists()


def test_a_small_batch_syncs_each_object_its_shard_and_the_shards_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.state import objects

    synced: list[str] = []
    real = objects._fsync
    monkeypatch.setattr(objects, "_fsync", lambda path: synced.append(path) or real(path))  # power loss cannot be run
    store = ObjectStore(tmp_path / "objects")
    with store.batch():
        first = store.put_bytes(b"first")
        second = store.put_bytes(b"second")
    base = str(tmp_path / "objects" / "sha256")
    assert synced == [str(store.path(first)), str(store.path(second)), f"{base}/{first[:2]}",
                      f"{base}/{second[:2]}", base]
