"""What one apply shares between its runs: spec, state, git metadata, environments, targets.

It also knows the run folder conventions: where inputs are staged, which variables a
run sees, and how outputs/ and logs/ go into the object store when a run ends.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from runner import progress
from runner.errors import RunnerError
from runner.runs.store import RunStore, select
from runner.state.layout import INPUTS, LOGS, OUTPUTS

if TYPE_CHECKING:
    from runner.compute.base import Target
    from runner.envs.docker import DockerEnv
    from runner.envs.materialise import Materialised
    from runner.masking import Masker
    from runner.project import Project
    from runner.reconcile.plan import RunWork
    from runner.spec.types import Compute, Environment, Job, Spec
    from runner.state import State

    RunEnvironment = Union[Materialised, DockerEnv]


class RunContext:
    def __init__(self, project: Project, spec: Spec, state: State, git: dict[str, Any]) -> None:
        self.project, self.spec, self.state, self.git = project, spec, state, git
        self._targets: dict[str, Target] = {}
        self._envs: dict[tuple[str | None, str, str | None], RunEnvironment] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def thread_store(self) -> RunStore:
        """Each worker thread talks to SQLite through its own connection."""
        if not hasattr(self._local, "store"):
            from runner.state.db import connect

            self._local.store = RunStore(connect(self.state.layout.db))
        return self._local.store

    def target(self, compute: Compute) -> Target:
        from runner.compute import target_for

        with self._lock:
            if compute.type not in self._targets:
                self._targets[compute.type] = target_for(compute.type)
            return self._targets[compute.type]

    def materialise(self, environment: str | None, compute: Compute, log: Callable[[str], None]) -> RunEnvironment:
        """The job's environment, built once per apply (and once per content across applies)."""
        key = (environment, compute.type, compute.registry)
        with self._lock:  # one build at a time; the env cache has its own cross-process lock
            if key not in self._envs:
                self._envs[key] = self._build_env(environment, compute, log)
            return self._envs[key]

    def _build_env(self, name: str | None, compute: Compute, log: Callable[[str], None]) -> RunEnvironment:
        """A host env for `local`; for `docker`, the env's image (pulled from or pushed to `registry:`);
        for `ray`, nothing here: settings for the cluster's runtime_env."""
        if compute.type == "ray":
            from runner.compute.ray_env import ray_environment

            return ray_environment(self.spec, name, self.project.root)
        if compute.type == "docker":
            from runner.envs.docker import ensure_image

            return ensure_image(self.spec, name, self.project.root, registry=compute.registry, log=log)
        from runner.envs import materialise

        return materialise(self.spec, name, self.project.root, log=log, hold=True)

    def stage_inputs(self, job: Job, run_dir: Path, store: RunStore, *, copy_data: bool = False) -> dict[str, str]:
        """Absolute paths the run sees: project data in place (`copy_data`: copied into the run
        folder, for a run that leaves this machine), upstream outputs copied from objects."""
        paths: dict[str, str] = {}
        for key, item in job.inputs.items():
            if item.job is None:
                rel = self.spec.datasets[item.dataset].path if item.dataset else item.path
                assert rel is not None, "an input names a dataset, a path or a job"
                paths[key] = str(self.project.root / rel)
                if copy_data:
                    paths[key] = str(_copy_in(self.project.root / rel, run_dir / INPUTS / key))
            else:
                assert item.path is not None, "a job input names a path in its outputs"
                paths[key] = str(self._stage_upstream(key, item.job, item.path, run_dir, store))
        return paths

    def _stage_upstream(self, key: str, job: str, path: str, run_dir: Path, store: RunStore) -> Path:
        latest = store.latest(job, status="completed")
        if latest is None:
            raise RunnerError(f"input {key}: job {job} has no completed run")
        kind, rows = select(store.files(latest["id"]), path)
        if kind == "missing":
            raise RunnerError(f"input {key}: run {latest['id']} has no {path}")
        target = run_dir / INPUTS / key / path
        for inner, digest, _size in rows:
            self.state.objects.copy_to(digest, target if kind == "file" else target / inner, mode=0o644)
        return target

    def check_secrets(self, environment: str | None) -> None:
        """Fail before anything is built when a secret the environment names is not set."""
        if environment is not None:
            secret_values(self.spec.environments[environment].secrets)

    def masker(self, work: RunWork) -> Masker:
        """The run's secret values (runner.masking): its environment's secrets, and every variable
        it sees whose name looks secret, unless train.yaml's `unmasked:` names it."""
        return self._masker((work.definition.environment or "",), local=work.compute.type == "local")

    def job_masker(self, job: str) -> Masker:
        """The secret values of a run known only by its job (a run reattached on a cluster, whose
        runner died): its job's environment as train.yaml says now; every environment's when
        the job is no longer there (masking too much beats leaking)."""
        definition = self.spec.jobs.get(job)
        if definition is None:
            return self._masker(tuple(self.spec.environments), local=False)
        return self._masker((definition.environment or "",), local=self.spec.compute_of(definition).type == "local")

    def _masker(self, environments: tuple[str, ...], local: bool) -> Masker:
        from runner.masking import Masker, secret_values as masked_values

        variables = dict(os.environ) if local else {}
        secrets: list[str] = []
        for name in environments:
            spec_env = self.spec.environments.get(name)
            if spec_env is not None:
                variables.update(spec_env.variables)
                secrets += spec_env.secrets
        variables.update({name: os.environ[name] for name in secrets if name in os.environ})
        return Masker(masked_values(variables, secrets, self.spec.unmasked))

    def run_env(self, work: RunWork, run_id: str, run_dir: Path, env: RunEnvironment) -> dict[str, str]:
        spec_env = self.spec.environments.get(work.definition.environment or "")
        values = dict(os.environ) if work.compute.type == "local" else {}
        if spec_env is not None:
            values.update(spec_env.variables)
            values.update(secret_values(spec_env.secrets))
        # Last: a job's RUNNER_OUTPUTS and the like are runner's, whatever else set them.
        values.update(run_variables(run_id, work.job, work.experiment, run_dir, dict(work.params)))
        capture = work.definition.capture
        if work.compute.type == "ray":
            return values  # the tracking shim (and capture's azureml package) travels in the job's working_dir
        shim = getattr(env, "pythonpath", None) or _shim(capture)
        values["PYTHONPATH"] = os.pathsep.join(p for p in (shim, values.get("PYTHONPATH", "")) if p)
        if "mlflow" in capture and not mlflow_elsewhere(spec_env):
            from runner.capture.mlflow_store import prepare

            values.update(prepare(run_dir / LOGS, run_dir / OUTPUTS, work.job, run_id))
        return values

    def collect(self, run_id: str, run_dir: Path, store: RunStore,
                warn: Callable[[str], None] = lambda line: None, masker: Masker | None = None) -> None:
        """outputs/ and logs/ into the object store (a failed run keeps its logs), metrics into the db.

        No symbolic link is followed, at any level: a linked outputs/ or logs/ fails the run
        (after whatever else could be stored was), a link inside is skipped with a warning.
        With a `masker`, the secret values in logs/ files and in what was logged (params,
        tags, metric names, text values) are stored as `***`; outputs/ are stored as they are.
        """
        from runner.capture import run_records
        from runner.state.nofollow import LinkedFolder

        refused: list[str] = []
        with progress.phase(f"collecting outputs of {run_id}"):
            for kind in (LOGS, OUTPUTS):
                try:
                    store.add_files(run_id, kind, self._store_tree(run_dir, kind, warn,
                                                                   masker if kind == LOGS else None))
                except LinkedFolder as exc:
                    refused.append(str(exc))
        if refused:
            raise RunnerError("; ".join(refused))
        records = run_records(run_dir / LOGS)
        store.add_metrics(run_id, (masker.value(r) for r in records) if masker else records)

    def _store_tree(self, run_dir: Path, kind: str, warn: Callable[[str], None],
                    masker: Masker | None = None) -> list[tuple[str, str, int]]:
        from runner.state.nofollow import open_folder, regular_files

        folder = open_folder(str(run_dir), kind)
        if folder is None:
            return []
        stored = []
        for rel, fd, parent_fd, name in regular_files(folder, kind, warn):
            if masker:
                digest, size = self._put_masked(fd, masker, parent_fd, name)
            else:
                digest, size = self.state.objects.put_file(fd)  # closes fd
            stored.append((rel, digest, size))
        return stored

    def _put_masked(self, fd: int, masker: Masker, parent_fd: int, name: str) -> tuple[str, int]:
        """Store a log file with the secret values masked, streamed (closes `fd`); when some
        were, the run folder's copy is replaced by the masked one too."""
        import shutil
        import tempfile

        stream = masker.stream()
        with open(fd, "rb") as src, tempfile.TemporaryFile() as masked:
            while chunk := src.read(1 << 20):
                masked.write(stream.feed(chunk))
            masked.write(stream.flush())
            masked.flush()
            masked.seek(0)
            stored = self.state.objects.put_file(os.dup(masked.fileno()))
            if stream.masked:
                masked.seek(0)
                tmp = f".{name}.masked.tmp"
                out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=parent_fd)
                with open(out, "wb") as copy:
                    shutil.copyfileobj(masked, copy)
                os.replace(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
            return stored


def run_variables(run_id: str, name: str, experiment: str, run_dir: Path, params: dict[str, Any]) -> dict[str, str]:
    return {"RUNNER_RUN_ID": run_id, "RUNNER_JOB": name, "RUNNER_EXPERIMENT": experiment,
            "RUNNER_OUTPUTS": str(run_dir / OUTPUTS), "RUNNER_LOGS": str(run_dir / LOGS),
            "RUNNER_PARAMS": json.dumps(params, sort_keys=True), "PYTHONUNBUFFERED": "1"}


def secret_values(names: tuple[str, ...]) -> dict[str, str]:
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise RunnerError(f"secret {', '.join(missing)} is not set in runner's environment; "
                          f"export it before `runner apply`")
    return {n: os.environ[n] for n in names}


def _copy_in(source: Path, folder: Path) -> Path:
    import shutil

    target = folder / source.name
    folder.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)
    return target


def _shim(capture: tuple[str, ...] = ()) -> str:
    from runner.envs import tracking_shim

    return str(tracking_shim(capture))


def mlflow_elsewhere(environment: Environment | None) -> str | None:
    """The tracking server a job logs to on purpose (`MLFLOW_TRACKING_URI` in its variables): left alone."""
    return (environment.variables.get("MLFLOW_TRACKING_URI") or None) if environment is not None else None


def job_masker(project: Project, state: State, job: str) -> Masker:
    """The secret values of `job`'s runs for a command outside apply that shows a run's live
    text (`runs logs -f` of a run on a cluster); with train.yaml unreadable, the values of every
    variable of this process whose name looks secret."""
    from runner.errors import RunnerError
    from runner.masking import Masker, secret_values
    from runner.spec.load import load

    try:
        spec = load(project)
    except RunnerError:
        return Masker(secret_values(os.environ))
    return RunContext(project, spec, state, {}).job_masker(job)
