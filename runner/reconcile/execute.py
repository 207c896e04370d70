"""One run, start to end: stage the snapshot and inputs, bind, start on the compute, collect.

Status moves queued -> preparing -> running -> finalizing -> completed | failed | canceled,
each step one transaction; whatever happens, the run ends in a final status (or is found
`lost` by the next apply if this process is killed).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from runner import progress
from runner.compute.base import Handle, Launch, Target
from runner.errors import DiskFull, RunnerError, is_disk_full
from runner.reconcile.results import RunOutcome
from runner.runs.store import NewRun, RunStore
from runner.spec import bindings
from runner.state.layout import LOGS, OUTPUTS, STD_LOG

if TYPE_CHECKING:
    from runner.envs.materialise import Materialised
    from runner.masking import Masker
    from runner.reconcile.context import RunContext
    from runner.reconcile.plan import RunWork
    from runner.spec.types import Job

Sink = Callable[[str, str], None]  # (job, line)


class Cancelled:
    """Shared between the runs of one apply: set on Ctrl-C (or supersede); live handles get cancelled."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.handles: dict[str, Handle] = {}
        self.lock = threading.Lock()
        self.reason = "canceled"  # recorded as the canceled runs' detail ("superseded" from `runner watch`)

    def cancel_all(self, reason: str = "canceled") -> None:
        self.reason = reason
        self.event.set()
        with self.lock:
            handles = list(self.handles.values())
        for handle in handles:
            handle.cancel()


