"""Apply the plan's model actions, after the runs have ended.

Each model is decided again here (its job may just have run) and changed in one
transaction. A model whose job's run failed in this apply, or whose `path` is missing,
is left untouched and reported as `failed` (apply exits 1); the other models go on.

`archive` is only done under `--prune`: without it the plan still shows the action
(so `plan --detailed-exitcode` reports the drift) and apply reports it as
`not archived`, which is not a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.plan import Plan
from runner.registry.reconcile import Decision, ModelPlanner, metadata_of
from runner.registry.store import ModelStore

if TYPE_CHECKING:
    from runner.spec.models import Spec



@dataclass(frozen=True)
class ModelOutcome:
    name: str
    action: str  # register | update | archive | skip
    status: str  # registered | updated | archived | not archived | up to date | failed
    version: int | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def as_json(self) -> dict[str, Any]:
        return {"model": self.name, "action": self.action, "status": self.status, "version": self.version,
                "detail": self.detail}


def apply_models(spec: Spec, state: Any, plan: Plan, outcomes: Iterable[Any], *, prune: bool = False,
                 git: dict[str, Any] | None = None, source: str = "train.yaml",
                 report: Callable[[ModelOutcome], None] = lambda outcome: None) -> tuple[ModelOutcome, ...]:
    """Carry out the `model:` actions of `plan` (all but skips); `outcomes` are the runs this apply made."""
    runs = {o.job: o for o in outcomes}
    sync = _Sync(spec, state, (git or {}).get("commit"), prune, source)
    results = []
    for action in plan.actions:
        if action.target.startswith("model:") and action.action != "skip":  # a skip cannot change during apply
            result = sync.one(action.target[len("model:"):], action.action, [runs.get(j) for j in action.after])
            report(result)
            results.append(result)
    return tuple(results)


class _Sync:
    def __init__(self, spec: Spec, state: Any, commit: str | None, prune: bool, source: str) -> None:
        self.spec, self.state, self.commit, self.prune = spec, state, commit, prune
        self.planner, self.registry = ModelPlanner(spec, state.db, source), ModelStore(state.db, source)

    def one(self, name: str, planned: str, upstream: list[Any]) -> ModelOutcome:
        if planned == "archive":
            return self._archive(name)
        failed = [o for o in upstream if o is None or not o.ok]
        if failed:
            return ModelOutcome(name, planned, "failed", detail=f"{_what_failed(failed[0])}: model not touched; "
                                                                f"fix the job and run `runner apply` again")
        decision = self.planner.decide(name)
        if decision.error is not None:
            return ModelOutcome(name, decision.action, "failed", detail=f"model not touched: {decision.error}")
        return self._carry_out(decision)

    def _carry_out(self, decision: Decision) -> ModelOutcome:
        name, model = decision.name, self.spec.models[decision.name]
        if decision.action == "skip":
            version = (self.registry.version(name) or {}).get("version")
            return ModelOutcome(name, "skip", "up to date", version, decision.reasons[0])
        if decision.action == "update":
            version = self.registry.update(name, metadata_of(model), model.aliases, commit=self.commit)
            return ModelOutcome(name, "update", "updated", version, "; ".join(decision.reasons))
        assert decision.new is not None, "a register decision without content"
        missing = [digest for _, digest, _ in decision.new.files if not self.state.objects.has(digest)]
        if missing:
            return ModelOutcome(name, "register", "failed", detail=f"model not touched: object {missing[0]} of run "
                                f"{decision.new.run_id} is missing from the object store; rerun the job "
                                f"(`runner apply --force {model.job}`)")
        version = self.registry.register(decision.new, model.aliases, commit=self.commit)
        return ModelOutcome(name, "register", "registered", version, "; ".join(decision.reasons))

    def _archive(self, name: str) -> ModelOutcome:
        if not self.prune:
            return ModelOutcome(name, "archive", "not archived",
                                detail=f"not in {self.registry.source}; run `runner apply --prune` to archive it")
        self.registry.archive(name, commit=self.commit)
        return ModelOutcome(name, "archive", "archived", detail=f"not in {self.registry.source}; versions kept")


def _what_failed(outcome: Any) -> str:
    if outcome is None:
        return "its job did not run"
    what = f"run {outcome.run_id}" if outcome.run_id else f"job {outcome.job}"
    return f"{what} {outcome.status}" + (f" ({outcome.detail})" if outcome.detail else "")
