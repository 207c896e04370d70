"""Load train.yaml: read, validate with the models, run the whole-file checks, locate everything."""

from __future__ import annotations

from runner.errors import Problem, SpecError
from runner.values import Value

# A cached spec is loaded without anything below `load` (runner.spec.cache): the reading,
# validating and locating modules are imported in the functions that use them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runner.project import Project
    from runner.spec.source import Located, Mark, Path_
    from runner.spec.types import Spec


class ValidationResult(Value):
    __slots__ = ("spec", "problems")  # noqa: RUF023 (field order: repr)

    def __init__(self, spec: Spec | None, problems: tuple[Problem, ...]) -> None:
        self.spec = spec  # the items that validated (all of them when `valid`)
        self.problems = problems

    @property
    def valid(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        spec = self.spec
        assert spec is not None, "a result that found problems has no summary"
        counts = [(len(spec.jobs), "job"), (len(spec.environments), "environment"), (len(spec.models), "model")]
        return ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)


def load(project: Project) -> Spec:
    """The validated Spec, or SpecError carrying every located problem.

    An unchanged train.yaml comes from the spec cache (runner.spec.cache), without pydantic;
    it is the same class, with the same values, as a fresh load.
    """
    from runner.spec import cache

    try:
        raw = _read(project)
    except OSError:
        raw = None
    if raw is not None and (cached := cache.lookup(project, raw)) is not None:
        return cached
    result = check(project, raw)
    if not result.valid:
        raise SpecError(list(result.problems))
    assert result.spec is not None, "a valid result has a spec"
    if raw is not None:
        cache.store(project, raw, result.spec)
    return result.spec


def from_data(data: dict[str, Any]) -> Spec:
    """A Spec from train.yaml's data (already parsed), validated by the models; for code that
    builds a spec without a file. Disk and cross-reference checks are not run."""
    from runner.spec.models import Spec as SpecModel
    from runner.spec.models import to_runtime

    spec: Spec = to_runtime(SpecModel.model_validate(data))
    return spec


def _read(project: Project) -> bytes:
    with open(project.spec_path, "rb") as file:
        return file.read()


def check(project: Project, raw: bytes | None = None) -> ValidationResult:
    from runner.spec.source import Mark, read_source

    if raw is None:
        try:
            raw = _read(project)
        except OSError as exc:
            return _result(project, None, [(Mark(1, 1, 0), (), f"cannot read the file: {exc.strerror}")])
    doc = read_source(raw)
    if doc.data is None:
        return _result(project, None, doc.problems)
    if not isinstance(doc.data, dict):
        where = doc.value_mark(())
        return _result(project, None, [*doc.problems, (where, (), "the top level must be a mapping "
                                                                  "(version:, jobs:, ...), not " + _kind(doc.data))])
    model, found = _validate(doc)
    from runner.spec.models import to_runtime

    spec = to_runtime(model)
    found += _whole_file_checks(project, doc, spec)
    return _result(project, spec, [*doc.problems, *found])


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else "a single value"


def _validate(doc: Located) -> tuple[Any, list[tuple[Mark, Path_, str]]]:
    from pydantic import ValidationError

    from runner.spec.messages import problems_from
    from runner.spec.models import Spec

    try:
        return Spec.model_validate(doc.data), []
    except ValidationError as exc:
        return _partial(doc.data), problems_from(exc.errors(include_url=False), doc)


def _partial(data: dict[str, Any]) -> Any:
    """A Spec of the items that are valid on their own, so whole-file checks still run."""
    import re  # here: a valid spec (and a cached one) never needs it

    from runner.spec.models import NAME_PATTERN, SECTIONS, Spec

    clean: dict[str, Any] = {"version": 1}
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            salvaged = {name: _salvage(SECTIONS[key], item) for name, item in value.items()
                        if re.match(NAME_PATTERN, name)}
            clean[key] = {name: item for name, item in salvaged.items() if item is not None}
        elif key in ("experiment", "snapshot") and _salvage(Spec, {"version": 1, key: value}, tries=1):
            clean[key] = value
    return Spec.model_validate(clean)


def _salvage(model: Any, value: Any, tries: int = 3) -> Any:
    """The item validated, after dropping the fields that fail (a whole-item error gives up)."""
    from pydantic import ValidationError

    for attempt in range(tries):
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            errors = exc.errors()
            if attempt == tries - 1 or not isinstance(value, dict) or any(not e["loc"] for e in errors):
                return None
            value = {k: v for k, v in value.items() if k not in {e["loc"][0] for e in errors}}
    return None


def _whole_file_checks(project: Project, doc: Located, spec: Spec) -> list[tuple[Mark, Path_, str]]:
    from runner.spec.checks import Context, run_checks

    return run_checks(Context(spec=spec, doc=doc, root=project.root))


def _result(project: Project, spec: Spec | None, found: list[tuple[Mark, Path_, str]]) -> ValidationResult:
    from runner.spec.source import one_line

    problems = sorted({Problem(project.display, m.line, m.column, dotted(p), one_line(msg)) for m, p, msg in found},
                      key=lambda p: (p.line, p.column, p.message))
    return ValidationResult(spec=spec, problems=tuple(problems))


def dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
