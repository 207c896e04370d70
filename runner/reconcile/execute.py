"""One run, start to end: stage the snapshot and inputs, bind, start on the compute, collect.

Status moves queued -> preparing -> running -> finalizing -> completed | failed | canceled,
each step one transaction; whatever happens, the run ends in a final status (or is found
`lost` by the next apply if this process is killed).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from runner.compute.base import Handle, Launch
from runner.errors import RunnerError
from runner.fingerprint import Fingerprint
from runner.runs.store import NewRun, RunStore
from runner.spec import bindings

if TYPE_CHECKING:
    from runner.spec.models import Job

Sink = Callable[[str, str], None]  # (job, line)


@dataclass(frozen=True)
class RunOutcome:
    job: str
    run_id: str | None
    status: str  # completed | failed | canceled | skipped | up to date (re-decided after its upstream)
    exit_code: int | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """Its dependents and models may go on."""
        return self.status in ("completed", "up to date")


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
    def __init__(self, ctx: Any, store: RunStore, sink: Sink, cancelled: Cancelled,
                 on_start: Callable[[str, str], None] = lambda job, run_id: None) -> None:
        self.ctx, self.store, self.sink, self.cancelled = ctx, store, sink, cancelled
        self.on_start = on_start

    def run(self, name: str, fp: Fingerprint, reasons: list[str], attempt: int = 1) -> RunOutcome:
        spec, job = self.ctx.spec, self.ctx.spec.jobs[name]
        run_id = self.store.create(NewRun(
            job=name, experiment=spec.experiment_of(name), fingerprint=fp.digest, components=fp.components,
            reasons=reasons, params=dict(job.params), snapshot=fp.components["snapshot"],
            environment=fp.components["environment"]["digest"], git=self.ctx.git, attempt=attempt))
        run_dir = self.ctx.state.root / "runs" / run_id
        try:
            return self._lifecycle(name, job, run_id, run_dir, fp)
        except (RunnerError, OSError) as exc:  # a user or environment problem fails this run only
            self._log(run_dir, f"runner: {exc}")
            self.store.set_status(run_id, "failed", detail=str(exc))
            return RunOutcome(name, run_id, "failed", detail=str(exc))
        except BaseException as exc:  # Ctrl-C or a bug: never leave the run active
            self.store.set_status(run_id, "canceled" if isinstance(exc, KeyboardInterrupt) else "failed",
                                  detail=type(exc).__name__)
            raise

    def _lifecycle(self, name: str, job: Job, run_id: str, run_dir: Path, fp: Fingerprint) -> RunOutcome:
        self.store.set_status(run_id, "preparing")
        launch = self._prepare(name, job, run_id, run_dir, fp)
        if self.cancelled.event.is_set():
            self.store.set_status(run_id, "canceled", detail=f"{self.cancelled.reason} before start")
            return RunOutcome(name, run_id, "canceled")
        target = self.ctx.target(job)
        target.prepare(launch)
        handle = target.start(launch, lambda line: self.sink(name, line))
        with self.cancelled.lock:
            self.cancelled.handles[run_id] = handle
        self.store.set_status(run_id, "running", pgid=handle.pgid)
        self.on_start(name, run_id)
        code, detail = self._wait(handle, job)
        with self.cancelled.lock:
            self.cancelled.handles.pop(run_id, None)
        return self._finish(name, run_id, launch, target, code, detail)

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

    def _finish(self, name: str, run_id: str, launch: Launch, target: Any, code: int | None,
                detail: str | None) -> RunOutcome:
        self.store.set_status(run_id, "finalizing", exit_code=code)
        target.collect(launch)
        self.ctx.collect(run_id, launch.run_dir, self.store)
        if detail == "canceled":
            status, detail = "canceled", self.cancelled.reason
        elif detail is None and code == 0:
            status = "completed"
        else:
            status, detail = "failed", detail or f"exit code {code}"
        self.store.set_status(run_id, status, detail=detail)
        return RunOutcome(name, run_id, status, code, detail)

    def _prepare(self, name: str, job: Job, run_id: str, run_dir: Path, fp: Fingerprint) -> Launch:
        from runner.snapshot import stage_snapshot

        self.ctx.check_secrets(job)
        env = self.ctx.materialise(job, lambda line: self.sink(name, line))
        stage_snapshot(self.ctx.state, fp.components["snapshot"], run_dir)
        for folder in ("outputs", "logs"):
            (run_dir / folder).mkdir(exist_ok=True)
        inputs = self.ctx.stage_inputs(name, run_dir, self.store)
        values = self._binding_values(name, job, run_id, run_dir, inputs)
        argv = self._argv(job, values, env)
        return Launch(run_id=run_id, job=name, project_root=self.ctx.project.root, run_dir=run_dir, argv=argv,
                      env=self.ctx.run_env(name, job, run_id, run_dir, env), log_path=run_dir / "logs" / "std_log.txt",
                      python=env.python, bin_dir=env.bin_dir, image=getattr(env, "image", None),
                      compute=self.ctx.spec.compute_of(job),
                      labels={"runner.project": str(self.ctx.project.root), "runner.run": run_id})

    def _binding_values(self, name: str, job: Job, run_id: str, run_dir: Path,
                        inputs: dict[str, str]) -> dict[str, str]:
        values = {f"params.{k}": param_text(v) for k, v in job.params.items()}
        values.update({f"inputs.{k}": v for k, v in inputs.items()})
        values.update({"outputs": str(run_dir / "outputs"), "run.id": run_id, "run.job": name,
                       "git.commit": str(self.ctx.git.get("commit") or "")})
        return values

    def _argv(self, job: Job, values: dict[str, str], env: Any) -> list[str]:
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

    @staticmethod
    def _log(run_dir: Path, message: str) -> None:
        log = run_dir / "logs" / "std_log.txt"  # may not exist yet: the environment is built first
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(message + "\n")


def param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_variables(run_id: str, name: str, experiment: str, run_dir: Path, params: dict[str, Any]) -> dict[str, str]:
    return {"RUNNER_RUN_ID": run_id, "RUNNER_JOB": name, "RUNNER_EXPERIMENT": experiment,
            "RUNNER_OUTPUTS": str(run_dir / "outputs"), "RUNNER_LOGS": str(run_dir / "logs"),
            "RUNNER_PARAMS": json.dumps(params, sort_keys=True), "PYTHONUNBUFFERED": "1"}


def secret_values(names: tuple[str, ...]) -> dict[str, str]:
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise RunnerError(f"secret {', '.join(missing)} is not set in runner's environment; "
                          f"export it before `runner apply`")
    return {n: os.environ[n] for n in names}
