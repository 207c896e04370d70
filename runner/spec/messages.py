"""Turn pydantic's validation errors into one located, readable message each."""

from __future__ import annotations

import datetime
import difflib
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from runner.spec.models import NAME_PATTERN, Spec
from runner.spec.source import Located, Mark, Path_, counted, quoted

TYPE_WORDS = {
    "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "literal_error": None, "none_required": "nothing",
}
# The same kinds in a list of alternatives ("a string, number or true/false"), in this order.
KIND_NOUNS = {"a string": "string", "a number": "number", "a whole number": "whole number",
              "true or false": "true/false", "a mapping": "mapping", "a list": "list", "nothing": "nothing"}
BOUNDS = {"greater_than": ("gt", "greater than {}"), "greater_than_equal": ("ge", "{} or more"),
          "less_than": ("lt", "less than {}"), "less_than_equal": ("le", "{} or less")}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 60 else f"a string of {len(value):,} characters"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"  # YAML reads an unquoted 2024-01-01 as a date
    return f"the value {value!r}"


def problems_from(errors: list[dict[str, Any]], doc: Located) -> list[tuple[Mark, Path_, str]]:
    """One problem per place in the document, however many errors pydantic gives for it.

    A union (`params` values, `args`, `gpus`) fails once per member: those errors are
    grouped by the data path they concern, and a member's type error at a place is
    dropped when another member got further, into the value (`args: {--x: [1]}` is a
    mapping, so "expected a list" at `args` is noise beside the problem inside it).
    """
    grouped: dict[tuple[Path_, bool], list[dict[str, Any]]] = {}
    for error in errors:
        grouped.setdefault(_data_path(error, doc.data), []).append(error)
    deeper = {path[:n] for path, _ in grouped for n in range(len(path))}
    return counted([_one(path, on_key, errs, doc) for (path, on_key), errs in grouped.items()
                    if not (path in deeper and not on_key and all(e["type"] in TYPE_WORDS for e in errs))])


def _data_path(error: dict[str, Any], data: Any) -> tuple[Path_, bool]:
    """The place in the data an error concerns, and whether it is about a mapping's key.

    pydantic's `loc` mixes data keys with the names of union members ('str',
    "literal['all']", 'tuple[...]'), and a key may be spelled like a member. Of the ways
    to read `loc`, keep the one that arrives at the value pydantic reports as the input.
    """
    loc, kind = tuple(error["loc"]), error["type"]
    if len(loc) > 1 and loc[-1] == "[key]":
        walks = list(_walks(loc[:-1], data, ()))
        key = error.get("input")
        return next((p for p, _ in walks if p and p[-1] == key), walks[0][0]), True
    field: tuple[Any, ...] = ()
    if kind == "missing" and loc:  # pydantic's input is the mapping that lacks the field
        loc, field = loc[:-1], (loc[-1],)
    walks = list(_walks(loc, data, ()))
    target = error.get("input")
    for same in (lambda v: v is target, lambda v: type(v) is type(target) and v == target):
        for path, value in walks:
            if same(value):
                return (*path, *field), False
    return (*walks[0][0], *field), False


def _walks(loc: tuple[Any, ...], current: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    """Every reading of `loc` as data keys and skipped member names, most keys first."""
    if not loc:
        yield path, current
        return
    part, rest = loc[0], loc[1:]
    in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
    in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
    if in_dict or in_list:
        yield from _walks(rest, current[part], (*path, part))
    if isinstance(part, str):
        yield from _walks(rest, current, path)


def _one(path: Path_, on_key: bool, errors: list[dict[str, Any]], doc: Located) -> tuple[Mark, Path_, str]:
    first = errors[0]
    kind = first["type"]
    if kind == "missing":
        field = first["loc"][-1]
        parent = path[:-1] if path and path[-1] == field else path
        return doc.key_mark(parent), (*parent, field), f"missing required field {quoted(field)}"
    if kind == "extra_forbidden":
        path = path if path and path[-1] == first["loc"][-1] else (*path, first["loc"][-1])
        return doc.key_mark(path), path, flow_split(doc, path, "unknown key") or _unknown_key(path)
    value = _value_at(doc.data, path)
    if on_key:
        return doc.key_mark(path), path, _bad_key(path, first)
    if path == ("version",) and kind == "literal_error":
        return doc.value_mark(path), path, _version(value)
    if value is None and path and isinstance(path[-1], str) and any(e["type"] in MAPPING_ERRORS for e in errors):
        return doc.key_mark(path), path, _empty(path[-1])
    if all(e["type"] in TYPE_WORDS for e in errors):
        split = flow_split(doc, path, "no value for") if value is None else None
        return doc.value_mark(path), path, split or _wrong_type(errors, value)
    # a whole-mapping problem (e.g. "command or script") reads best at the mapping's key
    mark = doc.key_mark(path) if isinstance(value, dict) else doc.value_mark(path)
    chosen = next((e for e in errors if e["type"] not in TYPE_WORDS), first)
    return mark, path, _plain(chosen, value, path)


MAPPING_ERRORS = ("dict_type", "model_type", "model_attributes_type")
# What an empty mapping section lacks: `models:` with nothing under it.
ITEMS = {"environments": "an environment", "computes": "a compute", "datasets": "a dataset", "jobs": "a job",
         "models": "a model", "params": "a param", "inputs": "an input", "tags": "a tag", "variables": "a variable",
         "secrets": "a secret", "properties": "a property", "resources": "a resource", "build_args": "a build arg",
         "args": "an argument"}


def _empty(key: str) -> str:
    """`models: is empty; remove it or add a model`: a key written with nothing under it reads as null."""
    item = ITEMS.get(key)
    return f"{key}: is empty; remove it or " + (f"add {item}" if item else "give it a value")


def _version(value: Any) -> str:
    """Which train.yaml versions this runner reads, for a `version:` it does not."""
    from runner import __version__

    readable = [str(v) for v in typing.get_args(Spec.model_fields["version"].annotation)]
    reads = f"runner {__version__} reads train.yaml version {' and '.join(readable)}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (f"version {value} is not one this runner reads: {reads} "
                f"(upgrade runner, or write the file for version {readable[-1]})")
    return f"expected version {' or '.join(readable)} ({reads}), got {describe(value)}"


