"""Hook-triggered applies: queue one per commit, run it detached, let a newer commit supersede it.

`launch()` (what the post-commit hook and the pre-commit framework call, through
`runner hook run`) resolves the commit, writes its record `.runner/hooks/SHA.json`
(`queued`, with the time it was queued) and starts `runner hook run --foreground` in its
own session with stdin closed and output to `.runner/hooks/SHA.log`, then returns.

`run_commit()` (the detached process) waits for the project lock, so applies of
commits in quick succession queue. Once it holds the lock it looks for a recorded commit
that descends from its own: a newer commit supersedes one that has not started, so it ends as
`superseded by SHA` without running anything. Otherwise it applies the commit's tree
(`runner.git.reftree`) and records when it ended and its exit code. Records are written
atomically; only the newest `KEEP` records (and their logs) are kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.atomic import atomic_write
from runner.errors import RunnerError
from runner.git.command import git_env
from runner.git.repo import is_ancestor, resolve_commit
from runner.project import SPEC_NAME, Project

if TYPE_CHECKING:
    from runner.reconcile.results import ApplyEvents
    from runner.state import State

KEEP = 50


@dataclass(frozen=True)
class HookRun:
    commit: str
    status: str  # queued | running | superseded | completed | failed
    queued_at: str
    queued_ns: int
    log: str
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    detail: str | None = None
    pid: int | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def hooks_folder(project: Project) -> Path:
    return project.state_dir / "hooks"


def launch(project: Project, rev: str = "HEAD") -> HookRun:
    """Queue an apply of `rev` and start it detached; returns at once."""
    commit = resolve_commit(project.root, rev)
    ensure_hooks_folder(project)
    run = HookRun(commit, "queued", _now(), time.time_ns(), str(hooks_folder(project) / f"{commit}.log"))
    save(project, run)
    with open(run.log, "ab") as log:
        subprocess.Popen(_foreground_argv(project, commit), cwd=project.root, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                         env=git_env())
    _prune(project)
    return run


def run_commit(project: Project, commit: str, state: State, events: ApplyEvents, say: Callable[[str], None]) -> int:
    """The detached side: wait for the lock, step aside for a newer commit, else apply this one."""
    commit = resolve_commit(project.root, commit)
    run = load(project, commit) or HookRun(commit, "queued", _now(), time.time_ns(),
                                           str(hooks_folder(project) / f"{commit}.log"))
    with state.lock():
        newer = newer_than(project, run)
        if newer is not None:
            say(f"superseded by {newer.commit}")
            save(project, _ended(run, "superseded", 0, f"superseded by {newer.commit}"))
            return 0
        save(project, _replace(run, status="running", started_at=_now(), pid=os.getpid()))
        code: int = 3  # what a bug (anything but the cases below) leaves
        detail: str | None = "internal error"
        try:
            code = apply_commit(project, state, commit, events)
            detail = None
        except RunnerError as exc:
            say(str(exc))
            code, detail = exc.exit_code, str(exc).splitlines()[0]
        except KeyboardInterrupt:
            code, detail = 130, "interrupted"
            raise
        finally:
            save(project, _ended(run, "completed" if code == 0 else "failed", code, detail))
    return code


def apply_commit(project: Project, state: State, commit: str, events: ApplyEvents) -> int:
    """`runner apply --ref COMMIT` under the lock the caller holds: 0 when every run succeeded."""
    from runner.git.reftree import ref_tree
    from runner.reconcile.apply import apply
    from runner.spec import load as load_spec

    with ref_tree(project, commit) as tree:
        result = apply(tree.project, load_spec(tree.project), state, events=events, git=tree.git)
    return 0 if result.ok else 1


def newer_than(project: Project, run: HookRun) -> HookRun | None:
    """A recorded commit that descends from `run`'s: applying `run` after it would step back.

    History decides, not the clock: the hook starts each launcher in the background, so
    commits made in quick succession can be queued out of order. Of several newer ones,
    the tip (the one every other descends into) is named, else the last queued.
    """
    def descends(commit: str, ancestor: str) -> bool:
        return is_ancestor(project.root, ancestor, commit)

    newer = [r for r in _all(project) if r.commit != run.commit and descends(r.commit, run.commit)]
    tips = [r for r in newer if all(o is r or descends(r.commit, o.commit) for o in newer)]
    return (tips or newer or [None])[0]


def recent(project: Project, *, limit: int = 10) -> list[HookRun]:
    """Hook-triggered applies, newest first."""
    return _all(project)[:limit]


def _all(project: Project) -> list[HookRun]:
    folder = hooks_folder(project)
    runs = [r for r in (_read(p) for p in folder.glob("*.json")) if r is not None] if folder.is_dir() else []
    return sorted(runs, key=lambda r: r.queued_ns, reverse=True)


def load(project: Project, commit: str) -> HookRun | None:
    return _read(hooks_folder(project) / f"{commit}.json")


def save(project: Project, run: HookRun) -> None:
    atomic_write(hooks_folder(project) / f"{run.commit}.json", json.dumps(run.as_json(), indent=2) + "\n")


def _read(path: Path) -> HookRun | None:
    try:
        return HookRun(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):  # a record from another version, or gone meanwhile
        return None


def _ended(run: HookRun, status: str, code: int, detail: str | None) -> HookRun:
    current = _read(Path(run.log).with_suffix(".json")) or run  # with what the running step wrote
    return _replace(current, status=status, finished_at=_now(), exit_code=code, detail=detail)


def _replace(run: HookRun, **changes: Any) -> HookRun:
    return HookRun(**{**run.as_json(), **changes})


def _prune(project: Project) -> None:
    for old in _all(project)[KEEP:]:
        for path in (Path(old.log), Path(old.log).with_suffix(".json")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def _foreground_argv(project: Project, commit: str) -> list[str]:
    argv = [sys.executable, "-m", "runner", "hook", "run", "--foreground", "--commit", commit,
            "-C", str(project.root)]
    if project.spec_file != project.root / SPEC_NAME:
        argv += ["-f", str(project.spec_file)]
    return argv


def ensure_hooks_folder(project: Project) -> None:
    """`.runner/hooks/`, created with the state folder (and its `.gitignore`) if need be."""
    from runner.state import open_state

    open_state(project, create=True).close()
    hooks_folder(project).mkdir(parents=True, exist_ok=True)


def _now() -> str:
    from runner.runs.store import now

    return now()
