"""The normalised job ignores key order, defaults, YAML style and metadata."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.spec import from_data
from runner.spec.normal import normalised_job

BASE = {"version": 1, "jobs": {"t": {"script": "train.py", "args": {"--a": 1, "--b": ""},
                                     "params": {"k": "linear", "p": 1.0}, "inputs": {"d": {"path": "data"}}}}}


def norm(doc: dict) -> str:
    return json.dumps(normalised_job(from_data(doc), "t"), sort_keys=True)


def with_job(**changes) -> dict:
    job = {**BASE["jobs"]["t"], **changes}
    return {"version": 1, "jobs": {"t": job}}


def test_metadata_and_scheduling_do_not_count() -> None:
    assert norm(BASE) == norm(with_job(tags={"a": "b"}, description="x", timeout="1h", retries=2,
                                       experiment="e", needs=[]))


def test_defaults_written_out_do_not_count() -> None:
    assert norm(BASE) == norm(with_job(code=".", compute="local", environment=None))
    assert norm(BASE) == norm(with_job(code="./"))


def test_result_deciding_fields_count() -> None:
    assert norm(BASE) != norm(with_job(params={"k": "rbf", "p": 1.0}))
    assert norm(BASE) != norm(with_job(args={"--a": 2, "--b": ""}))
    assert norm(BASE) != norm(with_job(code="src"))


def test_folded_and_literal_commands_agree() -> None:
    a = {"version": 1, "jobs": {"t": {"command": "python x.py --k 1"}}}
    b = {"version": 1, "jobs": {"t": {"command": "python  x.py\n  --k 1\n"}}}
    assert norm(a) == norm(b)


@settings(max_examples=100, deadline=None)
@given(order=st.permutations(["script", "args", "params", "inputs"]), arg_order=st.permutations(["--a", "--b"]),
       bare=st.sampled_from(["", None]))
def test_key_order_does_not_count(order, arg_order, bare) -> None:
    job = BASE["jobs"]["t"]
    args = {k: (bare if k == "--b" else job["args"][k]) for k in arg_order}
    shuffled = {k: (args if k == "args" else job[k]) for k in order}
    assert norm({"jobs": {"t": shuffled}, "version": 1}) == norm(BASE)
