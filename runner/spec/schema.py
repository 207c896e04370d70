"""The JSON Schema of train.yaml, generated from the models (schemas/train.schema.json is a copy)."""

from __future__ import annotations

import json
from typing import Any


def schema() -> dict[str, Any]:
    from runner.spec.models import Spec

    body = Spec.model_json_schema()
    body["title"] = "runner train.yaml"
    body["description"] = "Desired training runs and registered models (see README: train.yaml reference)."
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **body}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
