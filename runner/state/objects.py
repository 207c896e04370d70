"""Content-addressed, immutable blobs: `objects/sha256/ab/<rest of the hex digest>`.

An object is written to a temp file in `objects/tmp/` (created read-only, 0o444),
fsynced and renamed into place, so a reader sees a whole object or none. Reads verify the digest: a
missing, truncated or tampered object is a `StateError` naming it, never used silently.

Inside `batch()` the per-object fsync is deferred to the end of the batch: one
filesystem sync for many objects (thousands of small files: one sync instead of
thousands), an fsync of each object and its folder for a few (an edit: syncfs would
flush every other dirty file on the disk too). Callers commit the rows that reference
the objects only after the batch has ended.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from _thread import get_ident  # threading.get_ident itself, without importing threading
from contextlib import contextmanager

from runner.errors import StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ALGORITHM = "sha256"
CHUNK = 1 << 20
SMALL = 4 << 20  # files up to this size are read whole: hash first, write only if new
READ_ONLY = 0o444
KNOWN = 8  # decoded objects (manifests) one command keeps, see `ObjectStore.know`
FSYNC_EACH_UP_TO = 16  # a batch of more objects ends with one syncfs instead of an fsync each


class ObjectError(StateError):
    """An object is missing or its content does not match its digest."""

    def __init__(self, digest: str, path: str | os.PathLike[str], problem: str) -> None:
        self.digest = digest
        super().__init__(f"object {ALGORITHM}:{digest} ({path}) {problem}; delete that file if it "
                         f"exists, then run `runner snapshot JOB` or rerun the job to store it again")


class ObjectStore:
    """Paths are strings inside (this runs once per file); `root` and `path()` hand out `Path`s."""

    def __init__(self, root: str | os.PathLike[str], *, writable: bool = True) -> None:
        self.root_path = os.fspath(root)
        self.writable = writable  # False: a read-only view (no .runner/ yet): hash, store nothing
        self._deferred: list[str] | None = None
        self._base = os.path.join(root, ALGORITHM)
        self._tmp = os.path.join(root, "tmp")
        self._tmp_ready = False
        self._names = itertools.count()
        self._known: dict[str, object] = {}

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self.root_path)

    def path(self, digest: str) -> Path:
        from pathlib import Path

        return Path(self._where(digest))

    def _where(self, digest: str) -> str:
        return f"{self._base}/{digest[:2]}/{digest[2:]}"

    def known(self, digest: str) -> object | None:
        """What this command already made of object `digest` (see `know`), or None."""
        return self._known.get(digest)

    def know(self, digest: str, value: object) -> None:
        """Keep `value`, read from object `digest` (or made as it), for the rest of this command:
        an object never changes, and one apply reads the same manifest up to three times (plan,
        staging, log paths). Only the last few are kept (gc reads every manifest once)."""
        if len(self._known) >= KNOWN:
            self._known.pop(next(iter(self._known)))
        self._known[digest] = value

    def has(self, digest: str) -> bool:
        return os.path.exists(f"{self._base}/{digest[:2]}/{digest[2:]}")

    def _intact(self, digest: str, size: int) -> bool:
        """The object is there with the right size (a truncated one is stored again)."""
        try:
            st = os.stat(f"{self._base}/{digest[:2]}/{digest[2:]}")
        except OSError:
            return False
        return st.st_mode & 0o170000 == 0o100000 and st.st_size == size  # a regular file

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store `data`; `digest`: its sha256, when the caller has just computed it (not read it)."""
        if digest is None:
            import hashlib  # here and below, not at the top: a no-op snapshot never hashes (~2.5 ms to import)

            digest = hashlib.sha256(data).hexdigest()
        if self.writable and not self._intact(digest, len(data)):
            tmp = self._temp_with(data)
            self._install(tmp, digest)
        return digest

    def put_file(self, path: Path | str | int) -> tuple[str, int]:
        """Store a file's content (a path, or an open descriptor, closed here); returns (digest, size).
        Big files are streamed, never loaded whole."""
        with open(path, "rb") as src:
            head = src.read(SMALL + 1)
            if len(head) <= SMALL:
                return self.put_bytes(head), len(head)
            return self._put_stream(src, head)

    def read_bytes(self, digest: str) -> bytes:
        path = self._where(digest)
        data = self._read(path, digest)
        import hashlib

        if hashlib.sha256(data).hexdigest() != digest:
            raise ObjectError(digest, path, "is damaged: its content does not match its digest")
        return data

    def copy_to(self, digest: str, dest: Path, mode: int = 0o644) -> None:
        """Copy an object to `dest` (never a hardlink: a run must not change a stored object).

        The copy is verified while it is written and only renamed into place when whole.
        """
        import tempfile  # only runs copy objects out: snapshots do not pay for the import

        src_path = self._where(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                got = self._copy_verified(src_path, digest, out)
            if got != digest:
                raise ObjectError(digest, src_path, "is damaged: its content does not match its digest")
            os.chmod(tmp, mode)
            os.replace(tmp, dest)
        except BaseException:
            _unlink(tmp)
            raise

    def copy_into(self, digest: str, folder_fd: int, name: str, mode: int = 0o644) -> None:
        """`copy_to` into the folder open as `folder_fd` (see `runner.state.export`): the temp file
        is created there without following a link, verified, and renamed over `name`."""
        tmp = f".{name}.{os.getpid()}-{get_ident()}-{next(self._names)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder_fd)
        try:
            with os.fdopen(fd, "wb") as out:
                got = self._copy_verified(self._where(digest), digest, out)
                if got != digest:
                    raise ObjectError(digest, self._where(digest), "is damaged: its content does not match its digest")
                os.fchmod(out.fileno(), mode)
            os.replace(tmp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder_fd)
            raise

    def iter_objects(self) -> Iterator[tuple[str, Path]]:
        """Every stored object as (digest, path), for gc."""
        from pathlib import Path

        base = self._base
        if not os.path.isdir(base):
            return
        for shard in os.scandir(base):
            if shard.is_dir() and len(shard.name) == 2:
                for entry in os.scandir(shard.path):
                    if not entry.name.startswith("."):
                        yield shard.name + entry.name, Path(entry.path)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Defer durability to one filesystem sync when the block ends (see the module docstring)."""
        if self._deferred is not None:
            yield
            return
        self._deferred = []
        try:
            yield
        finally:
            pending, self._deferred = self._deferred, None
            if len(pending) > FSYNC_EACH_UP_TO:
                _sync_filesystem(self.root_path)
            else:  # a few objects (an edit): syncfs would also flush everything else on the disk
                # Each object, the shards holding their names, and the shards' parent, which may
                # hold a new shard (this batch's, or another process's not synced yet).
                shards = dict.fromkeys(_fsync(self._where(digest)) for digest in pending)
                for folder in [*shards, self._base] if shards else ():
                    _fsync(folder)

    # -- writing

    def _new_temp(self) -> tuple[int, str]:
        """A new temp file in objects/tmp/ (named by pid, thread and a counter: cheaper than mkstemp)."""
        if not self._tmp_ready:
            os.makedirs(self._tmp, exist_ok=True)
            self._tmp_ready = True
        while True:
            tmp = f"{self._tmp}/{os.getpid()}-{get_ident()}-{next(self._names)}.tmp"
            try:
                return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, READ_ONLY), tmp  # the fd still writes
            except FileExistsError:  # left behind by a dead process that had our pid
                continue

    def _temp_with(self, data: bytes) -> str:
        fd, tmp = self._new_temp()
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                self._flush(out)
        except BaseException:
            _unlink(tmp)
            raise
        return tmp

    def _put_stream(self, src: object, head: bytes) -> tuple[str, int]:
        import hashlib

        hasher = hashlib.sha256(head)
        size = len(head)
        if not self.writable:
            while chunk := src.read(CHUNK):  # type: ignore[attr-defined]
                hasher.update(chunk)
                size += len(chunk)
            return hasher.hexdigest(), size
        fd, tmp = self._new_temp()
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                while chunk := src.read(CHUNK):  # type: ignore[attr-defined]
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                self._flush(out)
            digest = hasher.hexdigest()
            if self._intact(digest, size):
                _unlink(tmp)
            else:
                self._install(tmp, digest)
        except BaseException:
            _unlink(tmp)
            raise
        return digest, size

    def _flush(self, out: object) -> None:
        out.flush()  # type: ignore[attr-defined]
        if self._deferred is None:
            os.fsync(out.fileno())  # type: ignore[attr-defined]

    def _install(self, tmp: str, digest: str) -> None:
        final = self._where(digest)
        try:
            os.replace(tmp, final)
        except FileNotFoundError:  # first object of its shard (or gc just removed the empty shard)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)
        if self._deferred is not None:
            self._deferred.append(digest)

    # -- reading

    def _read(self, path: str, digest: str) -> bytes:
        try:
            with open(path, "rb") as file:
                return file.read()
        except FileNotFoundError:
            raise ObjectError(digest, path, "is missing") from None
        except IsADirectoryError:
            raise ObjectError(digest, path, "is a folder, not a file") from None

    def _copy_verified(self, src_path: str, digest: str, out: object) -> str:
        import hashlib

        hasher = hashlib.sha256()
        try:
            with open(src_path, "rb") as src:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)  # type: ignore[attr-defined]
        except FileNotFoundError:
            raise ObjectError(digest, src_path, "is missing") from None
        except IsADirectoryError:
            raise ObjectError(digest, src_path, "is a folder, not a file") from None
        return hasher.hexdigest()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync(path: str) -> str:
    """fsync a file (or folder) by name; returns its folder."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return os.path.dirname(path)


def _sync_filesystem(path: str) -> None:
    """syncfs(2) on the objects' filesystem (one call flushes every object of a batch)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _syncfs(fd)
    finally:
        os.close(fd)


def _syncfs(fd: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    os.sync()  # no syncfs (not Linux): sync everything
