"""JSON text without importing `json`, for the commands that must start fast.

Importing json imports `re` (~7 ms together), a tenth of an unchanged `runner snapshot
JOB --json`. These give exactly the text `json.dumps` gives, for the plain values they
accept; callers fall back to json for anything else.
"""

from __future__ import annotations

TYPE_CHECKING = False  # annotations only: typing costs milliseconds to import
if TYPE_CHECKING:
    from typing import Any

try:
    from _json import encode_basestring_ascii as quote  # json's own C quoting
except ImportError:  # a Python without json's C part
    from json.encoder import encode_basestring_ascii as quote  # type: ignore[assignment]

__all__ = ["dumps_plain", "finite", "quote"]


def dumps_plain(value: Any, level: int = 0) -> str | None:
    """`json.dumps(value, indent=2)` for plain data: dicts with str keys, lists, str, int,
    bool and None. None for anything else (a float, a tuple, an object)."""
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    kind = type(value)
    if kind is int:
        return repr(value)
    if kind is str:
        return quote(value)
    if kind is not dict and kind is not list:
        return None
    if not value:
        return "{}" if kind is dict else "[]"
    parts = []
    for key, item in value.items() if kind is dict else ((None, item) for item in value):
        text = dumps_plain(item, level + 1)
        if text is None or (kind is dict and type(key) is not str):
            return None
        parts.append(text if kind is list else f"{quote(key)}: {text}")
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    opening, closing = ("{", "}") if kind is dict else ("[", "]")
    return opening + inner + ("," + inner).join(parts) + outer + closing


NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float as the string `"NaN"`, `"Infinity"` or
    `"-Infinity"` (what `runner.tracking` writes): bare NaN is not JSON, and `null` would lose it."""
    kind = type(value)
    if kind is float:
        return NON_FINITE.get(repr(value), value)
    if kind is dict:
        return {key: finite(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [finite(item) for item in value]
    return value
