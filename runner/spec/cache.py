"""The validated spec, cached as plain data, so an unchanged train.yaml costs no pydantic.

Importing pydantic and building the models is about a third of a no-op `runner apply`.
After a train.yaml validated, its spec is written to `.runner/cache/spec-NAME.marshal`
(through `runner.state.cachefile`: checksummed, keyed by the file's bytes, runner's and
Python's versions and the source of the models and types). A later load with the same
key rebuilds the same `runner.spec.types` classes a fresh load gives. Only the checks
that look at the disk (paths exist and stay in the project) run again; if one fails,
the full load runs and reports it, located.
"""

from __future__ import annotations

import os

from runner.quickhash import quick_digest
from runner.spec.types import CLASSES, Spec, SpecValue
from runner.state.cachefile import cache_key, file_stamp, read_cache, write_cache
from runner.state.layout import StateLayout

TYPE_CHECKING = False  # annotations only: a cache hit imports as little as it can
if TYPE_CHECKING:
    from typing import Any

    from runner.project import Project

_HERE = os.path.dirname(__file__)


def lookup(project: Project, raw: bytes) -> Spec | None:
    """The cached spec of these bytes, or None (no cache, another key, damaged, or its paths now fail)."""
    cached = read_cache(_path(project), _key(raw))
    try:  # a payload that verifies but does not decode (another runner's types) means a full load
        spec = _decode(cached) if cached is not None else None
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    if not isinstance(spec, Spec):
        return None
    return spec if _paths_still_valid(spec, project.root_path) else None


def store(project: Project, raw: bytes, spec: Spec) -> None:
    """Remember a spec that validated; best effort (a read-only project just does not cache)."""
    if not os.path.isdir(project.state_path) or not _owned(project):
        return  # plan and validate never create .runner/, nor write into another project's
    write_cache(_path(project), _key(raw), _encode(spec))


def _owned(project: Project) -> bool:
    """False for a $RUNNER_STATE_DIR that another project claimed (runner.state refuses it too)."""
    try:
        with open(StateLayout(project.state_path).owner, encoding="utf-8") as file:
            owner = file.read().strip()
    except OSError:
        return True
    return owner == project.root_path


def _path(project: Project) -> str:
    name = quick_digest(project.spec_name.encode("utf-8"))[:16]
    return StateLayout(project.state_path).cache_file(f"spec-{name}.marshal")


def _key(raw: bytes) -> str:
    """The file's bytes and the code that reads them into a Spec."""
    stamps = [file_stamp(os.path.join(_HERE, name)) for name in ("models.py", "types.py")]
    return cache_key("spec", raw, *stamps)


def _encode(value: Any) -> Any:
    """Marshal-able data: a SpecValue as {"$": class name, field: value, ...}."""
    if isinstance(value, SpecValue):
        return {"$": type(value).__name__, **{k: _encode(getattr(value, k)) for k in value.__slots__}}
    if isinstance(value, dict):
        return {"$map": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$map" in value:
        return {k: _decode(v) for k, v in value["$map"].items()}
    if "$tuple" in value:
        return tuple(_decode(v) for v in value["$tuple"])
    return CLASSES[value["$"]](**{k: _decode(v) for k, v in value.items() if k != "$"})


def _paths_still_valid(spec: Spec, root: str) -> bool:
    """The whole-file checks that depend on the disk (everything else depends on the bytes)."""
    from runner.spec.paths import path_problems

    return next(path_problems(spec, root), None) is None
