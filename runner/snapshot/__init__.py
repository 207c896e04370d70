"""Code snapshots: ignore rules, the stat cache, content-addressed manifests, staging, diffs.

Names are imported on first use (PEP 562): `runner snapshot` imports only what taking a
snapshot needs, not staging or data hashing.

May import: runner.state, and the foundation modules.
"""

from __future__ import annotations

_WHERE = {
    "FileEntry": "manifest", "SnapshotDiff": "manifest", "diff_manifests": "manifest",
    "load_manifest": "manifest", "hash_path": "data", "stage_snapshot": "stage",
    "Snapshot": "take", "take_snapshot": "take",
}

__all__ = ["FileEntry", "Snapshot", "SnapshotDiff", "diff_manifests", "hash_path", "load_manifest",
           "stage_snapshot", "take_snapshot"]


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'runner.snapshot' has no attribute {name!r}")
    module = __import__(f"runner.snapshot.{_WHERE[name]}", fromlist=[name])  # not importlib: it costs ~0.5 ms
    value = getattr(module, name)
    globals()[name] = value
    return value
