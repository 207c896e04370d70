"""`runner gc`: delete objects that nothing references.

What is referenced is the union of the `ROOTS` functions, one per kind of record:
recorded snapshots and the snapshots of runs (their manifests and every file in them),
runs' stored outputs and logs, and every file of every model version (archived too).
They are listed here, not registered by the modules that own the tables, so a root can
never be missing because its module was not imported. The stat cache is not a root: gc
drops the cache rows that point at the objects it deletes, so those files are simply
read again next time.

gc also removes every code workspace no run holds (`.runner/workspaces/`, see
runner.snapshot.workspace): they are caches of snapshots, rebuilt by the next run that needs one.

Deleting happens inside one SQLite write transaction. A writer that stores objects
without the project lock (`runner plan` filling the caches) commits its cache rows in a
transaction too and checks there that their objects still exist, so the two cannot
interleave into a cache row that points at a deleted object.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.snapshot.index import clear as clear_indexes
from runner.state.db import transaction

if TYPE_CHECKING:
    from runner.state import State

RootFn = Callable[["State", list[str]], Iterable[str]]  # (state, warnings to add to) -> digests
TEMP_GRACE_S = 3600  # temp files younger than this may belong to a writer still running


@dataclass(frozen=True)
class GcResult:
    objects: int
    bytes: int
    temp_files: int
    dry_run: bool
    workspaces: int = 0  # code workspaces no run held, removed (or, dry run, that would be)
    warnings: tuple[str, ...] = ()


class UnreadableManifest(Exception):
    """A recorded manifest cannot be read: which file objects it keeps alive is unknown."""


def snapshot_roots(state: State, warnings: list[str]) -> Iterable[str]:
    """Every recorded manifest and the files in it. A manifest that is gone or damaged could
    name any object: gc then keeps every object (and says so), never deleting its files."""
    from runner.snapshot.manifest import load_manifest
    from runner.state.objects import ObjectError

    manifests = _column(state, "SELECT digest FROM snapshots UNION SELECT snapshot FROM runs")
    for digest in manifests:
        yield digest
        try:
            yield from (entry.digest for entry in load_manifest(state, digest))
        except ObjectError as exc:
            runs = [r for (r,) in state.db.execute("SELECT id FROM runs WHERE snapshot = ? ORDER BY id", (digest,))]
            used = f" (the code of runs {', '.join(runs)})" if runs else ""
            warnings.append(f"snapshot {digest[:12]}{used} cannot be read, so gc keeps every object (any "
                            f"could be one of its files) until it is restored from a backup; `runner doctor` "
                            f"checks the rest: {str(exc).splitlines()[0]}")
            raise UnreadableManifest(digest) from None


def run_file_roots(state: State, warnings: list[str]) -> Iterable[str]:
    """Outputs and logs stored for every run: `runs download` and model registration read them."""
    return _column(state, "SELECT DISTINCT digest FROM run_files")


def model_roots(state: State, warnings: list[str]) -> Iterable[str]:
    """Every file of every registered version: gc never deletes a model, archived or not."""
    return _column(state, "SELECT DISTINCT digest FROM model_files")


def _column(state: State, sql: str) -> set[str]:
    return {row[0] for row in state.db.execute(sql) if row[0]}


ROOTS: list[RootFn] = [snapshot_roots, run_file_roots, model_roots]


def referenced(state: State, warnings: list[str] | None = None) -> set[str]:
    found: set[str] = set()
    for root in ROOTS:
        found.update(root(state, warnings if warnings is not None else []))
    return found


def collect_garbage(state: State, *, dry_run: bool = False) -> GcResult:
    if dry_run or not state.exists:
        return _sweep(state, dry_run=True)
    with state.lock():
        return _sweep(state, dry_run=False)


def _sweep(state: State, *, dry_run: bool) -> GcResult:
    warnings: list[str] = []
    try:
        keep = referenced(state, warnings)
    except UnreadableManifest:
        keep = None  # every object stays
    garbage = [(digest, path) for digest, path in state.objects.iter_objects() if keep is not None and digest not in keep]
    freed = sum(_size(path) for _, path in garbage)
    temps = _stale_temps(state.objects.root / "tmp")
    freed += sum(_size(path) for path in temps)
    if not dry_run:
        _delete(state, garbage, temps)
    workspaces = _workspaces(state, dry_run=dry_run)
    return GcResult(objects=len(garbage), bytes=freed, temp_files=len(temps), dry_run=dry_run,
                    warnings=tuple(warnings), workspaces=workspaces)


def _workspaces(state: State, *, dry_run: bool) -> int:
    """Remove (count, on a dry run) the code workspaces that no run holds now."""
    from runner.snapshot.workspace import holds, remove_slot, slots

    root = Path(state.layout.workspaces)
    if not root.is_dir():
        return 0
    count = 0
    for pool in (p for p in root.iterdir() if p.is_dir()):
        for slot in slots(pool):
            fd = holds(pool, slot)
            if fd is None:
                continue
            try:
                count += 1
                if not dry_run:
                    remove_slot(pool, slot)
            finally:
                os.close(fd)
        if not dry_run:
            _rmdir_if_empty(pool)
    return count


def _delete(state: State, garbage: list[tuple[str, Path]], temps: list[Path]) -> None:
    with transaction(state.db):
        state.db.executemany("DELETE FROM stat_cache WHERE digest = ?", [(d,) for d, _ in garbage])
        if garbage:
            clear_indexes(state.db)  # they may name a removed object; the stat cache rebuilds them
        for _, path in garbage:
            _unlink(path)
    for path in temps:
        _unlink(path)
    for parent in {path.parent for _, path in garbage}:
        _rmdir_if_empty(parent)


def _stale_temps(tmp_dir: Path) -> list[Path]:
    if not tmp_dir.is_dir():
        return []
    cutoff = time.time() - TEMP_GRACE_S
    return [Path(e.path) for e in os.scandir(tmp_dir) if e.is_file() and e.stat().st_mtime < cutoff]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
