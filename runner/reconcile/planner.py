"""Plan: compare what train.yaml wants with the run history, and say why each job runs or not.

Pure with respect to runs: it executes nothing and writes only caches (the stat cache,
content objects). A job is up to date when its latest completed run has the same
fingerprint. A job downstream of one that will run is planned "after" it: its inputs
are only known once the upstream has run, so apply looks again at that point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from runner.fingerprint import Fingerprint, digest_json, explain, make_fingerprint
from runner.graph import dependencies, topological, with_upstream
from runner.project import Project
from runner.runs.store import RunStore, select
from runner.spec.normal import normalised_job

if TYPE_CHECKING:
    from runner.spec.models import Spec

SYMBOLS = {"run": "+", "rerun": "~", "skip": "=", "register": "+", "update": "~", "archive": "-"}


@dataclass(frozen=True)
class Action:
    action: str  # run | skip | register | update | archive
    target: str  # a job name, or model:NAME
    reasons: tuple[str, ...]
    symbol: str = "+"
    after: tuple[str, ...] = ()
    fingerprint: Fingerprint | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = ()  # e.g. a code folder above the snapshot size limits (printed on stderr)

    @property
    def changes(self) -> bool:
        return any(a.action != "skip" for a in self.actions)

    def as_json(self) -> dict[str, Any]:
        return {"changes": self.changes, "actions": [a.as_json() for a in self.actions]}

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a.action == action)


class Planner:
    """Fingerprints jobs against the working tree, caching snapshots and environments per call."""

    def __init__(self, project: Project, spec: Spec, state: Any, *, record: bool = False) -> None:
        self.project, self.spec, self.state, self.record = project, spec, state, record
        self.store = RunStore(state.db)
        self._snapshots: dict[str, Any] = {}
        self._envs: dict[tuple[str | None, bool], Any] = {}
        self._data: dict[str, str] = {}

    def snapshot(self, code: str) -> Any:
        if code not in self._snapshots:
            from runner.snapshot import take_snapshot

            self._snapshots[code] = take_snapshot(self.project.root, code, self.state, job=None,
                                                  limits=self.spec.snapshot, record=self.record,
                                                  omit=self.project.snapshot_omit)
        return self._snapshots[code]

    def environment(self, name: str | None, docker: bool) -> Any:
        if (name, docker) not in self._envs:
            from runner.envs import env_fingerprint

            # Only docker jobs ask the daemon (for the base image's id): plan stays cheap without Docker.
            from runner.envs.docker_client import base_image_id

            self._envs[(name, docker)] = env_fingerprint(self.spec, name, self.project.root, docker=docker,
                                                         docker_base_id=base_image_id if docker else None)
        return self._envs[(name, docker)]

    def data_digest(self, rel: str) -> str:
        if rel not in self._data:
            from runner.snapshot.data import hash_path

            self._data[rel] = hash_path(self.project.root, rel, self.state)
        return self._data[rel]

    def fingerprint(self, name: str, upstream: dict[str, str] | None = None) -> Fingerprint:
        job = self.spec.jobs[name]
        env = self.environment(job.environment, self.spec.compute_of(job).type == "docker")
        data = {key: self.data_digest(self.spec.datasets[item.dataset].path if item.dataset else item.path)
                for key, item in job.inputs.items() if item.job is None}
        return make_fingerprint(
            job=normalised_job(self.spec, name), snapshot=self.snapshot(job.code).digest,
            environment={"name": job.environment, "digest": env.digest, "components": env.components},
            data=data, upstream=self.upstream_digests(name) if upstream is None else upstream)

    def upstream_digests(self, name: str) -> dict[str, str]:
        """What this job reads from upstream runs: the digest of each input path, and of whole outputs for `needs`."""
        job = self.spec.jobs[name]
        found = {f"inputs.{key}": self._output_digest(item.job, item.path)
                 for key, item in job.inputs.items() if item.job}
        found.update({f"needs.{dep}": self._output_digest(dep, "outputs") for dep in job.needs})
        return found

    def _output_digest(self, job: str, path: str) -> str:
        latest = self.store.latest(job, status="completed")
        if latest is None:
            return "missing"
        return outputs_digest(self.store.files(latest["id"]), path)

    def decide(self, name: str, *, will_run: set[str], force: Iterable[str] = ()) -> Action:
        after = tuple(dep for dep in dependencies(self.spec.jobs[name]) if dep in will_run)
        last = self.store.latest(name, status="completed")
        if after:
            previous = (last or {}).get("components", {}).get("upstream")
            fp = self.fingerprint(name, upstream=previous or {})
            # Up to date or not is decided again once the upstream ran; a first run says so by its `+`.
            verdict, own = self._verdict(name, fp, last, force)
            kept = [] if verdict in ("up to date", "new") else own
            return Action("run", name, (f"after {', '.join(after)}", *kept), symbol="~" if last else "+", after=after)
        fp = self.fingerprint(name)
        verdict, reasons = self._verdict(name, fp, last, force)
        if verdict == "up to date":
            return Action("skip", name, tuple(reasons), symbol="=", fingerprint=fp)
        return Action("run", name, tuple(reasons), symbol="~" if last else "+", fingerprint=fp)

    def _verdict(self, name: str, fp: Fingerprint, last: dict[str, Any] | None,
                 force: Iterable[str]) -> tuple[str, list[str]]:
        """("forced" | "new" | "not completed" | "up to date" | "changed", the reasons to show)."""
        if name in force:
            return "forced", ["forced"]
        if last is None:
            latest = self.store.latest(name)
            if latest is None:
                return "new", ["no previous run"]
            return "not completed", [f"previous run {latest['id']} {latest['status']}"]
        if last["fingerprint"] == fp.digest:
            return "up to date", [f"up to date: run {last['id']}"]
        return "changed", explain(last["components"], fp.components, self._code_changes(self.spec.jobs[name].code))

    def _code_changes(self, code: str) -> Any:
        def describe(old: str, new: str) -> list[str]:
            from runner.snapshot import diff_manifests, load_manifest

            try:
                diff = diff_manifests(load_manifest(self.state, old), self.snapshot(code).files)
            except Exception:  # noqa: BLE001 - an old manifest gc'd away: say less, not fail
                return ["code changed"]
            prefix = "" if code == "." else f"{code}/"
            lines = [f"code: {prefix}{p} {what}" for what, paths in
                     (("modified", diff.modified), ("added", diff.added), ("removed", diff.removed)) for p in paths]
            return lines[:3] + ([f"code: {len(lines) - 3} more files changed"] if len(lines) > 3 else [])
        return describe


def outputs_digest(files: list[tuple[str, str, int]], path: str) -> str:
    """The digest of one output file, or of a folder as its sorted (relative path, digest) list."""
    kind, rows = select(files, path)
    if kind == "file":
        return rows[0][1]
    return digest_json([(rel, digest) for rel, digest, _ in rows]) if rows else "missing"


def make_plan(project: Project, spec: Spec, state: Any, *, targets: Iterable[str] = (),
              force: Iterable[str] = (), record: bool = False, prune: bool = False) -> tuple[Plan, Planner]:
    unknown = [t for t in [*targets, *force] if t not in spec.jobs]
    if unknown:
        from runner.errors import RunnerError

        raise RunnerError(f"unknown job {', '.join(map(repr, unknown))}; "
                          f"jobs in {project.display}: {', '.join(spec.jobs) or 'none'}")
    planner = Planner(project, spec, state, record=record)
    selected = with_upstream(spec, [*targets, *force]) if targets else set(spec.jobs)
    will_run: set[str] = set()
    actions = []
    for name in topological(spec, selected):
        action = planner.decide(name, will_run=will_run, force=set(force))
        if action.action == "run":
            will_run.add(name)
        actions.append(action)
    from runner.registry.reconcile import plan_models  # models follow the jobs: register / update / archive

    actions += plan_models(spec, state.db, actions, prune=prune, scoped=bool(targets), source=project.spec_name)
    warnings = dict.fromkeys(w for snap in planner._snapshots.values() for w in snap.warnings)
    return Plan(tuple(actions), tuple(warnings)), planner
