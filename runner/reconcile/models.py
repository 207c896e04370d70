"""Planning the models: register, update, archive or skip each one, and why.

`read_facts` reads what a model's decision depends on (its registry rows, the latest
completed run of its job and that run's files); `decide_model` is a pure function of
those facts. The planner decides once; apply reads the facts again after the runs ended
(a model's job may just have run) and decides again with the same function.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from runner.reconcile.fingerprint import outputs_digest
from runner.reconcile.plan import SYMBOLS, Action, Kind, Reason, Why
from runner.registry.store import AliasMove, ModelStore, NewVersion, alias_moves
from runner.runs.store import RunStore, metric_value, row_dict, select

if TYPE_CHECKING:
    from runner.spec.types import Model, Spec

METADATA_FIELDS = ("framework", "framework_version", "resources", "tags", "properties", "description")
GIT_LINEAGE = ("commit", "branch", "dirty")


@dataclass(frozen=True)
class ModelFacts:
    """What one model's decision depends on, as read from state."""

    newest: dict[str, Any] | None           # its newest registered version
    archived: bool
    aliases: dict[str, tuple[int, str]]     # alias -> (version, "declared" | "manual")
    run_id: str | None                      # the latest completed run of its job
    content: NewVersion | str | None        # the version that run gives, or why it gives none
    source: str = "train.yaml"              # the spec file in use


def plan_models(spec: Spec, conn: sqlite3.Connection, job_actions: Sequence[Action], *, prune: bool,
                scoped: bool, source: str = "train.yaml") -> list[Action]:
    """The model actions that follow the job actions in a plan.

    Only models whose job is in the plan are looked at (`runner plan JOB` limits both);
    archives are only planned for a whole-project plan.
    """
    planned = {a.target: a.kind for a in job_actions}
    registry, runs = ModelStore(conn, source), RunStore(conn)
    actions = [decide_model(name, model, read_facts(name, model, registry, runs),
                            running=planned[model.job] in (Kind.RUN, Kind.SWEEP))
               for name, model in spec.models.items() if model.job in planned]
    if not scoped:
        actions += plan_archives(spec, registry, prune=prune)
    return actions


def read_facts(name: str, model: Model, registry: ModelStore, runs: RunStore) -> ModelFacts:
    model_row = registry.model(name) or {}
    run, sweep = source_run(model, runs)
    return ModelFacts(newest=registry.version(name), archived=model_row.get("status") == "archived",
                      aliases=registry.aliases(name), run_id=run["id"] if run else None,
                      content=content(name, model, run, runs, sweep) if run else None, source=registry.source)


