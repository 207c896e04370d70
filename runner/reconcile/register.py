"""Carry out the plan's model actions, after the runs have ended.

Each model is decided again here from fresh facts (its job may just have run) with the
same pure `decide_model` the plan used, and changed in one transaction. A model whose
job's run failed in this apply, or whose `path` is missing, is left untouched and
reported as `failed` (apply exits 1); the other models go on.

`archive` is only done under `--prune`: without it the plan still shows the action
(so `plan --detailed-exitcode` reports the drift) and apply reports it as
`not archived`, which is not a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from runner.reconcile.models import decide_model, metadata_of, read_facts
from runner.reconcile.plan import Action, Kind, Plan
from runner.reconcile.results import ModelOutcome, RunOutcome
from runner.registry.store import ModelStore, NewVersion
from runner.runs.store import RunStore

if TYPE_CHECKING:
    from runner.spec.types import Spec
    from runner.state import State


def apply_models(spec: Spec, state: State, plan: Plan, outcomes: Iterable[RunOutcome], *, prune: bool = False,
                 commit: str | None = None, source: str = "train.yaml",
                 report: Callable[[ModelOutcome], None] = lambda outcome: None) -> tuple[ModelOutcome, ...]:
    """Carry out the `model:` actions of `plan` (all but skips); `outcomes` are the runs this apply made."""
    runs = {o.job: o for o in outcomes}
    registry = ModelStore(state.db, source)
    results = []
    for action in plan.actions:
        if action.model is not None and action.kind is not Kind.SKIP:  # a skip cannot change during apply
            result = _one(spec, state, registry, action, [runs.get(j) for j in action.after], prune, commit)
            report(result)
            results.append(result)
    return tuple(results)


def _one(spec: Spec, state: State, registry: ModelStore, planned: Action, upstream: list[RunOutcome | None],
         prune: bool, commit: str | None) -> ModelOutcome:
    name = planned.model
    assert name is not None
    if planned.kind is Kind.ARCHIVE:
        return _archive(registry, name, prune, commit)
    failed = [o for o in upstream if o is None or not o.ok]
    if failed:
        return ModelOutcome(name, planned.kind.value, "failed", detail=f"{_what_failed(failed[0])}: model not touched; "
                                                                     f"fix the job and run `runner apply` again")
    model = spec.models[name]
    decision = decide_model(name, model, read_facts(name, model, registry, RunStore(state.db)))
    if decision.error is not None:
        return ModelOutcome(name, decision.kind.value, "failed", detail=f"model not touched: {decision.error}")
    return _carry_out(spec, state, registry, decision, commit)


def _carry_out(spec: Spec, state: State, registry: ModelStore, decision: Action, commit: str | None) -> ModelOutcome:
    name = decision.model
    assert name is not None
    model = spec.models[name]
    reasons = "; ".join(decision.texts)
    if decision.kind is Kind.SKIP:
        version = (registry.version(name) or {}).get("version")
        return ModelOutcome(name, "skip", "up to date", version, decision.texts[0])
    if decision.kind is Kind.UPDATE:
        version = registry.update(name, metadata_of(model), model.aliases, commit=commit)
        return ModelOutcome(name, "update", "updated", version, reasons)
    new = decision.new_version
    assert new is not None, "a register decision without content"
    missing = [digest for _, digest, _ in new.files if not state.objects.has(digest)]
    if missing:
        return ModelOutcome(name, "register", "failed", detail=f"model not touched: object {missing[0]} of run "
                            f"{new.run_id} is missing from the object store; rerun the job "
                            f"(`runner apply --force {model.job}`)")
    version = registry.register(_with_framework_used(new, model.framework, state), model.aliases, commit=commit)
    return ModelOutcome(name, "register", "registered", version, reasons)


def _with_framework_used(new: NewVersion, framework: str | None, state: State) -> NewVersion:
    """The version's lineage with `framework_installed`: the version of the `framework` package
    in the run's environment (beside the declared `framework_version`), when it can be known."""
    if not framework:
        return new
    from runner.envs.installed import installed_version

    from runner.runs.store import row_dict

    run = row_dict(state.db, state.db.execute("SELECT * FROM runs WHERE id = ?", (new.run_id,)).fetchone()) or {}
    used = installed_version((run.get("components") or {}).get("environment") or {}, framework)
    return replace(new, lineage={**new.lineage, "framework_installed": used}) if used else new


def _archive(registry: ModelStore, name: str, prune: bool, commit: str | None) -> ModelOutcome:
    if not prune:
        return ModelOutcome(name, "archive", "not archived",
                            detail=f"not in {registry.source}; run `runner apply --prune` to archive it")
    registry.archive(name, commit=commit)
    return ModelOutcome(name, "archive", "archived", detail=f"not in {registry.source}; versions kept")


def _what_failed(outcome: RunOutcome | None) -> str:
    if outcome is None:
        return "its job did not run"
    what = f"run {outcome.run_id}" if outcome.run_id else f"job {outcome.job}"
    return f"{what} {outcome.status}" + (f" ({outcome.detail})" if outcome.detail else "")
