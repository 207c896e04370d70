"""JSON text without the json module: the same text json.dumps gives, or None."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from runner.jsontext import dumps_plain, quote

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(plain)
def test_plain_data_reads_as_json_dumps_writes_it(value: object) -> None:
    assert dumps_plain(value) == json.dumps(value, indent=2)


@given(st.text())
def test_a_string_is_quoted_as_json_dumps_quotes_it(text: str) -> None:
    assert quote(text) == json.dumps(text)


@given(plain, st.sampled_from([1.5, (1, 2), {1: "a"}, b"x", object()]))
def test_anything_else_anywhere_is_left_to_json(value: object, other: object) -> None:
    assert dumps_plain(other) is None
    assert dumps_plain([value, other]) is None and dumps_plain({"k": {"x": other}}) is None


def test_the_snapshot_json_path_imports_neither_json_nor_re() -> None:
    code = ("import sys; from runner.jsontext import dumps_plain; import runner.snapshot.manifest; "
            "dumps_plain({'a': [1, 'b']}); print('json' in sys.modules, 're' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
