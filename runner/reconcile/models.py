"""What the plan says about each model: register, update, archive or skip, and why.

Pure: it reads the run history and the registry and writes nothing. A model whose job
runs in this apply is planned `register` "after JOB": its content is only known once
the run has ended, so apply decides again then (`runner.registry.sync`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from runner.plan import SYMBOLS, Action, outputs_digest
from runner.registry.store import AliasMove, ModelStore, NewVersion, alias_moves
from runner.runs.store import RunStore, select

if TYPE_CHECKING:
    from runner.spec.models import Model, Spec

METADATA_FIELDS = ("framework", "framework_version", "resources", "tags", "properties", "description")
GIT_LINEAGE = ("commit", "branch", "dirty")


@dataclass(frozen=True)
class Decision:
    name: str
    action: str  # register | update | archive | skip
    reasons: tuple[str, ...]
    new: NewVersion | None = None  # what a `register` will record (None: after a run, or an error)
    error: str | None = None  # why the model cannot be registered; apply reports it and leaves the model alone
    after: tuple[str, ...] = ()

    def as_action(self) -> Action:
        return Action(self.action, f"model:{self.name}", self.reasons, symbol=SYMBOLS[self.action], after=self.after)


def plan_models(spec: Spec, conn: sqlite3.Connection, job_actions: Sequence[Action], *, prune: bool,
                scoped: bool, source: str = "train.yaml") -> list[Action]:
    """The model actions that follow the job actions in a plan.

    Only models whose job is in the plan are looked at (`runner plan JOB` limits both);
    archives are only planned for a whole-project plan.
    """
    planned = {a.target: a.action for a in job_actions}
    planner = ModelPlanner(spec, conn, source)
    decisions = [planner.decide(name, running=planned[model.job] == "run")
                 for name, model in spec.models.items() if model.job in planned]
    if not scoped:
        decisions += planner.archives(prune=prune)
    return [d.as_action() for d in decisions]


def metadata_of(model: Model) -> dict[str, Any]:
    resources = model.resources.model_dump(exclude_none=True) if model.resources is not None else None
    return {"framework": model.framework, "framework_version": model.framework_version, "resources": resources,
            "tags": dict(model.tags), "properties": dict(model.properties), "description": model.description}


class ModelPlanner:
    def __init__(self, spec: Spec, conn: sqlite3.Connection, source: str = "train.yaml") -> None:
        self.spec, self.conn = spec, conn
        self.registry, self.runs = ModelStore(conn, source), RunStore(conn)

    def decide(self, name: str, *, running: bool = False) -> Decision:
        model = self.spec.models[name]
        latest = self.registry.version(name)
        next_version = (latest["version"] if latest else 0) + 1
        if running:
            notes = self._hand_set_notes(name, model, next_version)
            return Decision(name, "register", (f"after {model.job}", *notes), after=(model.job,))
        run = self.runs.latest(model.job, status="completed")
        if run is None:
            return _error(name, f"job {model.job} has no completed run; run `runner apply` once it succeeds")
        new = self.content(name, model, run)
        if isinstance(new, str):
            return _error(name, new)
        if latest is None or latest["digest"] != new.digest:
            first = "new model" if latest is None else f"new content from {run['id']}"
            reasons = (first, *self._hand_set_notes(name, model, next_version))
            return Decision(name, "register", reasons, new=replace(new, reasons=reasons))
        return self._compare(name, model, latest)

    def content(self, name: str, model: Model, run: dict[str, Any]) -> NewVersion | str:
        """The version `run` would give (not yet numbered), or why it gives none."""
        files = self.runs.files(run["id"])
        kind, rows = select(files, model.path)
        if kind == "missing":
            return (f"{model.path} is not in the outputs of {run['id']}; make the job write it "
                    f"or fix `models.{name}.path` in train.yaml")
        return NewVersion(name=name, digest=outputs_digest(files, model.path), path=model.path, kind=kind,
                          run_id=run["id"], files=tuple(rows), metadata=metadata_of(model),
                          lineage=lineage(self.conn, run))

    def archives(self, *, prune: bool) -> list[Decision]:
        """Active models this spec file declared once and no longer does (another file's are not its own)."""
        source = self.registry.source
        gone = [m["name"] for m in self.registry.models()
                if m["status"] == "active" and m["name"] not in self.spec.models and m["spec"] == source]
        reasons = (f"not in {source}",) if prune else (f"not in {source}", "run apply --prune")
        return [Decision(name, "archive", reasons) for name in gone]

    def _compare(self, name: str, model: Model, latest: dict[str, Any]) -> Decision:
        reasons = []
        if (self.registry.model(name) or {}).get("status") == "archived":
            reasons.append(f"back in {self.registry.source}: unarchive")
        meta = metadata_of(model)
        changed = [key for key in METADATA_FIELDS if latest["metadata"].get(key) != meta[key]]
        if changed:
            reasons.append(f"metadata changed: {', '.join(changed)}")
        reasons += [describe_move(m) for m in alias_moves(self.registry.aliases(name), model.aliases,
                                                           latest["version"])]
        if reasons:
            return Decision(name, "update", tuple(reasons))
        return Decision(name, "skip", (f"up to date: version {latest['version']}",))

    def _hand_set_notes(self, name: str, model: Model, version: int) -> list[str]:
        """A new version moves declared aliases; say so where that overrides a hand-set one."""
        moves = alias_moves(self.registry.aliases(name), model.aliases, version)
        return [describe_move(m, new_version=True) for m in moves if m.hand_set]


def describe_move(move: AliasMove, *, new_version: bool = False) -> str:
    target = "the new version" if new_version else f"version {move.new}"
    if move.new is None:
        return f"alias {move.alias} removed (no longer in train.yaml)"
    if move.hand_set:
        return f"alias {move.alias} set by hand to version {move.old}: moves to {target} (declared in train.yaml)"
    if move.old is None:
        return f"alias {move.alias} -> {target}"
    return f"alias {move.alias}: version {move.old} -> {move.new}"


def lineage(conn: sqlite3.Connection, run: dict[str, Any]) -> dict[str, Any]:
    """Where a version came from, frozen at registration (metrics: each one's last value)."""
    metrics: dict[str, Any] = {}
    for metric, value in conn.execute("SELECT name, value FROM metrics WHERE run_id = ? ORDER BY step, rowid",
                                      (run["id"],)):
        metrics[metric] = value
    return {"run_id": run["id"], "job": run["job"], "fingerprint": run["fingerprint"], "snapshot": run["snapshot"],
            "environment": run["environment"], "git": {key: run["git"].get(key) for key in GIT_LINEAGE},
            "metrics": metrics}


def _error(name: str, message: str) -> Decision:
    return Decision(name, "register", (f"cannot register: {message}",), error=message)
