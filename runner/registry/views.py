"""Read-only views of the registry for `runner models list|show|versions|history`.

A reference is `NAME` (its newest version), `NAME:VERSION` or `NAME@ALIAS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.registry.store import ModelStore

if TYPE_CHECKING:
    from runner.state import State

REF_RE = re.compile(r"^(?P<name>[^:@\s]+)(?::(?P<version>[^:@]*)|@(?P<alias>[^:@]*))?$")


class ModelNotFound(RunnerError):
    """No such model, version or alias in the registry."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None


def parse_ref(ref: str) -> ModelRef:
    match = REF_RE.match(ref)
    if match is None:
        raise ModelNotFound(f"{ref!r} is not a model reference: write NAME, NAME:VERSION or NAME@ALIAS")
    version, alias = match["version"], match["alias"]
    if version is not None and not (version.isascii() and version.isdigit() and int(version) > 0):
        raise ModelNotFound(f"{ref!r}: a version is a whole number from 1, e.g. {match['name']}:2")
    if alias is not None and not alias:
        raise ModelNotFound(f"{ref!r}: name an alias after @, e.g. {match['name']}@production")
    return ModelRef(match["name"], int(version) if version is not None else None, alias)


def model_of(state: State, name: str) -> dict[str, Any]:
    model = ModelStore(state.db).model(name)
    if model is None:
        known = ", ".join(m["name"] for m in ModelStore(state.db).models()) or "none yet"
        raise ModelNotFound(f"no model named {name!r} in the registry (models: {known}); see `runner models list`")
    return model


def resolve(state: State, ref: str) -> dict[str, Any]:
    """The version a reference names, as a stored version row."""
    parsed, registry = parse_ref(ref), ModelStore(state.db)
    model_of(state, parsed.name)
    number = parsed.version
    if parsed.alias is not None:
        aliases = registry.aliases(parsed.name)
        if parsed.alias not in aliases:
            raise ModelNotFound(f"model {parsed.name} has no alias {parsed.alias!r} "
                                f"(aliases: {', '.join(aliases) or 'none'})")
        number = aliases[parsed.alias][0]
    found = registry.version(parsed.name, number)
    if found is None:
        count = len(registry.versions(parsed.name))
        raise ModelNotFound(f"model {parsed.name} has no version {number} (versions 1 to {count})")
    return found


def summary(state: State, version: dict[str, Any]) -> dict[str, Any]:
    registry = ModelStore(state.db)
    model = registry.model(version["name"]) or {}
    aliases = sorted(a for a, (v, _src) in registry.aliases(version["name"]).items() if v == version["version"])
    return {"name": version["name"], "version": version["version"], "digest": version["digest"],
            "run_id": version["run_id"], "status": model.get("status"), "aliases": aliases,
            "tags": version["metadata"].get("tags", {})}


def list_models(state: State, *, include_archived: bool = False) -> list[dict[str, Any]]:
    """The newest version of each model; archived ones only with `include_archived`."""
    registry = ModelStore(state.db)
    found = []
    for model in registry.models():
        latest = registry.version(model["name"])
        if latest is not None and (include_archived or model["status"] == "active"):
            found.append(summary(state, latest))
    return found


def show(state: State, ref: str) -> dict[str, Any]:
    version = resolve(state, ref)
    meta = version["metadata"]
    # framework_installed is kept with the lineage at registration (runner.reconcile.register);
    # the text of `models show` prints it beside framework_version (`framework_used`).
    lineage = {k: v for k, v in version["lineage"].items() if k != "framework_installed"}
    return {**summary(state, version), "framework": meta.get("framework"),
            "framework_version": meta.get("framework_version"), "resources": meta.get("resources"),
            "properties": meta.get("properties", {}), "description": meta.get("description"),
            "created_at": version["created_at"], "lineage": lineage}


def framework_used(state: State, ref: str) -> str | None:
    """The version of the model's `framework` package in its run's environment, when it was known."""
    return resolve(state, ref)["lineage"].get("framework_installed")


def versions(state: State, name: str) -> list[dict[str, Any]]:
    model_of(state, name)
    return [{**summary(state, v), "created_at": v["created_at"]} for v in ModelStore(state.db).versions(name)]


def history(state: State, name: str) -> list[dict[str, Any]]:
    model_of(state, name)
    return ModelStore(state.db).history(name)


def files(state: State, version: dict[str, Any]) -> list[tuple[str, str, int]]:
    return ModelStore(state.db).files(version["name"], version["version"])
