"""The loader never raises anything but SpecError, and every problem carries a line and column."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings, strategies as st

from runner.errors import SpecError
from runner.project import find_project
from runner.spec import load
from tests.spec.test_validate import GOOD

KEYS = ["version", "jobs", "command", "script", "args", "params", "inputs", "environment", "compute",
        "needs", "timeout", "models", "job", "path", "datasets", "environments", "computes", "type",
        "pip", "python", "docker", "image", "aliases", "code", "train", "prep", "${{params.k}}", "<<"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(KEYS))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)),
    max_leaves=25)
SETTINGS = settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(project, data: bytes) -> None:
    (project / "train.yaml").write_bytes(data)
    try:
        load(find_project(project.root))
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message
            assert "\n" not in problem.message, problem.message


@SETTINGS
@given(doc=documents)
def test_random_documents(project, doc) -> None:
    import yaml

    _load(project, yaml.safe_dump(doc, allow_unicode=True).encode())


@SETTINGS
@given(cut=st.integers(0, len(GOOD)), junk=st.text(alphabet=string.printable + "\t{}[]:&*!|>'\"%@`", max_size=8),
       where=st.integers(0, len(GOOD)))
def test_mutated_good_file(project, cut, junk, where) -> None:
    text = GOOD[:cut] + GOOD[cut + 1:]
    _load(project, (text[:where] + junk + text[where:]).encode())


@SETTINGS
@given(data=st.binary(max_size=64))
def test_random_bytes(project, data) -> None:
    _load(project, data)
