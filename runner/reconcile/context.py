"""What one apply shares between its runs: spec, state, git metadata, environments, targets.

It also knows the run folder conventions: where inputs are staged, which variables a
run sees, and how outputs/ and logs/ go into the object store when a run ends.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from runner.errors import RunnerError
from runner.project import Project
from runner.runs.store import RunStore, select

if TYPE_CHECKING:
    from runner.spec.models import Job, Spec


class RunContext:
    def __init__(self, project: Project, spec: Spec, state: Any, git: dict[str, Any]) -> None:
        self.project, self.spec, self.state, self.git = project, spec, state, git
        self._targets: dict[str, Any] = {}
        self._envs: dict[tuple[str | None, str, str | None], Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def thread_store(self) -> RunStore:
        """Each worker thread talks to SQLite through its own connection."""
        if not hasattr(self._local, "store"):
            from runner.state.db import connect

            self._local.store = RunStore(connect(self.state.root / "state.db"))
        return self._local.store

    def target(self, job: Job) -> Any:
        from runner.compute import target_for

        kind = self.spec.compute_of(job).type
        with self._lock:
            if kind not in self._targets:
                self._targets[kind] = target_for(kind)
            return self._targets[kind]

    def materialise(self, job: Job, log: Callable[[str], None]) -> Any:
        """The job's environment, built once per apply (and once per content across applies)."""
        compute = self.spec.compute_of(job)
        key = (job.environment, compute.type, compute.registry)
        with self._lock:  # one build at a time; the env cache has its own cross-process lock
            if key not in self._envs:
                self._envs[key] = self._build_env(job.environment, compute, log)
            return self._envs[key]

    def _build_env(self, name: str | None, compute: Any, log: Callable[[str], None]) -> Any:
        """A host env for `local`; for `docker`, the env's image (pulled from or pushed to `registry:`)."""
        if compute.type == "docker":
            from runner.envs.docker import ensure_image

            return ensure_image(self.spec, name, self.project.root, registry=compute.registry, log=log)
        from runner.envs import materialise

        return materialise(self.spec, name, self.project.root, log=log, hold=True)

    def stage_inputs(self, name: str, run_dir: Path, store: RunStore) -> dict[str, str]:
        """Absolute paths the run sees: project data in place, upstream outputs copied from objects."""
        paths: dict[str, str] = {}
        for key, item in self.spec.jobs[name].inputs.items():
            if item.job is None:
                rel = self.spec.datasets[item.dataset].path if item.dataset else item.path
                paths[key] = str(self.project.root / rel)
            else:
                paths[key] = str(self._stage_upstream(key, item.job, item.path, run_dir, store))
        return paths

    def _stage_upstream(self, key: str, job: str, path: str, run_dir: Path, store: RunStore) -> Path:
        latest = store.latest(job, status="completed")
        if latest is None:
            raise RunnerError(f"input {key}: job {job} has no completed run")
        kind, rows = select(store.files(latest["id"]), path)
        if kind == "missing":
            raise RunnerError(f"input {key}: run {latest['id']} has no {path}")
        target = run_dir / "inputs" / key / path
        for inner, digest, _size in rows:
            self.state.objects.copy_to(digest, target if kind == "file" else target / inner, mode=0o644)
        return target

    def check_secrets(self, job: Job) -> None:
        """Fail before anything is built when a secret the environment names is not set."""
        from runner.execute import secret_values

        spec_env = self.spec.environments.get(job.environment) if job.environment else None
        if spec_env is not None:
            secret_values(spec_env.secrets)

    def run_env(self, name: str, job: Job, run_id: str, run_dir: Path, env: Any) -> dict[str, str]:
        from runner.execute import run_variables, secret_values

        spec_env = self.spec.environments.get(job.environment) if job.environment else None
        values = dict(os.environ) if self.spec.compute_of(job).type == "local" else {}
        if spec_env is not None:
            values.update(spec_env.variables)
            values.update(secret_values(spec_env.secrets))
        # Last: a job's RUNNER_OUTPUTS and the like are runner's, whatever else set them.
        values.update(run_variables(run_id, name, self.spec.experiment_of(name), run_dir, dict(job.params)))
        shim = getattr(env, "pythonpath", None) or _shim()
        values["PYTHONPATH"] = os.pathsep.join(p for p in (shim, values.get("PYTHONPATH", "")) if p)
        return values

    def collect(self, run_id: str, run_dir: Path, store: RunStore) -> None:
        """outputs/ and logs/ into the object store (a failed run keeps its logs), metrics into the db."""
        from runner.tracking import METRICS_FILE, read_metrics

        for kind in ("outputs", "logs"):
            store.add_files(run_id, kind, self._store_tree(run_dir, kind))
        store.add_metrics(run_id, read_metrics(run_dir / "logs" / METRICS_FILE))

    def _store_tree(self, run_dir: Path, kind: str) -> list[tuple[str, str, int]]:
        stored = []
        for folder, _dirs, names in os.walk(run_dir / kind):
            for file_name in sorted(names):
                path = Path(folder) / file_name
                if path.is_symlink() or not path.is_file():
                    continue  # a link could point anywhere; only real files are kept
                digest, size = self.state.objects.put_file(path)
                stored.append((path.relative_to(run_dir).as_posix(), digest, size))
        return stored


def _shim() -> str:
    from runner.envs import tracking_shim

    return str(tracking_shim())
