"""A run-local MLflow store: prepared before a `capture: [mlflow]` run starts, read back as
tracking records while it runs and when it ends.

MLflow's file store (`file://` tracking URI) is plain files: `<experiment>/meta.yaml`,
`<experiment>/<run>/meta.yaml`, and per run `metrics/<key>` (lines `time_ms value step`),
`params/<key>` and `tags/<key>` (the text). runner writes the experiment (named after the
job) and the run the script joins (`MLFLOW_RUN_ID`, so `mlflow.start_run()` resumes it), with
its artifact location in the run's `outputs/mlflow/`. Reading needs no mlflow: runner never
imports it. Metrics of nested runs are recorded under `<run name>/<metric>`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

STORE = "mlflow"  # in the run's logs/
ARTIFACTS = "mlflow"  # in the run's outputs/
EXPERIMENT_ID = "1"
MAIN_RUN = ".runner-run-id"  # the id of the run runner made, beside the experiments
RUNNING = 1


def prepare(logs: Path, outputs: Path, experiment: str, run_name: str) -> dict[str, str]:
    """Make the store, its experiment and the run the script joins; the variables that point MLflow there."""
    store = logs / STORE
    run_id = uuid.uuid4().hex
    now = int(time.time() * 1000)
    _meta(store / "0" / "meta.yaml", artifact_location=(store / "0").as_uri(), creation_time=now,
          experiment_id="0", last_update_time=now, lifecycle_stage="active", name="Default")
    _meta(store / EXPERIMENT_ID / "meta.yaml", artifact_location=(outputs / ARTIFACTS).as_uri(), creation_time=now,
          experiment_id=EXPERIMENT_ID, last_update_time=now, lifecycle_stage="active", name=experiment)
    run = store / EXPERIMENT_ID / run_id
    _meta(run / "meta.yaml", artifact_uri=(outputs / ARTIFACTS).as_uri(), end_time=None, entry_point_name="",
          experiment_id=EXPERIMENT_ID, lifecycle_stage="active", run_id=run_id, run_name=run_name, source_name="",
          source_type=4, source_version="", start_time=now, status=RUNNING, tags=[], user_id="runner")
    for folder in ("metrics", "params", "tags", "artifacts"):  # MLflow finds a run by these folders
        (run / folder).mkdir(exist_ok=True)
    (run / "tags" / "mlflow.runName").write_text(run_name, encoding="utf-8")
    (store / MAIN_RUN).write_text(run_id, encoding="utf-8")
    return {"MLFLOW_TRACKING_URI": store.as_uri(), "MLFLOW_EXPERIMENT_ID": EXPERIMENT_ID, "MLFLOW_RUN_ID": run_id,
            "MLFLOW_ALLOW_FILE_STORE": "true"}  # MLflow 3 asks file-store users to say so


def records(logs: Path) -> Iterator[dict[str, Any]]:
    """What the script logged through MLflow, as `runner.tracking` records; nothing without a store."""
    store = logs / STORE
    try:
        main = (store / MAIN_RUN).read_text(encoding="utf-8").strip()
    except OSError:
        return
    for meta in sorted(store.glob("*/*/meta.yaml")):
        run = meta.parent
        prefix = "" if run.name == main else f"{_text(run / 'tags' / 'mlflow.runName') or run.name}/"
        yield from _metrics(run / "metrics", prefix)
        params = _texts(run / "params", prefix)
        if params:
            yield {"type": "params", "params": params}
        tags = {k: v for k, v in _texts(run / "tags", prefix).items() if not k.split("/")[-1].startswith("mlflow.")}
        if tags:
            yield {"type": "tags", "tags": tags}


def _metrics(folder: Path, prefix: str) -> Iterator[dict[str, Any]]:
    for path in sorted(_files(folder)):
        name = prefix + path.relative_to(folder).as_posix()
        points = []
        for line in _text(path).splitlines():
            fields = line.split()
            if len(fields) < 2:
                continue  # a line being written
            try:
                points.append((int(fields[0]), float(fields[1]), int(fields[2]) if len(fields) > 2 else 0))
            except ValueError:
                continue
        for stamp, value, step in points:
            yield {"type": "metric", "name": name, "value": value, "step": step,
                   "time": datetime.fromtimestamp(stamp / 1000, timezone.utc).isoformat(timespec="microseconds")}


def _texts(folder: Path, prefix: str) -> dict[str, str]:
    return {prefix + path.relative_to(folder).as_posix(): _text(path) for path in sorted(_files(folder))}


def _files(folder: Path) -> Iterator[Path]:
    """Regular files under `folder` (keys with `/` are subfolders); links are not followed."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
        for name in names:
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _meta(path: Path, **fields: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}: {_yaml(value)}\n" for key, value in fields.items()), encoding="utf-8")


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[]"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
