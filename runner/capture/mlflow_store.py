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
import stat
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runner.state.nofollow import DIR_FLAGS, FILE_FLAGS, LinkedFolder, open_folder, regular_files

STORE = "mlflow"  # in the run's logs/
ARTIFACTS = "mlflow"  # in the run's outputs/
EXPERIMENT_ID = "1"
MAIN_RUN = ".runner-run-id"  # the id of the run runner made, beside the experiments
RUNNING = 1


def prepare(logs: Path, outputs: Path, experiment: str, run_name: str) -> dict[str, str]:
    """Make the store, its experiment and the run the script joins; the variables that point MLflow there."""
    import uuid  # here: reading a run's records after every run does without it (and `platform`)

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
    """What the script logged through MLflow, as `runner.tracking` records; nothing without a store.

    The store is the script's to write: every folder and file of it is opened without following
    a symbolic link (a link at any level is skipped), so nothing outside the run folder is read."""
    try:
        logs_fd = open_folder(str(logs.parent), logs.name)
    except (LinkedFolder, OSError):
        return  # collecting logs/ itself says what is wrong with it
    if logs_fd is None:
        return
    try:
        for _, store in _subfolders(logs_fd, STORE):
            main = _text(store, MAIN_RUN)
            for _, experiment in _subfolders(store) if main is not None else ():
                for name, run in _subfolders(experiment):
                    yield from _run_records(run, name, main.strip())
    finally:
        os.close(logs_fd)


def _subfolders(parent: int, only: str | None = None) -> Iterator[tuple[str, int]]:
    """(name, descriptor) of each real folder in `parent` (or of `only`), by name; links and
    files skipped; each descriptor is closed when the next is asked for."""
    for name in [only] if only else _folder_names(parent):
        fd = _folder(parent, name)
        if fd is not None:
            try:
                yield name, fd
            finally:
                os.close(fd)


def _run_records(run: int, name: str, main: str) -> Iterator[dict[str, Any]]:
    if _text(run, "meta.yaml") is None:
        return  # not a run
    prefix = "" if name == main else f"{_texts(run, 'tags', '').get('mlflow.runName') or name}/"
    yield from _metrics(_texts(run, "metrics", prefix))
    params = _texts(run, "params", prefix)
    if params:
        yield {"type": "params", "params": params}
    tags = {k: v for k, v in _texts(run, "tags", prefix).items() if not k.split("/")[-1].startswith("mlflow.")}
    if tags:
        yield {"type": "tags", "tags": tags}


def _metrics(files: dict[str, str]) -> Iterator[dict[str, Any]]:
    for name, text in files.items():
        points = []
        for line in text.splitlines():
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


def _texts(run: int, folder: str, prefix: str) -> dict[str, str]:
    """The text of every regular file under the run's `folder` (keys with `/` are subfolders), by key."""
    fd = _folder(run, folder)
    if fd is None:
        return {}
    found = {}
    for rel, file_fd, _, _ in regular_files(fd, "", lambda _: None):  # links skipped
        with os.fdopen(file_fd, "rb") as handle:
            found[prefix + rel[1:]] = handle.read().decode("utf-8", errors="replace")
    return dict(sorted(found.items()))


def _folder(parent: int, name: str) -> int | None:
    """A descriptor of the real folder `name` in `parent`; None when it is missing, a link or a file."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError:
        return None


def _folder_names(fd: int) -> list[str]:
    with os.scandir(fd) as scan:
        return sorted(entry.name for entry in scan if entry.is_dir(follow_symlinks=False))


def _text(folder: int, name: str) -> str | None:
    """The text of the regular file `name` in `folder`; None when it is missing, a link or not a file."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=folder)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        return handle.read().decode("utf-8", errors="replace")


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
