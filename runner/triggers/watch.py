"""`runner watch`: re-plan and apply on every save, superseding a run that is in flight.

A watchdog observer reports changes; `PathFilter` drops what no snapshot would see. Once
no change came for the debounce delay, the loop reloads train.yaml (a bad edit is
reported and the watcher waits for the next save) and applies the watched jobs in a
background thread, so it keeps listening; apply itself skips what is up to date and runs
only jobs whose fingerprint changed, with their dependents.

While an apply is in flight, a change is first planned (read-only): if some job it would
run has a fingerprint other than the one in flight, the apply is canceled (its runs end
`canceled`, detail "superseded") and a new one starts. If not, the apply goes on, and one
more cycle follows when it ends (a change it could not see yet, or a job downstream of
one still running). Ctrl-C cancels the runs, waits for them to end and returns 130.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.interrupts import stop_signals_interrupt
from runner.project import Project
from runner.reconcile.execute import Cancelled
from runner.reconcile.results import ApplyEvents, ApplyResult
from runner.triggers.pathfilter import PathFilter

if TYPE_CHECKING:
    from runner.reconcile.plan import Plan
    from runner.spec.types import Spec

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
_CHANGES = {"created", "modified", "deleted", "moved", "closed"}  # not opened/closed_no_write: plans read files


def parse_duration(text: str) -> float:
    """'300ms', '1.5s', '2m' or plain seconds ('0.3') -> seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise RunnerError(f"--debounce {text!r}: write a duration such as 300ms, 1s or 0.5")
    return float(match.group(1)) * _SCALE[match.group(2)]


@dataclass
class WatchEvents:
    """What the watcher reports; the CLI renders it."""

    apply: ApplyEvents = field(default_factory=ApplyEvents)
    changed: Callable[[list[str]], None] = lambda paths: None
    error: Callable[[str], None] = lambda message: None
    superseded: Callable[[], None] = lambda: None
    finished: Callable[[ApplyResult], None] = lambda result: None
    watching: Callable[[], None] = lambda: None