class RunExecutor:
    """Runs one `RunWork`: the job definition, params and fingerprint the plan decided on."""

    def __init__(self, ctx: RunContext, store: RunStore, sink: Sink, cancelled: Cancelled,
                 on_start: Callable[[str, str], None] = lambda job, run_id: None) -> None:
        self.ctx, self.store, self.sink, self.cancelled = ctx, store, sink, cancelled
        self.on_start = on_start

    def run(self, work: RunWork, reasons: list[str], attempt: int = 1) -> RunOutcome:
        fp = work.fingerprint
        run_id = self.store.create(NewRun(
            job=work.job, experiment=work.experiment, fingerprint=fp.digest, components=fp.components,
            reasons=reasons, params=dict(work.params), snapshot=fp.components["snapshot"],
            environment=fp.components["environment"]["digest"], git=self.ctx.git, attempt=attempt,
            sweep_id=work.trial[0] if work.trial else None, trial=work.trial[1] if work.trial else None))
        run_dir = Path(self.ctx.state.layout.run_dir(run_id))
        masker = self.ctx.masker(work)  # the run's secrets: masked in all it prints and stores
        try:
            with contextlib.ExitStack() as code:  # the run's code workspace goes back to its pool on leaving
                return self._lifecycle(work, run_id, run_dir, masker, code)
        except Exception as exc:
            if is_disk_full(exc):
                return self._out_of_space(work.job, run_id, run_dir, exc)
            if not isinstance(exc, (RunnerError, OSError)):  # a bug: never leave the run active
                self.store.set_status(run_id, "failed", detail=type(exc).__name__)
                raise
            message = masker.text(str(exc))
            self._log(run_dir, f"runner: {message}")  # a user or environment problem fails this run only
            self.store.set_status(run_id, "failed", detail=message)
            return RunOutcome(work.job, run_id, "failed", detail=message)
        except BaseException:  # Ctrl-C: never leave the run active
            self.store.set_status(run_id, "canceled", detail="KeyboardInterrupt")
            raise

    def _out_of_space(self, name: str, run_id: str, run_dir: Path, exc: Exception) -> RunOutcome:
        """The disk filled up: record the failure, making room from this run's uncollected files.

        What the run staged and wrote to outputs/ was not stored and cannot be, so it goes
        first; if even then the status cannot be written, the log's tail is kept and the rest
        dropped. Past that, the run stays active and the next apply finds it lost.
        """
        detail = str(DiskFull(_what(exc, run_dir)))
        for make_room in (lambda: release_run_files(run_dir), lambda: trim_log(run_dir)):
            try:
                make_room()
                self._log(run_dir, f"runner: {detail}")
                self.store.set_status(run_id, "failed", detail=detail)
                return RunOutcome(name, run_id, "failed", detail=detail)
            except Exception as again:  # noqa: BLE001 (only a full disk is retried)
                if not is_disk_full(again):
                    raise
        raise DiskFull(_what(exc, run_dir)) from None

    def _lifecycle(self, work: RunWork, run_id: str, run_dir: Path, masker: Masker,
                   code: contextlib.ExitStack) -> RunOutcome:
        name = work.job
        self.store.set_status(run_id, "preparing")
        launch = self._prepare(work, run_id, run_dir, masker, code)
        if self.cancelled.event.is_set():
            self.store.set_status(run_id, "canceled", detail=f"{self.cancelled.reason} before start")
            return RunOutcome(name, run_id, "canceled")
        target = self.ctx.target(work.compute)
        target.prepare(launch)
        shown = _shown_paths(work, run_dir, self.ctx.state)  # the stored log keeps the staged paths
        self.on_start(name, run_id)  # before the process starts: its first line must not come before `▶ running`
        handle = target.start(launch, lambda line: self.sink(name, shown(masker.text(line))))
        with self.cancelled.lock:
            self.cancelled.handles[run_id] = handle
        try:
            self.store.set_status(run_id, "running", pgid=handle.pgid, **getattr(handle, "record", {}))
        except BaseException:  # e.g. a full disk: nothing may run on untracked
            handle.cancel()
            raise
        code, detail = self._wait(handle, work.definition)
        with self.cancelled.lock:
            self.cancelled.handles.pop(run_id, None)
        return self._finish(name, run_id, launch, target, code, masker.text(detail) if detail else detail)

    def _wait(self, handle: Handle, job: Job) -> tuple[int | None, str | None]:
        deadline = None if job.timeout is None else time.monotonic() + job.timeout
        while True:
            step = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            code = handle.wait(step)
            if code is not None:
                return code, ("canceled" if self.cancelled.event.is_set() else getattr(handle, "reason", None))
            if self.cancelled.event.is_set():
                handle.cancel()
                return handle.wait(None), "canceled"
            if deadline is not None and time.monotonic() >= deadline:
                handle.cancel()
                handle.wait(None)
                return None, f"timeout after {job.timeout}s"

    def _finish(self, name: str, run_id: str, launch: Launch, target: Target, code: int | None,
                detail: str | None) -> RunOutcome:
        try:
            self.store.set_status(run_id, "finalizing", exit_code=code)
            target.collect(launch)
            self.ctx.collect(run_id, launch.run_dir, self.store, warn=lambda line: self.sink(name, f"runner: {line}"),
                             masker=launch.masker)
        except Exception as exc:
            if is_disk_full(exc) and detail and detail.startswith(DiskFull.PREFIX):
                raise DiskFull(detail.removeprefix(DiskFull.PREFIX)) from exc  # the first cause, not the echo
            raise
        if detail == "canceled":
            status, detail = "canceled", self.cancelled.reason
        elif detail is None and code == 0:
            status = "completed"
        elif detail and detail.startswith("timeout"):
            status = getattr(target, "timeout_status", "failed")  # ray: stopped at its timeout = canceled
        else:
            status, detail = "failed", detail or f"exit code {code}"
        self.store.set_status(run_id, status, detail=detail)
        return RunOutcome(name, run_id, status, code, detail)

    def _prepare(self, work: RunWork, run_id: str, run_dir: Path, masker: Masker,
                 code: contextlib.ExitStack) -> Launch:
        from runner.snapshot.workspace import lease_workspace

        job = work.definition
        self.ctx.check_secrets(job.environment)
        env = self.ctx.materialise(job.environment, work.compute, lambda line: self.sink(work.job, line))
        with progress.phase(f"staging {run_id}"):
            code.enter_context(lease_workspace(self.ctx.state, work.job, work.fingerprint.components["snapshot"],
                                               run_dir, source=self.ctx.project.root / job.code))
        for folder in (OUTPUTS, LOGS):
            (run_dir / folder).mkdir(exist_ok=True)
        inputs = self.ctx.stage_inputs(job, run_dir, self.store, copy_data=work.compute.type == "ray")
        values = _binding_values(work, run_id, run_dir, inputs, str(self.ctx.git.get("commit") or ""))
        return Launch(run_id=run_id, job=work.job, project_root=self.ctx.project.root, run_dir=run_dir,
                      argv=_argv(job, values, env), env=self.ctx.run_env(work, run_id, run_dir, env),
                      log_path=run_dir / LOGS / STD_LOG, python=env.python, bin_dir=env.bin_dir,
                      image=getattr(env, "image", None), compute=work.compute,
                      labels={"runner.project": str(self.ctx.project.root), "runner.run": run_id},
                      distribution=job.distribution, capture=job.capture, runtime=getattr(env, "runtime", {}),
                      masker=masker)

    @staticmethod
    def _log(run_dir: Path, message: str) -> None:
        """runner's own last word in the run's log; best effort (the disk may be full)."""
        log = run_dir / LOGS / STD_LOG  # may not exist yet: the environment is built first
        with contextlib.suppress(OSError):
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(message + "\n")


