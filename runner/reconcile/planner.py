"""Planning: compare what train.yaml wants with the run history and the registry; return a Plan.

It executes nothing and writes only caches (the stat cache, content objects, recorded
snapshots when apply asks). For each job it reads the facts (snapshot, environment and
data digests, upstream outputs, the job's past runs) into a `RunWork`, then decides with
the pure `runner.reconcile.decide`. Models follow (`runner.reconcile.models`). Nothing it
opened outlives `make_plan`: the Plan is a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.reconcile.decide import decide
from runner.reconcile.fingerprint import Fingerprint, make_fingerprint, outputs_digest
from runner.reconcile.graph import dependencies, topological, with_upstream
from runner.reconcile.models import plan_models
from runner.reconcile.plan import Action, History, Kind, Plan, Reason, RunRecord, RunWork, Why
from runner.runs.store import RunStore
from runner.spec.normal import normalised_job

if TYPE_CHECKING:
    from runner.envs import EnvFingerprint
    from runner.project import Project
    from runner.snapshot.take import Snapshot
    from runner.spec.types import Job, Spec
    from runner.state import State


def make_plan(project: Project, spec: Spec, state: State, *, targets: Iterable[str] = (),
              force: Iterable[str] = (), record: bool = False, prune: bool = False) -> Plan:
    """The actions that would bring runs and models in line with `spec`; with `targets`, only
    those jobs, what they need and their models. `record`: store the snapshots (apply)."""
    targets, force = list(targets), set(force)
    unknown = [t for t in [*targets, *sorted(force)] if t not in spec.jobs]
    if unknown:
        raise RunnerError(f"unknown job {', '.join(map(repr, unknown))}; "
                          f"jobs in {project.display}: {', '.join(spec.jobs) or 'none'}")
    facts = Facts(project, spec, state, record=record)
    selected = with_upstream(spec, [*targets, *force]) if targets else set(spec.jobs)
    will_run: set[str] = set()
    actions = []
    for name in topological(spec, selected):
        after = tuple(dep for dep in dependencies(spec.jobs[name]) if dep in will_run)
        work = facts.work(name, provisional=bool(after))
        sweep = spec.jobs[name].sweep
        if sweep is not None:
            from runner.reconcile.sweep_plan import decide_sweep, read_facts, sweep_work

            swept = sweep_work(work, sweep)
            action = decide_sweep(swept, read_facts(state.db, swept), forced=name in force, after=after)
        else:
            action = decide(work, forced=name in force, after=after)
        action = blocked(action, facts.problem(spec.jobs[name]))
        action = noted(action, capture_note(spec, name))
        if action.kind in (Kind.RUN, Kind.SWEEP):
            will_run.add(name)
            _check_launcher(name, spec.jobs[name], spec)
        actions.append(action)
    check_clusters(spec, selected, {a.target for a in actions if a.kind in (Kind.RUN, Kind.SWEEP)})
    actions += plan_models(spec, state.db, actions, prune=prune, scoped=bool(targets), source=project.spec_name)
    return Plan(tuple(actions), facts.warnings())


def _check_launcher(name: str, job: Job, spec: Spec) -> None:
    """A job that will run needs its launcher here: an MPI job on this machine, Open MPI's mpirun."""
    dist = job.distribution
    if dist is not None and dist.type == "mpi" and spec.compute_of(job).type == "local":
        from runner.compute.local_group import find_mpirun

        try:
            find_mpirun()
        except RunnerError as exc:
            raise RunnerError(f"job {name}: {exc}") from None


def check_clusters(spec: Spec, selected: Iterable[str], running: set[str]) -> None:
    """A job on a ray compute needs the extra; one that will run needs its cluster to answer (asked
    once per address, with a short timeout). Its environment and distribution train.yaml's checks vet."""
    ray_jobs = [(name, spec.jobs[name]) for name in sorted(selected) if spec.compute_of(spec.jobs[name]).type == "ray"]
    if not ray_jobs:
        return
    from runner.compute.ray import address_of, check_cluster, check_extra

    check_extra()
    asked: set[str] = set()
    for name, job in ray_jobs:
        try:
            address = address_of(spec.compute_of(job))
            if name in running and address not in asked:
                asked.add(address)
                check_cluster(address)
        except RunnerError as exc:
            raise RunnerError(f"job {name} (compute {job.compute}): {exc}") from None


