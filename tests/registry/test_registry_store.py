"""The registry tables: one transaction per change, so a failed registration leaves nothing behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runner.registry.store import ModelStore, NewVersion
from runner.state import open_state_at


def test_a_registration_that_fails_half_way_leaves_no_trace(tmp_path: Path) -> None:
    with open_state_at(tmp_path / ".runner") as state:
        store = ModelStore(state.db)
        broken = NewVersion(name="m", digest="d" * 64, path="outputs/x", kind="file", run_id="no-such-run",
                            files=(("x", "d" * 64, 1),), metadata={}, lineage={})
        with pytest.raises(sqlite3.IntegrityError):  # the version row names a run that does not exist
            store.register(broken, ["latest"], commit=None)
        assert store.model("m") is None and store.versions("m") == [] and store.history("m") == []
        assert store.aliases("m") == {} and store.models() == []
