"""Runs left active by a runner that died: marked `lost`, and what is left of them stopped.

apply holds the project lock while it runs, so a run still active in the database when
the next apply takes the lock belongs to a runner that is gone.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from runner.runs.store import RunStore

if TYPE_CHECKING:
    from runner.state import State


def repair_lost(state: State) -> list[str]:
    """Mark every active run lost (we hold the lock: its runner is gone) and kill what it left."""
    from runner.compute.local import kill_group

    store = RunStore(state.db)
    lost = []
    for run_id, _owner, pgid, _status in store.active_runs():
        if pgid and _belongs_to(pgid, state.layout.run_dir(run_id)):
            kill_group(pgid)
        store.set_status(run_id, "lost", detail="its runner stopped before it ended")
        lost.append(run_id)
    if lost:  # a docker run has no process group here: its container is found by label
        from runner.compute.docker import remove_orphans

        remove_orphans(state.root, lost)
    return lost


def _belongs_to(pgid: int, run_dir: str) -> bool:
    """Only kill a process group a member of which still works in that run's folder (pids get
    reused). Its leader first; a distributed run's rank 0 may have ended before the others."""
    for pid in (pgid, *_members(pgid)):
        try:
            if os.readlink(f"/proc/{pid}/cwd") == run_dir:
                return True
        except OSError:
            continue
    return False


def _members(pgid: int) -> list[int]:
    """The processes of group `pgid` (from /proc/PID/stat: the group is the 3rd field after the name)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if len(fields) > 2 and int(fields[2]) == pgid:
                found.append(int(entry))
    return found
