"""`NAME`, `NAME:VERSION`, `NAME@ALIAS`: every valid reference parses back, anything else is one clear error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.registry.store import AliasMove, alias_moves
from runner.registry.views import ModelNotFound, ModelRef, parse_ref
from runner.spec.models import NAME_PATTERN

names = st.from_regex(NAME_PATTERN, fullmatch=True)


@given(name=names, version=st.integers(min_value=1, max_value=10**6), alias=names)
def test_valid_references_parse(name: str, version: int, alias: str) -> None:
    assert parse_ref(name) == ModelRef(name)
    assert parse_ref(f"{name}:{version}") == ModelRef(name, version=version)
    assert parse_ref(f"{name}@{alias}") == ModelRef(name, alias=alias)


@given(text=st.text(max_size=20))
def test_any_text_parses_or_raises_a_runner_error(text: str) -> None:
    try:
        ref = parse_ref(text)
    except ModelNotFound as exc:
        assert "\n" not in str(exc).strip("\n") or "\n" in text
        return
    assert ref.name and ":" not in ref.name and "@" not in ref.name


@pytest.mark.parametrize("ref", ["m:", "m:0", "m:-1", "m:1.5", "m:x", "m@", "m:1@a", "", "a b", "m::1"])
def test_bad_references_say_how_to_write_one(ref: str) -> None:
    with pytest.raises(ModelNotFound):
        parse_ref(ref)


def test_alias_moves_follow_the_declared_list_and_leave_hand_set_ones() -> None:
    current = {"latest": (1, "declared"), "prod": (1, "manual"), "old": (1, "declared"), "best": (2, "manual")}
    moves = alias_moves(current, ["latest", "best", "new"], 2)
    assert moves == [AliasMove("latest", 1, 2), AliasMove("new", None, 2), AliasMove("old", 1, None)]
    assert alias_moves(current, ["prod"], 3) == [AliasMove("prod", 1, 3, hand_set=True),
                                                AliasMove("latest", 1, None), AliasMove("old", 1, None)]
