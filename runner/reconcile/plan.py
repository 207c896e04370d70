"""The plan: a frozen value, the list of actions apply would take, each with its reasons as data.

`runner.reconcile.planner.make_plan` builds it and holds nothing open afterwards; `apply`
executes it. A run action carries its `RunWork`: the job as it was fingerprinted (its
definition, params, environment and compute), so what runs is exactly what was decided.
A job planned after an upstream that runs in the same apply carries what it needs to be
decided again without the planner (`runner.reconcile.decide.redecide`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.reconcile.fingerprint import Fingerprint
    from runner.registry.store import NewVersion
    from runner.spec.types import Compute, Job, Scalar, Sweep


class Kind(str, Enum):
    """What an action does; the value is the `action` of `runner plan --json`."""

    RUN = "run"
    SWEEP = "sweep"  # run a job's sweep: the trials it still misses
    SKIP = "skip"
    REGISTER = "register"
    UPDATE = "update"
    ARCHIVE = "archive"


class Why(str, Enum):
    """What kind of reason a reason is (its text says the details)."""

    NEW = "new"                      # no previous run; a new model
    NOT_COMPLETED = "not completed"  # the latest run failed, was canceled or lost
    UP_TO_DATE = "up to date"
    FORCED = "forced"
    AFTER = "after"                  # an upstream runs first: decided again when it ended
    CHANGED = "changed"              # a part of the fingerprint, or a model's content or metadata
    RETRY = "retry"
    NOT_IN_SPEC = "not in spec"      # a model that left train.yaml
    HINT = "hint"                    # what to do (`run apply --prune`)
    ERROR = "error"                  # it cannot be done (`cannot register: ...`)


@dataclass(frozen=True)
class Reason:
    why: Why
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RunRecord:
    """What a decision needs to know of an earlier run."""

    id: str
    status: str
    fingerprint: str
    components: dict[str, Any]


@dataclass(frozen=True)
class History:
    """A job's past, as the planner read it: what deciding (and deciding again) compares with."""

    last_completed: RunRecord | None  # its latest completed run: up to date means the same fingerprint
    latest: RunRecord | None          # its latest run of any status
    code_reasons: tuple[str, ...] = ()  # how the code differs from last_completed's snapshot
    outputs_missing: str = ""         # why last_completed's outputs cannot stand for it (deleted, damaged), or ""


@dataclass(frozen=True)
class RunWork:
    """What a run executes, exactly as it was fingerprinted."""

    job: str
    definition: Job                 # the job as train.yaml gave it
    params: dict[str, Scalar]       # its params (in the fingerprint)
    experiment: str
    compute: Compute
    fingerprint: Fingerprint        # provisional (upstream outputs as last time) while `Action.after` is set
    history: History = field(compare=False, default_factory=lambda: History(None, None))
    trial: tuple[str, int] | None = None  # a sweep's trial: (sweep id, trial number)


@dataclass(frozen=True)
class SweepWork:
    """What a sweep runs: trials of `base` (the job with its own params) with the params they draw."""

    base: RunWork
    sweep: Sweep
    sweep_id: str                   # its fingerprint; provisional while `Action.after` is set
    components: dict[str, Any]      # its parts: the job's without the swept params, plus the sweep block


SYMBOLS = {Kind.RUN: "+", Kind.SWEEP: "+", Kind.SKIP: "=", Kind.REGISTER: "+", Kind.UPDATE: "~", Kind.ARCHIVE: "-"}


@dataclass(frozen=True)
class Action:
    kind: Kind
    target: str  # a job name, or model:NAME
    reasons: tuple[Reason, ...]
    symbol: str = "+"  # + new, ~ again, = up to date, - archive
    after: tuple[str, ...] = ()  # upstream jobs that run first in this apply
    work: RunWork | None = field(default=None, compare=False)  # a job's action
    new_version: NewVersion | None = field(default=None, compare=False)  # what a `register` records
    error: str | None = None  # why it cannot be carried out (a model action; a run whose base image is missing)
    sweep: SweepWork | None = field(default=None, compare=False)  # a `sweep` action's work

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(reason.text for reason in self.reasons)

    @property
    def model(self) -> str | None:
        """The model's name for a `model:NAME` action."""
        return self.target[len("model:"):] if self.target.startswith("model:") else None

    def has(self, why: Why) -> bool:
        return any(reason.why is why for reason in self.reasons)

    def as_json(self) -> dict[str, Any]:
        return {"action": self.kind.value, "target": self.target, "reasons": list(self.texts)}


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = ()  # e.g. a code folder above the snapshot size limits (printed on stderr)

    @property
    def changes(self) -> bool:
        return any(a.kind is not Kind.SKIP for a in self.actions)

    def count(self, kind: Kind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)

    def runs(self) -> list[Action]:
        """The job actions apply executes: runs and sweeps."""
        return [a for a in self.actions if a.kind in (Kind.RUN, Kind.SWEEP) and a.work is not None]

    def as_json(self) -> dict[str, Any]:
        return {"changes": self.changes, "actions": [a.as_json() for a in self.actions]}
