"""The job fingerprint: stable for equal parts whatever their order, different when any part
differs, and explained part by part."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.reconcile.fingerprint import digest_json, explain, make_fingerprint

keys = st.text(alphabet="abcdefghij_.-", min_size=1, max_size=6)
scalars = st.one_of(st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=8)
digests = st.dictionaries(keys, st.text(alphabet="0123456789abcdef", min_size=4, max_size=8), max_size=3)


def _shuffled(value: Any, rng: Any) -> Any:
    """The same value with every mapping's keys in another insertion order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@settings(max_examples=150, deadline=None)
@given(job=st.dictionaries(keys, values, max_size=5), snapshot=st.text(max_size=8),
       env=st.dictionaries(keys, values, max_size=3), data=digests, upstream=digests, rng=st.randoms())
def test_key_order_never_changes_the_digest(job, snapshot, env, data, upstream, rng) -> None:
    a = make_fingerprint(job, snapshot, env, data, upstream)
    b = make_fingerprint(*(_shuffled(part, rng) for part in (job, snapshot, env, data, upstream)))
    assert a.digest == b.digest and len(a.digest) == 64


@settings(max_examples=150, deadline=None)
@given(job=st.dictionaries(keys, values, min_size=1, max_size=5), other=values, data=digests)
def test_any_changed_part_changes_the_digest(job, other, data) -> None:
    base = make_fingerprint(job, "s1", {"digest": "e1"}, data, {})
    key = next(iter(job))
    changed = make_fingerprint({**job, key: other}, "s1", {"digest": "e1"}, data, {}).digest != base.digest
    assert changed == (json.dumps(job[key], sort_keys=True) != json.dumps(other, sort_keys=True))
    assert make_fingerprint(job, "s2", {"digest": "e1"}, data, {}).digest != base.digest
    assert make_fingerprint(job, "s1", {"digest": "e2"}, data, {}).digest != base.digest
    assert make_fingerprint(job, "s1", {"digest": "e1"}, data, {"inputs.d": "new"}).digest != base.digest


def test_digest_is_the_same_in_another_process() -> None:
    """No hash seeds or dict ordering leak in: a fresh interpreter computes the same digest."""
    value = {"b": [1, 2.5, "x"], "a": {"z": None, "y": True}, "é": "ü"}
    code = f"from runner.reconcile.fingerprint import digest_json; print(digest_json({value!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert out == digest_json(value)


def _parts(**changes: Any) -> dict[str, Any]:
    base = {"job": {"params": {"k": "linear"}}, "snapshot": "s1", "data": {"raw": "d1"}, "upstream": {},
            "environment": {"name": "sk", "digest": "e1", "components": {"pip": "[a]", "docker.base_id": "id1"}}}
    return {**base, **changes}


def test_explain_names_each_changed_part() -> None:
    new = _parts(job={"params": {"k": "rbf"}}, snapshot="s2", data={"raw": "d2"},
                 environment={"name": "sk", "digest": "e2", "components": {"pip": "[a, b]", "docker.base_id": "id1"}})
    assert explain(_parts(), new, ()) == ["params.k: linear -> rbf", "code changed",
                                               "environment sk: pip changed", "input raw: data changed"]


def test_explain_says_when_a_part_cannot_be_known() -> None:
    """Without a docker daemon the base image id is unknown: the plan says so, not "changed"."""
    unknown = {"name": "sk", "digest": "e3",
               "components": {"pip": "[a]", "docker.base_id": "unknown: no docker daemon"}}
    assert explain(_parts(), _parts(environment=unknown)) == [
        "environment sk: docker.base_id unknown: no docker daemon"]


def test_explain_names_an_added_dependency_as_added() -> None:
    new = _parts(upstream={"needs.a": "o1"}, data={})
    assert explain(_parts(), new) == ["input raw: removed", "needs.a: added"]


def test_a_nan_param_is_not_a_change() -> None:
    old = _parts(job={"params": {"a": float("nan")}})
    new = _parts(job={"params": {"a": float("nan")}}, snapshot="s2")
    assert explain(old, new) == ["code changed"]
