"""Capture: scripts written for Azure ML (`Run.get_context()`) or MLflow run unchanged and
their logging lands in the run, as if it came through `runner.tracking`.

Owns: `azureml/`, a small package of runner's own that is put first on a run's import
path when the job asks for `capture: [azureml]` (see `shim_files`); `mlflow_store`, which
prepares a run-local MLflow file store and reads what a script logged there back as
tracking records.

May import: runner.state (reading a run's folders without following links), and the foundation modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

CAPTURES = ("azureml", "mlflow")


def shim_files(capture: tuple[str, ...]) -> dict[str, Path]:
    """The files to add to a run's shim folder for `capture`: {path in the shim: source}."""
    if "azureml" not in capture:
        return {}
    root = Path(__file__).resolve().parent
    return {path.relative_to(root).as_posix(): path for path in sorted((root / "azureml").rglob("*.py"))}


def run_records(logs: Path) -> Iterator[dict[str, Any]]:
    """Everything a run logged: `runner.tracking`'s file, then what MLflow captured (if anything)."""
    from runner.capture.mlflow_store import records
    from runner.tracking import METRICS_FILE, read_metrics

    yield from read_metrics(logs / METRICS_FILE)
    yield from records(logs)
