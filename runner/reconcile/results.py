"""What apply reports: each run's and each model's outcome, as it happens and at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from runner.reconcile.plan import Plan


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


@dataclass
class ApplyEvents:
    """What apply reports while it works; the CLI renders these (Rich or JSON on stderr)."""

    plan: Callable[[Plan], None] = lambda plan: None
    line: Callable[[str, str], None] = lambda job, line: None
    started: Callable[[str, str], None] = lambda job, run_id: None
    ended: Callable[[RunOutcome], None] = lambda outcome: None
    note: Callable[[str], None] = lambda message: None
    model: Callable[[ModelOutcome], None] = lambda outcome: None


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    outcomes: tuple[RunOutcome, ...] = field(default_factory=tuple)
    repaired: tuple[str, ...] = ()
    models: tuple[ModelOutcome, ...] = ()  # one per model action carried out

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes) and all(m.ok for m in self.models)

    def as_json(self) -> dict[str, Any]:
        return {**self.plan.as_json(), "ok": self.ok, "repaired": list(self.repaired),
                "runs": [{"job": o.job, "id": o.run_id, "status": o.status, "exit_code": o.exit_code,
                          "detail": o.detail} for o in self.outcomes],
                "models": [m.as_json() for m in self.models]}
