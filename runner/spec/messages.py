"""Turn pydantic's validation errors into one located, readable message each."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from runner.spec.models import NAME_PATTERN, Spec
from runner.spec.source import Located, Mark, Path_

TYPE_WORDS = {
    "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "literal_error": None, "none_required": "nothing",
}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "a list" if isinstance(value, list) else "a mapping"


def problems_from(errors: list[dict[str, Any]], doc: Located) -> list[tuple[Mark, Path_, str]]:
    """Group pydantic errors by the data path they concern (a union yields several)."""
    grouped: dict[tuple[Path_, bool], list[dict[str, Any]]] = {}
    for error in errors:
        path, on_key = _data_path(error["loc"], doc.data)
        grouped.setdefault((path, on_key), []).append(error)
    return [_one(path, on_key, errs, doc) for (path, on_key), errs in grouped.items()]


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path_, bool]:
    """Keep the parts of pydantic's `loc` that exist in the data (drop union member tags)."""
    path: list[Any] = []
    current = data
    for i, part in enumerate(loc):
        if part == "[key]" and i == len(loc) - 1 and i > 0:
            return tuple(path), True
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and i == len(loc) - 1 and isinstance(part, str):
            path.append(part)  # a missing or unknown field: the last part is its name
    return tuple(path), False


def _one(path: Path_, on_key: bool, errors: list[dict[str, Any]], doc: Located) -> tuple[Mark, Path_, str]:
    first = errors[0]
    kind = first["type"]
    if kind == "missing":
        field = first["loc"][-1]
        parent = path[:-1] if path and path[-1] == field else path
        return doc.key_mark(parent), (*parent, field), f"missing required field '{field}'"
    if kind == "extra_forbidden":
        path = path if path and path[-1] == first["loc"][-1] else (*path, first["loc"][-1])
        return doc.key_mark(path), path, _unknown_key(path)
    value = _value_at(doc.data, path)
    # a whole-mapping problem (e.g. "command or script") reads best at the mapping's key
    mark = doc.key_mark(path) if on_key or isinstance(value, dict) else doc.value_mark(path)
    if on_key:
        return mark, path, _bad_key(path, first)
    if all(e["type"] in TYPE_WORDS for e in errors):
        return mark, path, _wrong_type(errors, value)
    chosen = next((e for e in errors if e["type"] not in TYPE_WORDS), first)
    return mark, path, _plain(chosen, value)


def _unknown_key(path: Path_) -> str:
    allowed = allowed_keys(path[:-1])
    message = f"unknown key '{path[-1]}'"
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean '{close[0]}'?)"
    return f"{message}; expected one of: {', '.join(allowed)}" if allowed else message


def _bad_key(path: Path_, error: dict[str, Any]) -> str:
    key = path[-1] if path else "?"
    if error.get("ctx", {}).get("pattern") == NAME_PATTERN:
        return (f"invalid name '{key}': use lowercase letters, digits, '_', '.' and '-', "
                f"starting with a letter or digit")
    return f"invalid key '{key}': {_strip(error['msg'])}"


def _wrong_type(errors: list[dict[str, Any]], value: Any) -> str:
    words: list[str] = []
    for error in errors:
        word = TYPE_WORDS[error["type"]]
        if word is None:
            word = "one of " + str(error.get("ctx", {}).get("expected", ""))
        if word not in words:
            words.append(word)
    expected = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"expected {expected}, got {describe(value)}"


def _plain(error: dict[str, Any], value: Any) -> str:
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == NAME_PATTERN:
        return (f"invalid name {value!r}: use lowercase letters, digits, '_', '.' and '-', "
                f"starting with a letter or digit")
    if error["type"] == "string_pattern_mismatch":
        return f"invalid value {value!r}"
    return _strip(error["msg"])


def _strip(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def _value_at(data: Any, path: Path_) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def allowed_keys(path: Path_) -> list[str]:
    """The field names of the model that `path` (a mapping in the document) is validated as."""
    target: Any = Spec
    for part in path:
        target = _descend(target, part)
        if target is None:
            return []
    return list(target.model_fields) if _is_model(target) else []


def _descend(target: Any, part: Any) -> Any:
    if _is_model(target):
        field = target.model_fields.get(part)
        return _unwrap(field.annotation) if field else None
    origin = typing.get_origin(target)
    if origin in (dict, tuple, list):
        args = typing.get_args(target)
        return _unwrap(args[-1] if origin is dict else args[0]) if args else None
    return None


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / Union[..., Model] / Annotated[X, ...] -> the model or container inside."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        preferred = [m for m in members if _is_model(m) or typing.get_origin(m) is dict]
        return (preferred or members or [None])[0]
    return annotation


def _is_model(target: Any) -> bool:
    return isinstance(target, type) and issubclass(target, BaseModel)
