"""The validated spec, cached as plain data, so an unchanged train.yaml costs no pydantic.

Importing pydantic and building the models is about a third of a no-op `runner apply`.
After a train.yaml validated, its spec is written to `.runner/cache/spec-NAME.marshal`
(marshal, not JSON: importing json imports `re`, ~7 ms), keyed by the file's bytes,
runner's version, the Python version and the models' source. A later load with
the same key rebuilds it as `Record`s: frozen objects with the same fields (and the
few methods callers use), read without pydantic. Only the checks that look at the
disk (paths exist and stay in the project) run again; if one fails, the full load
runs and reports it, located.
"""

from __future__ import annotations

import marshal
import os
import sys

from runner.quickhash import quick_digest

TYPE_CHECKING = False  # annotations only: a cache hit imports as little as it can
if TYPE_CHECKING:
    from typing import Any

    from runner.project import Project

FORMAT = 3  # 3: marshal, keyed by runner.quickhash and the Python version


class Record:
    """A frozen model read back from the cache: `job.code`, `item.model_dump(exclude_none=True)`."""

    __slots__ = ("_fields", "_kind")

    def __init__(self, kind: str, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_fields", fields)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self._kind} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._kind} is frozen")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and (self._kind, self._fields) == (other._kind, other._fields)

    def __hash__(self) -> int:
        import json

        return hash((self._kind, json.dumps(self.model_dump(), sort_keys=True, default=str)))

    def __repr__(self) -> str:
        return f"{self._kind}({', '.join(f'{k}={v!r}' for k, v in self._fields.items())})"

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        return {k: _dump(v, exclude_none) for k, v in self._fields.items() if not (exclude_none and v is None)}


class SpecRecord(Record):
    """The cached Spec: its fields and the methods of `runner.spec.models.Spec`."""

    __slots__ = ("_defaults",)

    def __init__(self, fields: dict[str, Any], defaults: dict[str, Record]) -> None:
        super().__init__("Spec", fields)
        object.__setattr__(self, "_defaults", defaults)

    def compute_of(self, job: Any) -> Any:
        return self.computes.get(job.compute) or self._defaults["compute"]

    def experiment_of(self, job_name: str) -> str:
        return str(self.jobs[job_name].experiment or self.experiment or "default")

    def default_environment(self) -> Any:
        return self._defaults["environment"]


def lookup(project: Project, raw: bytes) -> SpecRecord | None:
    """The cached spec of these bytes, or None (no cache, another key, or its paths now fail)."""
    try:
        with open(_path(project), "rb") as file:
            cached = marshal.load(file)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(cached, dict) or cached.get("key") != _key(raw):
        return None
    try:  # a damaged file (edited, or from a runner with other models) means a full load
        defaults = {name: _decode(value) for name, value in cached["defaults"].items()}
        spec = SpecRecord(_decode(cached["spec"])._fields, defaults)
        return spec if _paths_still_valid(spec, project.root_path) else None
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def store(project: Project, raw: bytes, spec: Any) -> None:
    """Remember a spec that validated; best effort (a read-only project just does not cache)."""
    from runner.atomic import atomic_write
    from runner.spec.models import Compute

    if not os.path.isdir(project.state_path) or not _owned(project):
        return  # plan and validate never create .runner/, nor write into another project's
    payload = {"key": _key(raw), "spec": _encode(spec),
               "defaults": {"compute": _encode(Compute(type="local")),
                            "environment": _encode(spec.default_environment())}}
    try:
        atomic_write(_path(project), marshal.dumps(payload))
    except (OSError, ValueError):  # ValueError: a value marshal cannot write (then no cache)
        pass


def _owned(project: Project) -> bool:
    """False for a $RUNNER_STATE_DIR that another project claimed (runner.state refuses it too)."""
    try:
        with open(os.path.join(project.state_path, "project"), encoding="utf-8") as file:
            owner = file.read().strip()
    except OSError:
        return True
    return owner == project.root_path


def _path(project: Project) -> str:
    name = quick_digest(project.spec_name.encode("utf-8"))[:16]
    return os.path.join(project.state_path, "cache", f"spec-{name}.marshal")


def _key(raw: bytes) -> str:
    """The file's bytes, the cache format, runner's and Python's versions, the models' source file."""
    from runner import __version__

    st = os.stat(os.path.join(os.path.dirname(__file__), "models.py"))
    stamp = f"\0{FORMAT}\0{__version__}\0{sys.hexversion}\0{st.st_size}\0{st.st_mtime_ns}"
    return quick_digest(raw + stamp.encode())


def _encode(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return {"$": type(value).__name__, **{k: _encode(getattr(value, k)) for k in type(value).model_fields}}
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
    return Record(value["$"], {k: _decode(v) for k, v in value.items() if k != "$"})


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Record):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, dict):
        return {k: _dump(v, exclude_none) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_dump(v, exclude_none) for v in value)
    return value


def _paths_still_valid(spec: Any, root: str) -> bool:
    """The whole-file checks that depend on the disk (everything else depends on the bytes)."""
    from runner.spec.paths import path_problems

    return next(path_problems(spec, root), None) is None
