"""train.yaml: load, validate, locate every problem."""

from __future__ import annotations

from runner.spec.load import ValidationResult, check, load

__all__ = ["ValidationResult", "check", "load"]