class Debouncer:
    """Collects changed paths; hands them out once none came for `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._cond = threading.Condition()
        self._paths: list[str] = []
        self._last: float | None = None

    def touch(self, path: str, *, instead_of: str | None = None) -> None:
        """`path` changed; `instead_of`: a temp file it was renamed from, no longer worth naming."""
        with self._cond:
            if instead_of is not None:
                self._paths = [p for p in self._paths if p != instead_of]
            self._paths.append(path)
            self._last = time.monotonic()
            self._cond.notify()

    def wait(self, timeout: float) -> list[str] | None:
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                if self._last is not None and now - self._last >= self.delay:
                    paths, self._paths, self._last = self._paths, [], None
                    return paths
                if now >= end:
                    return None
                quiet_at = end if self._last is None else self._last + self.delay
                self._cond.wait(min(end, quiet_at) - now)


class _InFlight:
    """One apply in its own thread (its own State: SQLite connections stay in their thread)."""

    def __init__(self, project: Project, spec: Spec, targets: list[str], jobs: int | None,
                 events: WatchEvents) -> None:
        self.cancelled = Cancelled()
        self.plan: Plan | None = None
        self.started: dict[str, str] = {}  # job -> run id
        self.changed_during = False
        self._args = (project, spec, targets, jobs, events)
        self.thread = threading.Thread(target=self._main, name="runner-watch-apply", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        from runner.reconcile.apply import apply
        from runner.state import open_state

        project, spec, targets, jobs, events = self._args
        hooked = replace(events.apply, plan=self._planned, started=self._started)
        try:
            with open_state(project, create=True) as state:
                events.finished(apply(project, spec, state, targets=targets, jobs=jobs, events=hooked,
                                      cancelled=self.cancelled))
        except RunnerError as exc:
            events.error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the watcher; say what it was
            events.error(f"internal error: {type(exc).__name__}: {exc}")

    def _planned(self, plan: Plan) -> None:
        self.plan = plan
        self._args[4].apply.plan(plan)

    def _started(self, job: str, run_id: str) -> None:
        self.started[job] = run_id
        self._args[4].apply.started(job, run_id)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self, reason: str) -> list[str]:
        """Cancel every run and wait until they ended (Ctrl-C meanwhile does not cut it short);
        returns the ids of the runs that were running."""
        with self.cancelled.lock:
            running = list(self.cancelled.handles)
        self.cancelled.cancel_all(reason)
        while self.thread.is_alive():
            try:
                self.thread.join(0.2)
            except KeyboardInterrupt:
                continue
        return running


class Watcher:
    def __init__(self, project: Project, *, targets: list[str] | None = None, debounce: float = 0.3,
                 jobs: int | None = None, events: WatchEvents | None = None) -> None:
        self.project, self.targets, self.jobs = project, list(targets or []), jobs
        self.events = events or WatchEvents()
        self.debouncer = Debouncer(debounce)
        self.filter = PathFilter(project.root, project.state_dir, project.spec_file)
        self.inflight: _InFlight | None = None
        self.canceled: list[str] = []  # the runs that were running when it stopped

    def run(self) -> int:
        """Watch until Ctrl-C; returns 130."""
        from runner.state import open_state

        observer = self._observe()
        try:
            with stop_signals_interrupt(signal.SIGTERM, signal.SIGHUP), \
                    open_state(self.project, create=True) as self.state:
                self.cycle([])
                self.events.watching()
                self._loop()
        except KeyboardInterrupt:
            return 130
        finally:
            observer.stop()
            if self.inflight is not None:
                self.canceled = self.inflight.stop("canceled")
            observer.join(timeout=5)
        return 130

    def _loop(self) -> None:
        while True:
            changed = self.debouncer.wait(0.25)
            if changed:
                self.events.changed(sorted(set(changed)))
                self.cycle(changed)
            elif self.inflight is not None and not self.inflight.alive() and self.inflight.changed_during:
                self.cycle([])

    def cycle(self, changed: list[str]) -> None:
        """Reload train.yaml and apply, unless the apply in flight already runs what it would."""
        spec = self._load()
        if spec is None:
            return
        if self.inflight is not None and self.inflight.alive():
            self.inflight.changed_during = True
            if not self._supersedes(spec):
                return
            self.events.superseded()
            self.inflight.stop("superseded")
        self.inflight = _InFlight(self.project, spec, self.targets, self.jobs, self.events)

    def _load(self) -> Spec | None:
        from runner.spec import load

        try:
            spec = load(self.project)
        except RunnerError as exc:
            self.events.error(str(exc))
            return None
        self.filter.use_spec(spec)
        return spec

    def _supersedes(self, spec: Spec) -> bool:
        """Would the new plan run some job with a fingerprint other than the one in flight?"""
        from runner.reconcile.planner import make_plan

        assert self.inflight is not None
        if self.inflight.plan is None:
            return True  # still planning: what it plans may predate the change
        try:
            plan = make_plan(self.project, spec, self.state, targets=self.targets)
        except RunnerError as exc:
            self.events.error(str(exc))
            return False
        running = self._inflight_fingerprints()
        return any(running.get(a.target) != a.work.fingerprint.digest
                   for a in plan.runs() if a.work is not None and not a.after)

    def _inflight_fingerprints(self) -> dict[str, str]:
        assert self.inflight is not None
        assert self.inflight.plan is not None
        found = {a.target: a.work.fingerprint.digest for a in self.inflight.plan.runs()
                 if a.work is not None and not a.after}
        for job, run_id in list(self.inflight.started.items()):  # jobs planned "after" an upstream
            row = self.state.db.execute("SELECT fingerprint FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is not None:
                found[job] = row[0]
        return found

    def _observe(self) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher, root = self, str(self.project.root)
        observer = Observer()

        def watch_folder(path: str) -> None:
            """Each top-level folder is watched on its own, so `.runner/` and `.git/` (busy, and
            never relevant) cost no inotify watches and raise no warnings."""
            if os.path.basename(path) not in (".runner", ".git") and watcher.filter.relevant(path, True):
                observer.schedule(handler, path, recursive=True)

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type not in _CHANGES or (event.is_directory and event.event_type == "modified"):
                    return
                texts = [p.decode() if isinstance(p, bytes) else p
                         for p in (event.src_path, getattr(event, "dest_path", "")) if p]
                relevant = [t for t in texts if watcher.filter.relevant(t, event.is_directory)]
                for text in texts:
                    if event.is_directory and os.path.dirname(text) == root and event.event_type != "deleted":
                        watch_folder(text)  # a new top-level folder
                if len(relevant) == 2:  # a save by rename (editors, sed -i): name the file, not the temp
                    watcher.debouncer.touch(relevant[1], instead_of=relevant[0])
                else:
                    for text in relevant:
                        watcher.debouncer.touch(text)

        handler = Handler()
        observer.schedule(handler, root, recursive=False)
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False):
                watch_folder(entry.path)
        observer.start()
        return observer
