"""A project's state: `.runner/state.db` (SQLite, WAL), `.runner/objects/`, the project lock.

Owns: the database and its migrations (`db`, `migrations`), content-addressed objects
(`objects`), the project lock (`lock`), every path under `.runner/` and the shared cache
(`layout`), runner's own cache files (`cachefile`), reading run folders without following
links (`nofollow`) and writing stored files out under a folder, never outside it (`export`).

`open_state(project)` creates `.runner/` on first use by a writer; read-only commands
pass `create=False` and get an empty in-memory view when there is no `.runner/` yet,
so they never create files. `.runner/.gitignore` (`*`) keeps it out of git even in a
project that `runner init` did not make.

May import: the foundation modules only (runner.errors, runner.atomic, runner.quickhash,
runner.project, runner.values).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

from runner.atomic import atomic_write
from runner.state.db import connect, transaction
from runner.state.layout import StateLayout
from runner.state.objects import ObjectStore

TYPE_CHECKING = False  # annotations only: `runner snapshot JOB` opens the state and must import little
if TYPE_CHECKING:
    import sqlite3
    from contextlib import AbstractContextManager
    from pathlib import Path

    from typing_extensions import Self

    from runner.project import Project
    from runner.state.lock import ProjectLock


class State:
    def __init__(self, root: str | os.PathLike[str], db: sqlite3.Connection, objects: ObjectStore, *,
                 exists: bool) -> None:
        self.root_path = os.fspath(root)  # a string: `runner snapshot JOB` does not import pathlib
        self.layout = StateLayout(self.root_path)
        self.db = db
        self.objects = objects
        self.exists = exists  # False: an in-memory view of a project that has no .runner/ yet
        self._lock: ProjectLock | None = None

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self.root_path)

    def lock(self) -> AbstractContextManager[None]:
        """The project write lock (re-entrant); prints a message if another runner holds it."""
        from runner.errors import StateError
        from runner.state.lock import ProjectLock

        if not self.exists:
            raise StateError("this state was opened read-only (no .runner folder); cannot lock it")
        if self._lock is None:
            self._lock = ProjectLock(self.root_path)
        return self._lock.hold()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    def close(self) -> None:
        """Close the connection, first copying what the WAL holds into state.db (synced): a
        command may end its process without SQLite's own checkpoint at the last close (see
        `runner.cli._exit_now`), and state.db alone then still has every run."""
        if self.exists:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never waits for another process's readers
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_state(project: Project, *, create: bool = True) -> State:
    state = open_state_at(project.state_path, create=create)
    if project.state_root_path is None and os.environ.get("RUNNER_STATE_DIR") and state.exists:
        _claim(state.root_path, project.root_path)
    return state


def _claim(root: str, project_root: str) -> None:
    """One $RUNNER_STATE_DIR belongs to one project: run ids, history and `--prune` would
    otherwise mix two projects' jobs and models."""
    from runner.errors import StateError

    owner_file = StateLayout(root).owner
    try:
        with open(owner_file, encoding="utf-8") as file:
            owner = file.read().strip()
    except FileNotFoundError:
        atomic_write(owner_file, f"{project_root}\n")
        return
    if owner != project_root:
        raise StateError(f"RUNNER_STATE_DIR={root} holds the state of the project {owner}, not of "
                         f"{project_root}: give each project its own folder (if the project moved, "
                         f"delete {owner_file})")


def open_state_at(root: str | os.PathLike[str], *, create: bool = True) -> State:
    """Open the state folder `root` (a project's `.runner/`, or `$RUNNER_STATE_DIR`)."""
    root = os.fspath(root)
    layout = StateLayout(root)
    objects, db = layout.objects, layout.db
    check_not_emptied(layout)
    if not os.path.exists(db):
        if not create:
            return State(root, connect(None), ObjectStore(objects, writable=False), exists=False)
        _create(root)
    return State(root, connect(db), ObjectStore(objects), exists=True)


def emptied(layout: StateLayout) -> str | None:
    """What is left beside a missing or empty state.db (None: nothing, a new project):
    stored objects or run folders mean the database was lost, not never made."""
    try:
        if os.path.getsize(layout.db) > 0:
            return None
        gone = "is empty (0 bytes)"
    except FileNotFoundError:
        gone = "is missing"
    left = []
    if any(True for _ in _first(os.path.join(layout.objects, "sha256"), depth=2)):
        left.append("stored objects in objects/")
    if any(True for _ in _first(layout.runs, depth=1)):
        left.append("run folders in runs/")
    if not left:
        return None
    return (f"{layout.db} {gone}, but the state folder holds {' and '.join(left)}: the run history "
            f"and the registry were lost, not never made. Restore state.db from a backup (or the CI "
            f"cache it came from); to start afresh instead, move the whole state folder away "
            f"(`mv {layout.root} {layout.root}.old`), which keeps its objects. Nothing was changed; "
            f"`runner doctor` checks the rest")


def check_not_emptied(layout: StateLayout) -> None:
    from runner.errors import StateError

    problem = emptied(layout)
    if problem is not None:
        raise StateError(problem)


def _first(folder: str, depth: int):  # type: ignore[no-untyped-def]
    """Entries `depth` levels down (names not starting with a dot), lazily: a project with many
    objects is recognised by its first one."""
    try:
        scan = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    with scan:
        for entry in scan:
            if entry.name.startswith("."):
                continue
            if depth == 1:
                yield entry.path
            elif entry.is_dir(follow_symlinks=False):
                yield from _first(entry.path, depth - 1)


def _create(root: str) -> None:
    layout = StateLayout(root)
    os.makedirs(layout.objects, exist_ok=True)
    if not os.path.exists(layout.gitignore):
        atomic_write(layout.gitignore, "# created by runner: its state is never committed\n*\n")


__all__ = ["ObjectStore", "State", "StateLayout", "emptied", "open_state", "open_state_at"]
