"""What is well-formed in an item that failed validation, so the reference checks still see it.

A job with a typo'd `comand:` fails its "command or script" rule and was left out of the
whole-file checks: its dangling `environment: nope` showed up only once the typo was
fixed. Here each field is validated on its own and the item is built from those that
pass, without the rules that tie fields together (its problems were reported by the
full validation). A required field that fails is None.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError


def well_formed(model: type[BaseModel], value: dict[str, Any]) -> BaseModel:
    """`model` built from the fields of `value` that validate alone; the others take their defaults."""
    fields: dict[str, Any] = {}
    names = {field.alias or name: name for name, field in model.model_fields.items()}  # `from:` is `from_`
    for key, item in value.items():
        name = names.get(key)
        if name is not None:
            try:
                fields[name] = _adapter(model, name).validate_python(item)
            except ValidationError:
                continue
    missing = {name: None for name, field in model.model_fields.items() if field.is_required() and name not in fields}
    built = model.model_construct(**missing)
    for name, item in fields.items():
        object.__setattr__(built, name, item)
    return built


@cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)
