"""`runner models alias NAME ALIAS VERSION`: move an alias by hand (e.g. promote `production`).

A hand-set alias is recorded as such: apply never moves it silently. If train.yaml also
declares it, the next plan shows it moving back to the newest version, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.registry.store import ModelStore
from runner.registry.views import ModelNotFound, model_of, resolve
from runner.spec.types import NAME_PATTERN

if TYPE_CHECKING:
    from runner.state import State


@dataclass(frozen=True)
class AliasSet:
    name: str
    alias: str
    version: int
    previous: int | None


def set_alias(state: State, name: str, alias: str, version: int, *, commit: str | None = None) -> AliasSet:
    if not re.match(NAME_PATTERN, alias):
        raise ModelNotFound(f"alias {alias!r}: use lowercase letters, digits, '.', '_' and '-', "
                            f"starting with a letter or digit")
    if not state.exists:
        model_of(state, name)  # the empty read-only view: says "no model named ..."
    with state.lock():
        resolve(state, f"{name}:{version}")
        previous = ModelStore(state.db).set_alias(name, alias, version, commit=commit)
    return AliasSet(name, alias, version, previous)
