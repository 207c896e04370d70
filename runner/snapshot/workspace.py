"""Reusable code workspaces: a run's private copy of its snapshot, in time proportional to the edit.

Each job has a small pool under `.runner/workspaces/<job>/`: slot `N` is a folder `N/` (the
code tree), `N.lock` (flocked by the one run that leases it) and `N.record` (the snapshot it
holds, the stat of every file runner wrote there when it was written (size, mtime_ns,
ctime_ns, inode), folder by folder, and the digests of the files that may be as new as the
record itself, which the next survey hashes).

A run leases a free slot and brings it to its snapshot:
  - the survey lstats every file of the record (through folder descriptors, nothing read):
    one whose stat still matches was not changed since runner wrote it; one that differs or
    is gone is suspect, and whatever the record does not hold (left by the previous run:
    `__pycache__/`, a checkpoint written next to the code) is removed;
  - the manifests' difference (`changed_rows`) says what the new snapshot changes: its
    removed files are deleted, its added and changed files and the suspect ones it still
    holds are copied from the object store, verified against their digest while they are
    written (a copy-on-write clone where the filesystem offers one).
The slot folder is then renamed to be the run folder (an O(1) rename): the run's working
directory is still its run folder, which the Docker compute bind-mounts at the same path.
After the run (its outputs and logs collected) the folder is renamed back into the pool and
`outputs/`, `logs/` and `inputs/` are moved into a new run folder, which keeps only them.

Nothing here links into the object store: a run may edit, delete or add files in its code
and no object, nor the next run, is affected. Concurrent runs of one job lease different
slots. A slot whose holder died (a lost run) is free again (its flock went with the
process); its folder is gone (it is the lost run's folder), so it is built anew.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import marshal
import os
import posixpath
import re
import shutil
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from runner.atomic import atomic_write
from runner.collector import gc_paused
from runner.snapshot.manifest import FileEntry, changed_rows, load_manifest
from runner.snapshot.stage import _safe, forget
from runner.state.layout import INPUTS, LOGS, OUTPUTS
from runner.state.objects import CHUNK, ObjectError

if TYPE_CHECKING:
    from runner.state import State

RUN_FOLDERS = (OUTPUTS, LOGS, INPUTS)  # what a run folder keeps once its code went back to the pool
FICLONE = 0x40049409  # ioctl(dest, FICLONE, src): share the source's extents (btrfs, xfs)
PARALLEL_FROM = 512  # files to write from which two threads write them
CLONE_FROM = 1 << 20  # smaller files are read and written: a clone would not save time
_RESTORING = threading.Lock()
_RECORDS: dict[str, tuple[bytes, dict]] = {}  # record path -> (its bytes, decoded)
_SLOT = re.compile(r"^(\d+)\.lock$")
Stats = bytes  # a file's size, mtime_ns, ctime_ns and inode as runner wrote it, packed (see `_stats`)
_PACKED = struct.Struct("<qqqQ")
Folders = dict  # folder ("" for the top, else "a/", "a/b/") -> {file name: Stats}; every folder of the snapshot



@contextlib.contextmanager
def lease_workspace(state: State, job: str, digest: str, run_dir: Path, source: Path | None = None) -> Iterator[Path]:
    """Make `run_dir` a complete private copy of snapshot `digest` for the duration of the block.

    On leaving, the code goes back to the job's pool and `run_dir` keeps outputs/, logs/ and
    inputs/. An object missing from the store, or damaged, is stored again from `source` (the
    code folder the snapshot was taken from) when the file there still has its content; else
    it raises `ObjectError` (its stat-cache rows dropped, so the next snapshot reads it again)."""
    pool = Path(state.layout.workspace_pool(job))
    if pool.is_symlink():  # runner's own folder: a link a run put there is not followed
        pool.unlink()
    pool.mkdir(parents=True, exist_ok=True)
    slot, lock_fd = _lease(pool)
    tree, record_path = pool / slot, pool / f"{slot}.record"
    try:
        try:
            with gc_paused():  # the record and the manifest: tens of thousands of acyclic rows
                tops = _bring(state, tree, record_path, digest, source)
        except ObjectError as exc:
            forget(state, exc.digest)
            raise
        _move_in(tree, run_dir)
        try:
            yield run_dir
        finally:
            _move_out(run_dir, tree, record_path, tops)
    finally:
        os.close(lock_fd)


def _lease(pool: Path) -> tuple[str, int]:
    """The first slot no one holds (a new one if all are held), flocked: (its name, the lock's fd)."""
    taken = sorted(int(m.group(1)) for m in map(_SLOT.match, os.listdir(pool)) if m)
    for number in itertools.chain(taken, itertools.count(max(taken, default=-1) + 1)):
        fd = os.open(pool / f"{number}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return str(number), fd
    raise AssertionError("unreachable")  # pragma: no cover


def holds(pool: Path, slot: str) -> int | None:
    """gc: the slot's lock fd if no run holds it (then the caller owns it), else None."""
    fd = os.open(pool / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def slots(pool: Path) -> list[str]:
    return sorted({m.group(1) for m in map(_SLOT.match, os.listdir(pool)) if m}, key=int)


def _bring(state: State, tree: Path, record_path: Path, digest: str, source: Path | None = None) -> set[str]:
    """Make `tree` hold exactly the files of snapshot `digest`, writing only what differs.

    The slot's record says what it holds: the survey finds what changed since (one lstat per
    file, nothing read), the manifests' difference what the new snapshot changes. Returns the
    names at the top of the code tree."""
    record = _read_record(record_path) if tree.is_dir() else None
    found = _compare(state, tree, record, digest) if record is not None else None
    if record is None or found is None:
        return _rebuild(state, tree, record_path, digest, source)
    suspect, strays, gone, came = found
    for path in strays:  # what a run left: `__pycache__/`, a checkpoint beside the code
        _remove(tree / path)
    if not (suspect or gone or came):
        return record.setdefault("tops", _tops(record["folders"]))  # nothing written: the record still holds
    folders = {rel: dict(names) for rel, names in record["folders"].items()}  # the cached record stays as read
    # Digests the next survey may need: of files kept that are still as new as the record
    # (read from `folders` before the loop below drops the files that go).
    doubted = set(suspect)
    fresh = {path: known for path, known in record["fresh"].items() if path not in came and path not in doubted
             and path not in gone and _ctime_of(folders, path) >= record["sealed"]}
    for path in {*gone, *suspect}:
        _unlink(os.path.join(tree, path))
        _drop(folders, path)
    _empty_folders_removed(str(tree), folders)
    wanted = dict(came)
    redo = [path for path in suspect if path not in came and path not in gone]  # unchanged by the edit, not as found
    if redo:
        by_path = {entry.path: entry for entry in load_manifest(state, digest)}
        wanted.update((path, by_path[path]) for path in redo if path in by_path)  # else: not the snapshot's
    entries = sorted(wanted.values())
    _enter(folders, _write_all(state, tree, entries, digest, source))
    fresh.update((entry.path, entry.digest) for entry in entries)
    _save(record_path, digest, folders, fresh)
    return _tops(folders)


def _rebuild(state: State, tree: Path, record_path: Path, digest: str, source: Path | None) -> set[str]:
    """A slot built anew: its first run, or a record that cannot be trusted."""
    _remove(tree)
    tree.mkdir(parents=True)
    entries = list(load_manifest(state, digest))
    written = _write_all(state, tree, entries, digest, source)
    folders: Folders = {"": {}}
    _enter(folders, {entry.path: written[entry.path] for entry in entries})
    _save(record_path, digest, folders, {entry.path: entry.digest for entry in entries})
    return _tops(folders)


def _compare(state: State, tree: Path, record: dict, digest: str) -> tuple[list[str], list[str], dict, dict] | None:
    """(`_survey`'s suspect files and strays, then `_changes`), or None when the slot must be
    built anew: a folder the run made unreadable, a snapshot gc removed, or a record the run
    wrote itself (it lives in `.runner/`: its paths are used only if they stay in the tree)."""
    try:
        with _folder(str(tree)) as top:
            suspect, strays = _survey(top, record)
    except (OSError, LookupError, TypeError, ValueError, AttributeError, struct.error):
        return None
    try:
        gone, came = _changes(state, record["snapshot"], digest)
    except _Unknown:
        return None
    if not all(map(_plain, suspect)) or not all(map(_plain, gone)):
        return None
    return suspect, strays, gone, came


def _plain(path: str) -> bool:
    """A path inside the tree: relative, normal, no `..`, one the filesystem can name."""
    if not (isinstance(path, str) and path not in ("", ".", "..") and not path.startswith(("/", "../"))
            and "\0" not in path and posixpath.normpath(path) == path):
        return False
    try:
        os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate no file name decodes to
        return False
    return True




class _Unknown(Exception):
    """The slot holds a snapshot whose manifest is gone: rebuilt."""


def _changes(state: State, old: str, new: str) -> tuple[dict[str, FileEntry], dict[str, FileEntry]]:
    """What snapshot `new` drops or changes of `old` (path -> old entry) and what it adds or
    changes (path -> new entry)."""
    if old == new:
        return {}, {}
    try:
        return changed_rows(state, old, new)
    except ObjectError as exc:
        if exc.digest != new:
            raise _Unknown from exc
        raise


def _survey(top: int, record: dict) -> tuple[list[str], list[str]]:
    """Compare the tree (open as `top`) with its record: (files of the record not as runner
    wrote them: changed, replaced or gone; entries the record does not hold: left by a run).

    A file whose recorded ctime is not older than the record itself (`sealed`) could have been
    changed within the same clock tick, unseen by its stat (git's "racy" files): its content
    is hashed instead."""
    folders: Folders = record["folders"]
    sealed = record["sealed"]
    fresh: dict[str, dict[str, str]] = {}  # folder -> {name: digest} of the files the last staging wrote
    for path, digest in record["fresh"].items():
        rel, _, name = path.rpartition("/")
        fresh.setdefault(rel + "/" if rel else "", {})[name] = digest
    suspect: list[str] = []
    strays: list[str] = []
    visited: set[str] = set()

    def visit(folder: int, rel: str) -> None:
        visited.add(rel)
        expected, written = folders[rel], fresh.get(rel)
        seen = 0
        with os.scandir(folder) as listing:
            items = list(listing)
        for item in items:  # the hot loop: one lstat per file of the record
            known = expected.get(item.name)
            if known is not None:
                seen += 1
                if not item.is_file(follow_symlinks=False):
                    strays.append(rel + item.name)  # a folder or a link now: deleted, and the file written
                    suspect.append(rel + item.name)
                    continue
                if _stats(item.stat(follow_symlinks=False)) != known or (
                        written is not None and item.name in written and _ctime(known) >= sealed
                        and _digest_at(folder, item.name) != written[item.name]):
                    suspect.append(rel + item.name)
            elif rel + item.name + "/" in folders and item.is_dir(follow_symlinks=False):
                with _folder(item.name, folder) as inner:
                    visit(inner, rel + item.name + "/")
            else:
                strays.append(rel + item.name)
        if seen != len(expected):
            here = {item.name for item in items}
            suspect.extend(rel + name for name in expected if name not in here)

    visit(top, "")
    for rel in folders.keys() - visited:  # a folder the run removed or replaced
        suspect.extend(rel + name for name in folders[rel])
    return suspect, strays


@contextlib.contextmanager
def _folder(name: str, parent: int | None = None) -> Iterator[int]:
    """A folder open for listing (never through a link): each lstat looks up one name, not the path."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        yield fd
    finally:
        os.close(fd)


def _digest_at(folder: int, name: str) -> str | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return None
    with open(fd, "rb") as file:
        return _hash(file)


def _stats(st: os.stat_result) -> Stats:
    """What the record keeps of a file's stat; nothing if it does not fit (a run set an mtime
    past 2262): such a file never matches, it is written again."""
    try:
        return _PACKED.pack(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    except struct.error:
        return b""


def _ctime(stats: Stats) -> int:
    """The ctime in a record's stats; for stats of another size (a record a run wrote), a
    time no record is older than: the file's content is then hashed before it is trusted."""
    return int(_PACKED.unpack(stats)[2]) if len(stats) == _PACKED.size else 1 << 64


def _ctime_of(folders: Folders, path: str) -> int:
    rel, _, name = path.rpartition("/")
    stats = folders.get(rel + "/" if rel else "", {}).get(name)
    return _ctime(stats) if stats else -1


def _drop(folders: Folders, path: str) -> None:
    rel, _, name = path.rpartition("/")
    folders.get(rel + "/" if rel else "", {}).pop(name, None)


def _enter(folders: Folders, written: dict[str, Stats]) -> None:
    """Note written files, and every folder above them, in `folders`."""
    for path, stats in written.items():
        rel, _, name = path.rpartition("/")
        rel = rel + "/" if rel else ""
        names = folders.get(rel)
        if names is None:
            names = folders[rel] = {}
            while rel:  # its parents, up to one already there (the top always is)
                parent = rel[:-1].rpartition("/")[0]
                rel = parent + "/" if parent else ""
                if rel in folders:
                    break
                folders[rel] = {}
        names[name] = stats


def _empty_folders_removed(tree: str, folders: Folders) -> None:
    """Folders left without files below them are not the snapshot's: removed, deepest first."""
    live = {""}
    for rel, names in folders.items():
        while names and rel not in live:
            live.add(rel)
            parent = rel[:-1].rpartition("/")[0]
            rel = parent + "/" if parent else ""
    for rel in sorted(folders.keys() - live, key=len, reverse=True):
        del folders[rel]
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(tree, rel))


def _save(record_path: Path, digest: str, folders: Folders, fresh: dict[str, str]) -> None:
    atomic_write(record_path, marshal.dumps({"snapshot": digest, "folders": folders, "fresh": fresh}))


def _write_all(state: State, tree: Path, entries: list[FileEntry], snapshot: str, source: Path | None) -> dict[str, Stats]:
    """Write `entries` into `tree` (see `_write`); their stats. Many files (a first run)
    are written by two threads, each on its own run of folders: most of the cost of a small
    file is the kernel's creating it, which runs beside the other thread's Python."""
    made = {""}
    for entry in entries:
        parent = _safe(entry, snapshot).rpartition("/")[0]
        if parent not in made:
            os.makedirs(tree / parent, exist_ok=True)
            made.add(parent)

    def write(part: list[FileEntry]) -> dict[str, Stats]:
        rows: dict[str, Stats] = {}
        for entry in part:
            try:
                rows[entry.path] = _write(state, tree, entry)
            except ObjectError:
                if not _restore(state, source, entry):
                    raise
                rows[entry.path] = _write(state, tree, entry)
        return rows

    if len(entries) < PARALLEL_FROM:
        return write(entries)
    from concurrent.futures import ThreadPoolExecutor

    half = len(entries) // 2  # entries are sorted by path: each half holds its own folders
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(write, (entries[:half], entries[half:]))
    return {**first, **second}


def _tops(folders: Folders) -> set[str]:
    return {*folders.get("", ()), *(rel.partition("/")[0] for rel in folders if rel)}


def _write(state: State, tree: Path, entry: FileEntry) -> Stats:
    """Copy one object to its place in `tree` (its folder made, its path checked by `_safe`),
    verified against its digest; its stats as written."""
    target = os.path.join(tree, entry.path)
    source = str(state.objects.path(entry.digest))
    try:
        src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ObjectError(entry.digest, source, "is missing") from None
    try:
        out = _create(target, entry.mode)
        try:
            got = _copy(src, out, entry.size)
            if got != entry.digest:
                raise ObjectError(entry.digest, source, "is damaged: its content does not match its digest")
            st = os.fstat(out)
            if stat.S_IMODE(st.st_mode) != entry.mode:  # a umask took bits away: one more inode write
                os.fchmod(out, entry.mode)
                st = os.fstat(out)
        finally:
            os.close(out)
    finally:
        os.close(src)
    return _stats(st)


def _create(target: str, mode: int) -> int:
    """A new file at `target`, open for writing. Whatever is there already (a link or a hard
    link a run planted, a file its record vouched for) is removed, never written through."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(target, flags, mode)
    except FileExistsError:
        _remove(Path(target))
        return os.open(target, flags, mode)


def _restore(state: State, source: Path | None, entry: FileEntry) -> bool:
    """Store `entry`'s object again from the working tree, if its file there still has that
    content: an object deleted from the store by hand, or removed with a run output that had
    the same content, while the stat cache still vouches for the file."""
    if source is None:
        return False
    path, stored = os.path.join(source, entry.path), str(state.objects.path(entry.digest))
    with _RESTORING:  # two files of one content: the second finds it stored
        with contextlib.suppress(OSError):
            if _digest(stored) == entry.digest:
                return True
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode) or _digest(path) != entry.digest:
                return False
        except OSError:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stored)  # damaged at the same size: not stored over otherwise
        return state.objects.put_file(path)[0] == entry.digest


def _copy(src: int, out: int, size: int) -> str:
    """Copy `src` to `out` and return the sha256 of what was read (a clone where the filesystem can)."""
    hasher = hashlib.sha256()
    if size >= CLONE_FROM:
        with contextlib.suppress(OSError):
            fcntl.ioctl(out, FICLONE, src)
            while chunk := os.read(src, CHUNK):  # the clone shares these extents: verify them
                hasher.update(chunk)
            return hasher.hexdigest()
        os.lseek(src, 0, os.SEEK_SET)
    while chunk := os.read(src, CHUNK):
        hasher.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(out, view):]
    return hasher.hexdigest()


def _digest(path: str) -> str:
    with open(path, "rb") as file:
        return _hash(file)


def _hash(file: BinaryIO) -> str:
    hasher = hashlib.sha256()
    while chunk := file.read(CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest()


def _read_record(path: Path) -> dict | None:
    """The slot's record, with `sealed`: its own ctime (it is written after every file it names).

    Decoded once per process while its bytes stay the same (a sweep leases one slot for
    trial after trial: comparing the bytes costs far less than decoding them)."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
            sealed = os.fstat(file.fileno()).st_ctime_ns
        known = _RECORDS.get(str(path))
        if known is not None and known[0] == raw:
            data = known[1]
        else:
            data = marshal.loads(raw)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("snapshot"), str) and isinstance(data.get("fresh"), dict)
            and isinstance(data.get("folders"), dict) and "" in data["folders"]
            and all(rel == "" or (rel[-1:] == "/" and _plain(rel[:-1])) for rel in data["folders"])):
        return None
    if len(_RECORDS) >= 8 and str(path) not in _RECORDS:
        _RECORDS.pop(next(iter(_RECORDS)))
    _RECORDS[str(path)] = (raw, data)
    data["sealed"] = sealed
    return data