VERIFY_UP_TO = 1 << 20  # plan hashes stored outputs up to this size; bigger ones: their size (doctor hashes all)


class Facts:
    """What deciding a job needs to know, read once per plan: snapshots, environments, data."""

    def __init__(self, project: Project, spec: Spec, state: State, *, record: bool) -> None:
        self.project, self.spec, self.state, self.record = project, spec, state, record
        self.store = RunStore(state.db)
        self._snapshots: dict[str, Snapshot] = {}
        self._envs: dict[tuple[str | None, bool], EnvFingerprint] = {}
        self._data: dict[str, str] = {}
        self._problems: dict[str | None, str] = {}  # docker env -> its base image problem

    def work(self, name: str, *, provisional: bool = False, params: dict[str, Any] | None = None) -> RunWork:
        """The job as it would run now. `provisional`: its upstream runs first, so the upstream
        outputs in its fingerprint are those of its last completed run, until `redecide`."""
        job = self.spec.jobs[name]
        history = History(_record(self.store.latest(name, status="completed")), _record(self.store.latest(name)))
        upstream = (history.last_completed.components.get("upstream", {}) if history.last_completed else {}) \
            if provisional else upstream_digests(self.store, job)
        fp = self.fingerprint(name, job, upstream, params)
        if history.last_completed is not None and history.last_completed.components.get("snapshot") != \
                fp.components["snapshot"]:
            history = History(history.last_completed, history.latest,
                              self.code_reasons(job.code, history.last_completed.components.get("snapshot", "")))
        problem = self._outputs_problem(history.last_completed.id) if history.last_completed is not None else ""
        if problem:
            history = replace(history, outputs_missing=problem)
        return RunWork(job=name, definition=job, params=dict(job.params if params is None else params),
                       experiment=self.spec.experiment_of(name), compute=self.spec.compute_of(job),
                       fingerprint=fp, history=history)

    def _outputs_problem(self, run_id: str) -> str:
        """Why the run's stored outputs cannot stand for it any more, or "": an object gone from the
        store, or damaged (another size or not a file; other content, for files up to VERIFY_UP_TO,
        which plan hashes: bigger ones are checked when staged, and by `runner doctor`)."""
        import hashlib
        import os

        damaged = False
        for _path, digest, size in self.store.files(run_id, "outputs"):
            where = self.state.objects._where(digest)
            try:
                st = os.stat(where)
            except OSError:
                return f"outputs of {run_id} missing from the store"
            if st.st_size != size or (st.st_mode & 0o170000) != 0o100000:
                return f"outputs of {run_id} missing from the store"  # not the object it was: as good as gone
            if size <= VERIFY_UP_TO:
                with open(where, "rb") as handle:
                    damaged = damaged or hashlib.sha256(handle.read()).hexdigest() != digest  # at most 1 MiB
        return f"outputs of {run_id} missing from the store (one is damaged in the store)" if damaged else ""

    def fingerprint(self, name: str, job: Job, upstream: dict[str, str],
                    params: dict[str, Any] | None = None) -> Fingerprint:
        env = self.environment(job.environment, self.spec.compute_of(job).type == "docker")
        data = {key: self.data_digest(self.spec.datasets[item.dataset].path if item.dataset else str(item.path))
                for key, item in job.inputs.items() if item.job is None}
        return make_fingerprint(
            job=normalised_job(self.spec, name, params), snapshot=self.snapshot(job.code).digest,
            environment={"name": job.environment, "digest": env.digest, "components": env.components},
            data=data, upstream=upstream)

    def snapshot(self, code: str) -> Snapshot:
        if code not in self._snapshots:
            from runner.snapshot.take import take_snapshot

            self._snapshots[code] = take_snapshot(self.project.root, code, self.state, job=None,
                                                  limits=self.spec.snapshot, record=self.record,
                                                  omit=self.project.snapshot_omit)
        return self._snapshots[code]

    def environment(self, name: str | None, docker: bool) -> EnvFingerprint:
        if (name, docker) not in self._envs:
            from runner.envs import env_fingerprint

            self._envs[(name, docker)] = env_fingerprint(self.spec, name, self.project.root, docker=docker,
                                                         docker_base_id=self._base_id(name) if docker else None)
        return self._envs[(name, docker)]

    def _base_id(self, env: str | None) -> Callable[[str], str]:
        """The base image id hook of docker env `env`; it notes an image that is neither here nor pullable."""
        # Only docker jobs ask the daemon (for the base image's id): plan stays cheap without Docker.
        from runner.envs.docker_client import probe_base_image

        def base_id(image: str) -> str:
            found = probe_base_image(image)
            if found.problem:
                where = f"environments.{env}.docker.image" if env else "an environment with docker.image on the job"
                self._problems[env] = f"{found.problem}; build or pull it, or set {where}"
            return found.id
        return base_id

    def problem(self, job: Job) -> str | None:
        """Why the job cannot start whatever the plan says (its docker base image is missing), or None."""
        return self._problems.get(job.environment) if self.spec.compute_of(job).type == "docker" else None

    def data_digest(self, rel: str) -> str:
        if rel not in self._data:
            from runner.snapshot.data import hash_path

            self._data[rel] = hash_path(self.project.root, rel, self.state)
        return self._data[rel]

    def code_reasons(self, code: str, old: str) -> tuple[str, ...]:
        """`code: src/train.py modified`, three at most (then a count), or nothing when the old
        manifest is gone (gc'd): the fingerprint then only says `code changed`."""
        from runner.snapshot.manifest import diff_snapshots
        from runner.state.objects import ObjectError

        try:
            diff = diff_snapshots(self.state, old, self.snapshot(code).digest)
        except ObjectError:
            return ()
        prefix = "" if code == "." else f"{code}/"
        lines = [f"code: {prefix}{p} {what}" for what, paths in
                 (("modified", diff.modified), ("added", diff.added), ("removed", diff.removed)) for p in paths]
        return tuple(lines[:3] + ([f"code: {len(lines) - 3} more files changed"] if len(lines) > 3 else []))

    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for snap in self._snapshots.values() for w in snap.warnings))


