"""schemas/train.schema.json is generated from the models; a drift fails here."""

from __future__ import annotations

import json
from pathlib import Path

from runner.spec.schema import schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_models() -> None:
    committed = (ROOT / "schemas" / "train.schema.json").read_text()
    assert committed == schema_text(), "run `runner schema > schemas/train.schema.json`"


def test_runner_schema_prints_it(cli) -> None:
    result = cli("schema")
    assert result.code == 0 and json.loads(result.out)["properties"]["jobs"]["type"] == "object"


def test_schema_describes_required_and_closed_objects() -> None:
    schema = json.loads(schema_text())
    assert schema["required"] == ["version"]
    assert schema["additionalProperties"] is False
    assert "command" in schema["$defs"]["Job"]["properties"]
