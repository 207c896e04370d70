"""train.yaml: read, validate, locate every problem; the one Spec type every command uses.

Owns: the YAML reading with line and column (`source`), the pydantic models that validate
and give the JSON Schema (`models`, `schema`), the Spec classes (`types`), the whole-file
checks (`checks`, `paths`, `bindings`), messages, the normalised job, and the spec cache.

May import: runner.state (the cache's file and path), and the foundation modules.
"""

from __future__ import annotations

from runner.spec.load import ValidationResult, check, from_data, load

__all__ = ["ValidationResult", "check", "from_data", "load"]