def source_run(model: Model, runs: RunStore) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The run a model is registered from (the latest completed run of its job, or with `from: best`
    the best trial of the job's latest sweep), and for a trial its sweep and trial number."""
    if model.from_ != "best":
        return runs.latest(model.job, status="completed"), None
    from runner.sweeps.store import best_trial

    found = best_trial(runs.conn, model.job)
    if found is None:
        return None, None
    sweep_id, trial = found
    run = row_dict(runs.conn, runs.conn.execute("SELECT * FROM runs WHERE id = ?", (trial.run_id,)).fetchone())
    return run, {"id": sweep_id, "trial": trial.trial, "value": trial.value}


def content(name: str, model: Model, run: dict[str, Any], runs: RunStore,
            sweep: dict[str, Any] | None = None) -> NewVersion | str:
    """The version `run` would give (not yet numbered), or why it gives none."""
    files = runs.files(run["id"])
    kind, rows = select(files, model.path)
    if kind == "missing":
        return (f"{model.path} is not in the outputs of {run['id']}; make the job write it "
                f"or fix `models.{name}.path` in train.yaml")
    return NewVersion(name=name, digest=outputs_digest(files, model.path), path=model.path, kind=kind,
                      run_id=run["id"], files=tuple(rows), metadata=metadata_of(model),
                      lineage={**lineage(runs.conn, run), **({"sweep": sweep} if sweep else {})})


def decide_model(name: str, model: Model, facts: ModelFacts, *, running: bool = False) -> Action:
    """Register, update or skip `name`, from the facts alone. `running`: its job runs first in this
    apply, so its content is only known then (decided again by apply)."""
    next_version = (facts.newest["version"] if facts.newest else 0) + 1
    # Registering an archived model makes it active again: the plan says so, as an update would.
    back = [Reason(Why.CHANGED, f"back in {facts.source}: unarchive")] if facts.archived else []
    if running:
        notes = [*back, *_hand_set_notes(facts, model, next_version)]
        return _action(name, Kind.REGISTER, (Reason(Why.AFTER, f"after {model.job}"), *notes), after=(model.job,))
    if facts.run_id is None and model.from_ == "best":
        return _cannot(name, f"the sweep of job {model.job} has no completed trial that logged its primary metric")
    if facts.run_id is None:
        return _cannot(name, f"job {model.job} has no completed run; run `runner apply` once it succeeds")
    new = facts.content
    if not isinstance(new, NewVersion):
        return _cannot(name, str(new))
    if facts.newest is None or facts.newest["digest"] != new.digest:
        first = "new model" if facts.newest is None else f"new content from {facts.run_id}"
        reasons = (Reason(Why.NEW if facts.newest is None else Why.CHANGED, first), *back,
                   *_hand_set_notes(facts, model, next_version))
        return _action(name, Kind.REGISTER, reasons, new_version=replace(new, reasons=tuple(r.text for r in reasons)))
    return _compare(name, model, facts)


def plan_archives(spec: Spec, registry: ModelStore, *, prune: bool) -> list[Action]:
    """Active models this spec file declared once and no longer does (another file's are not its own)."""
    source = registry.source
    gone = [m["name"] for m in registry.models()
            if m["status"] == "active" and m["name"] not in spec.models and m["spec"] == source]
    reasons: tuple[Reason, ...] = (Reason(Why.NOT_IN_SPEC, f"not in {source}"),)
    if not prune:
        reasons += (Reason(Why.HINT, "run apply --prune"),)
    return [_action(name, Kind.ARCHIVE, reasons) for name in gone]


def _compare(name: str, model: Model, facts: ModelFacts) -> Action:
    assert facts.newest is not None
    reasons = []
    if facts.archived:
        reasons.append(Reason(Why.CHANGED, f"back in {facts.source}: unarchive"))
    meta = metadata_of(model)
    changed = [key for key in METADATA_FIELDS if facts.newest["metadata"].get(key) != meta[key]]
    if changed:
        reasons.append(Reason(Why.CHANGED, f"metadata changed: {', '.join(changed)}"))
    reasons += [Reason(Why.CHANGED, describe_move(m))
                for m in alias_moves(facts.aliases, model.aliases, facts.newest["version"])]
    if reasons:
        return _action(name, Kind.UPDATE, tuple(reasons))
    return _action(name, Kind.SKIP, (Reason(Why.UP_TO_DATE, f"up to date: version {facts.newest['version']}"),))


def _hand_set_notes(facts: ModelFacts, model: Model, version: int) -> list[Reason]:
    """A new version moves declared aliases; say so where that overrides a hand-set one."""
    moves = alias_moves(facts.aliases, model.aliases, version)
    return [Reason(Why.CHANGED, describe_move(m, new_version=True)) for m in moves if m.hand_set]


def metadata_of(model: Model) -> dict[str, Any]:
    resources = model.resources.as_dict(exclude_none=True) if model.resources is not None else None
    return {"framework": model.framework, "framework_version": model.framework_version, "resources": resources,
            "tags": dict(model.tags), "properties": dict(model.properties), "description": model.description}


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
        metrics[metric] = metric_value(value)
    return {"run_id": run["id"], "job": run["job"], "fingerprint": run["fingerprint"], "snapshot": run["snapshot"],
            "environment": run["environment"], "git": {key: run["git"].get(key) for key in GIT_LINEAGE},
            "metrics": metrics}


def _action(name: str, kind: Kind, reasons: tuple[Reason, ...], *, after: tuple[str, ...] = (),
            new_version: NewVersion | None = None) -> Action:
    return Action(kind, f"model:{name}", reasons, symbol=SYMBOLS[kind], after=after, new_version=new_version)


def _cannot(name: str, message: str) -> Action:
    return Action(Kind.REGISTER, f"model:{name}", (Reason(Why.ERROR, f"cannot register: {message}"),),
                  symbol=SYMBOLS[Kind.REGISTER], error=message)