def flow_split(doc: Located, path: Path_, lead: str) -> str | None:
    """The message for a key that a comma cut off the value before it in a flow mapping, or None."""
    split = doc.flow_splits.get(tuple(path))
    if split is None:
        return None
    key, start, end = split
    meant = doc.text[start:end]
    if "\n" in meant or len(meant) > 200:
        return None
    cut = meant.partition(",")[0]
    quoted_value = f'"{meant}"' if "'" in meant and '"' not in meant else "'" + meant.replace("'", "''") + "'"
    return (f"{lead} {quoted(path[-1])}: a comma inside a flow mapping {{...}} splits the value, so {key}: "
            f"ends at {cut!r}; quote the whole value: {key}: {quoted_value}")


def _unknown_key(path: Path_) -> str:
    allowed = allowed_keys(path[:-1])
    message = f"unknown key {quoted(path[-1])}"
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean '{close[0]}'?)"
    return f"{message}; expected one of: {', '.join(allowed)}" if allowed else message


def _bad_key(path: Path_, error: dict[str, Any]) -> str:
    key = path[-1] if path else "?"
    if error.get("ctx", {}).get("pattern") == NAME_PATTERN:
        return (f"invalid name {quoted(key)}: use lowercase letters, digits, '_', '.' and '-', "
                f"starting with a letter or digit")
    return f"invalid key {quoted(key)}: {_strip(error['msg'])}"


def _wrong_type(errors: list[dict[str, Any]], value: Any) -> str:
    words: list[str] = []
    for error in errors:
        word = TYPE_WORDS[error["type"]]
        if word is None:
            word = str(error.get("ctx", {}).get("expected", "")) or "an allowed value"
        if word not in words:
            words.append(word)
    if len(words) == 1:
        expected = words[0] if errors[0]["type"] != "literal_error" else "one of " + words[0]
    else:
        expected = _alternatives(words)
    return f"expected {expected}, got {describe(value)}"


def _alternatives(words: list[str]) -> str:
    """'a string', 'a whole number', 'a number', 'true or false' -> 'a string, number or true/false'."""
    order = list(KIND_NOUNS)
    kinds = sorted((w for w in words if w in KIND_NOUNS), key=order.index)
    if "a number" in kinds and "a whole number" in kinds:
        kinds.remove("a whole number")
    values = [w for w in words if w not in KIND_NOUNS]  # literal choices: "'all'", "'a' or 'b'"
    if len(kinds) == 1 and not values:
        return kinds[0]
    nouns = [KIND_NOUNS[k] for k in kinds]
    if nouns and nouns[0] not in ("true/false", "nothing"):
        nouns[0] = "a " + nouns[0]
    items = nouns + values
    return ", ".join(items[:-1]) + " or " + items[-1]


def _plain(error: dict[str, Any], value: Any, path: Path_) -> str:
    ctx = error.get("ctx", {})
    if error["type"] == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return (f"invalid name {value!r}: use lowercase letters, digits, '_', '.' and '-', "
                f"starting with a letter or digit")
    if error["type"] == "string_pattern_mismatch":
        return f"invalid value {value!r}"
    if error["type"] == "finite_number":  # YAML reads 1e400 as infinity, .nan as not a number
        return f"{_field_name(path)} must be a finite number, got {describe(value)}"
    if error["type"] in BOUNDS:
        key, phrase = BOUNDS[error["type"]]
        bound = ctx.get(key)
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"{_field_name(path)} must be {phrase.format(bound)}"
    return _strip(error["msg"])


def _field_name(path: Path_) -> str:
    """`("computes", "c", "gpus", 1)` -> 'gpus[1]': the field and any list positions after it."""
    name = ""
    for part in reversed(path):
        name = f"[{part}]{name}" if isinstance(part, int) else f"{part}{name}"
        if not isinstance(part, int):
            return name
    return "the value" + name


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
    return [field.alias or name for name, field in target.model_fields.items()] if _is_model(target) else []


def _descend(target: Any, part: Any) -> Any:
    if _is_model(target):
        field = next((f for n, f in target.model_fields.items() if (f.alias or n) == part), None)
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