def _what(exc: BaseException, run_dir: Path) -> str:
    """What was being written when the disk filled up, as the user knows it."""
    if isinstance(exc, DiskFull):
        return exc.what
    name = getattr(exc, "filename", None)
    if not name:
        return "the state database (.runner/state.db)" if not isinstance(exc, OSError) else "the run folder"
    path = Path(str(name))
    return path.relative_to(run_dir).as_posix() if path.is_relative_to(run_dir) else str(path)


def release_run_files(run_dir: Path) -> None:
    """Remove what a run staged or wrote that is not stored: all of its folder but logs/."""
    if not run_dir.is_dir():
        return
    for entry in run_dir.iterdir():
        if entry.name == LOGS:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def trim_log(run_dir: Path, keep: int = 64 * 1024) -> None:
    """Keep only the last `keep` bytes of the run's log (the end says why it stopped)."""
    log = run_dir / LOGS / STD_LOG
    with contextlib.suppress(OSError), open(log, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size <= keep:
            return
        handle.seek(size - keep)
        tail = handle.read()
        handle.seek(0)
        handle.write(tail)
        handle.truncate(keep)


def _shown_paths(work: RunWork, run_dir: Path, state: Any) -> Callable[[str], str]:
    """Output lines as the terminal shows them: files of the staged snapshot named by their project path."""
    import os

    from runner.runs.paths import LazyPaths, line_rewriter
    from runner.runs.views import snapshot_files

    digest = work.fingerprint.components["snapshot"]
    return line_rewriter((str(run_dir), os.path.realpath(run_dir)), work.definition.code,
                         LazyPaths(lambda: snapshot_files(state, digest)))


def _binding_values(work: RunWork, run_id: str, run_dir: Path, inputs: dict[str, str],
                    commit: str) -> dict[str, str]:
    values = {f"params.{k}": param_text(v) for k, v in work.params.items()}
    values.update({f"inputs.{k}": v for k, v in inputs.items()})
    values.update({"outputs": str(run_dir / OUTPUTS), "run.id": run_id, "run.job": work.job,
                   "git.commit": commit})
    return values


def _argv(job: Job, values: dict[str, str], env: Materialised | Any) -> list[str]:
    if job.command is not None:
        quoted = {key: shlex.quote(value) for key, value in values.items()}
        return ["/bin/sh", "-c", bindings.substitute(job.command, quoted)]
    args: list[str] = []
    if isinstance(job.args, dict):
        for key, value in job.args.items():
            args += [key] if value in ("", None) else [key, bindings.substitute(param_text(value), values)]
    elif job.args is not None:
        args = [bindings.substitute(param_text(value), values) for value in job.args]
    return [env.python or sys.executable, "-u", str(job.script), *args]


def param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
