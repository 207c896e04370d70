"""One Spec type: the classes of runner.spec.types and the pydantic models that validate into
them declare the same fields with the same defaults, so neither can drift from the other."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from runner.spec import from_data, models, types


def _pydantic_models() -> list[type[BaseModel]]:
    return [cls for cls in vars(models).values()
            if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.__module__ == models.__name__
            and not cls.__name__.startswith("_")]


def test_every_model_has_a_runtime_class_of_the_same_name() -> None:
    assert {cls.__name__ for cls in _pydantic_models()} == set(types.CLASSES)


@pytest.mark.parametrize("model", _pydantic_models(), ids=lambda cls: cls.__name__)
def test_fields_and_defaults_agree(model: type[BaseModel]) -> None:
    runtime = types.CLASSES[model.__name__]
    assert tuple(model.model_fields) == runtime.__slots__  # same names, in train.yaml's order
    for name, field in model.model_fields.items():
        if field.is_required():
            assert name not in runtime.DEFAULTS, f"{model.__name__}.{name} is required"
        else:
            default = field.get_default(call_default_factory=True)
            expected = models.to_runtime(default)
            assert runtime.DEFAULTS[name] == expected, f"{model.__name__}.{name}"


def test_defaults_filled_in_equal_what_validation_gives() -> None:
    assert types.LOCAL == from_data({"version": 1, "computes": {"c": {"type": "local"}}}).computes["c"]
    assert types.CURRENT_INTERPRETER == from_data({"version": 1, "environments": {"e": {"user_managed": True}}}
                                                  ).environments["e"]


def test_a_spec_is_frozen_and_its_dict_defaults_are_not_shared() -> None:
    one, two = types.Job(command="a"), types.Job(command="b")
    with pytest.raises(AttributeError):
        one.code = "elsewhere"  # type: ignore[misc]
    assert one.params == {} and one.params is not two.params
    with pytest.raises(TypeError, match="no field 'comand'"):
        types.Job(comand="a")
