"""Code snapshots: ignore rules, the stat cache, content-addressed manifests, staging, diffs."""

from __future__ import annotations

from runner.snapshot.data import hash_path
from runner.snapshot.manifest import (
           FileEntry,
           SnapshotDiff,
           diff_manifests,
           load_manifest,
)
from runner.snapshot.stage import stage_snapshot
from runner.snapshot.take import Snapshot, take_snapshot

__all__ = ["FileEntry", "Snapshot", "SnapshotDiff", "diff_manifests", "hash_path", "load_manifest",
           "stage_snapshot", "take_snapshot"]