def _move_in(tree: Path, run_dir: Path) -> None:
    """`tree` becomes `run_dir`; what `run_dir` held already of a run's own folders (the log of
    an environment build) moves along, anything else there is removed (a run folder made in
    advance must not put files in place of the code; a link there is not followed)."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    if run_dir.is_symlink():
        run_dir.unlink()
    elif run_dir.is_dir():
        for item in os.listdir(run_dir):
            if item in RUN_FOLDERS:
                _remove(tree / item)
                os.rename(run_dir / item, tree / item)
            else:
                _remove(run_dir / item)
        run_dir.rmdir()
    os.rename(tree, run_dir)


def _move_out(run_dir: Path, tree: Path, record_path: Path, tops: set[str]) -> None:
    """The code goes back to the pool; `run_dir` keeps outputs/, logs/, inputs/ and whatever
    else the run left at its top that is not a name of the code (a compute's own files, a
    checkpoint written to `./`). Inside the code's folders, what the run added goes with them.

    If that cannot be done (the disk is full, the run folder is gone), the run folder stays
    as it is and the slot is forgotten: the next run builds it anew."""
    try:
        if run_dir.is_symlink():  # a run replaced its folder by a link: what it points to is not ours
            raise NotADirectoryError(run_dir)
        os.rename(run_dir, tree)
    except OSError:
        _forget_slot(tree, record_path)
        return
    try:
        os.mkdir(run_dir)
    except OSError:
        os.rename(tree, run_dir)
        _forget_slot(tree, record_path)
        return
    for name in os.listdir(tree):
        if name in RUN_FOLDERS or name not in tops:
            os.rename(tree / name, run_dir / name)


def _forget_slot(tree: Path, record_path: Path) -> None:
    if tree.parent.is_symlink():  # the pool replaced by a link during the run: nothing there is ours
        return
    with contextlib.suppress(FileNotFoundError):
        record_path.unlink()
    _remove(tree)


def _remove(path: Path) -> None:
    """Delete a file or folder, whatever modes a run left on it (we own these files)."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return

    def writable(func: object, name: str, info: tuple) -> None:
        exc = info[1]
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
            with contextlib.suppress(OSError):
                for folder in (os.path.dirname(name), name):
                    if not os.path.islink(folder):  # chmod follows links: never change a mode outside
                        os.chmod(folder, stat.S_IRWXU)
            shutil.rmtree(name, ignore_errors=True) if os.path.isdir(name) else _unlink(name)
        elif not isinstance(exc, FileNotFoundError):
            raise exc

    shutil.rmtree(path, onerror=writable)


def _unlink(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


def remove_slot(pool: Path, slot: str) -> None:
    """gc: delete a slot the caller holds (see `holds`)."""
    _forget_slot(pool / slot, pool / f"{slot}.record")
    with contextlib.suppress(FileNotFoundError):
        (pool / f"{slot}.lock").unlink()