def blocked(action: Action, problem: str | None) -> Action:
    """A run action that cannot start: the problem is its last reason and its `error` (apply fails
    the job before creating a run)."""
    if problem is None or action.kind not in (Kind.RUN, Kind.SWEEP):
        return action
    return replace(action, reasons=(*action.reasons, Reason(Why.ERROR, problem)), error=problem)


def capture_note(spec: Spec, name: str) -> str | None:
    """`capture: [mlflow]` on a job that logs to a tracking server of its own: said, and left alone."""
    from runner.reconcile.context import mlflow_elsewhere

    job = spec.jobs[name]
    if "mlflow" not in job.capture or job.environment is None:
        return None
    uri = mlflow_elsewhere(spec.environments.get(job.environment))
    return (f"capture mlflow: left alone, environments.{job.environment}.variables sets MLFLOW_TRACKING_URI "
            f"to {uri}") if uri else None


def noted(action: Action, note: str | None) -> Action:
    return action if note is None else replace(action, reasons=(*action.reasons, Reason(Why.HINT, note)))


def upstream_digests(store: RunStore, job: Job) -> dict[str, str]:
    """What a job reads from upstream runs now: the digest of each input path, and of whole
    outputs for `needs`, in the latest completed run of each upstream job."""
    found = {f"inputs.{key}": _output_digest(store, item.job, item.path)
             for key, item in job.inputs.items() if item.job and item.path}
    found.update({f"needs.{dep}": _output_digest(store, dep, "outputs") for dep in job.needs})
    return found


def _output_digest(store: RunStore, job: str, path: str) -> str:
    latest = store.latest(job, status="completed")
    if latest is None:
        return "missing"
    return outputs_digest(store.files(latest["id"]), path)


def _record(row: dict[str, Any] | None) -> RunRecord | None:
    if row is None:
        return None
    return RunRecord(id=row["id"], status=row["status"], fingerprint=row["fingerprint"],
                     components=row.get("components") or {})
