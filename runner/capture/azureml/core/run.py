"""`azureml.core.run.Run` as runner captures it: every call records into the runner run.

Numbers go through `runner.tracking` as metrics; values that are not numbers (text,
tables, rows, confusion matrices, accuracy tables) are kept as tags holding their JSON;
images are written to the run's logs/images/; uploads go to outputs/. Anything else of
azureml-core's API raises `UnsupportedByRunner` naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from typing import Any

from runner import tracking

NOT_UNDER_RUNNER = "is not available when runner runs the script (capture: [azureml])"


class UnsupportedByRunner(AttributeError):
    """A part of azureml-core's Run that runner does not provide."""


def unsupported(what: str, why: str, kind: type[Exception] = UnsupportedByRunner) -> Exception:
    """The error for `what`: an attribute of Run, or (kind ImportError) a name of azureml.core."""
    return kind(f"{what} {NOT_UNDER_RUNNER}: {why}")


class _Experiment:
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise unsupported(f"Run.experiment.{name}", "only experiment.name is recorded")


class Run:
    """The run this process is; `Run.get_context()` returns it."""

    _context: Run | None = None

    def __init__(self) -> None:
        self.id = os.environ.get("RUNNER_RUN_ID") or f"OfflineRun_{uuid.uuid4()}"
        self.experiment = _Experiment(os.environ.get("RUNNER_EXPERIMENT", "default"))
        self._status = "Running"
        self._tags: dict[str, str] = {}
        self._properties: dict[str, str] = {}
        self._tables: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_ignored: Any) -> Run:
        if cls._context is None:
            cls._context = cls()
        return cls._context

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise unsupported(f"Run.{name}", "runner captures logging, tags, properties, uploads and status")

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment.name!r}, status={self._status!r})"

    # -- metrics ---------------------------------------------------------------------------

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        if _is_number(value):
            tracking.log(name, value, step=step)
        else:
            self._keep(name, value)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        values = list(value)
        if all(_is_number(v) for v in values):
            tracking.log_list(name, values)
        else:
            self._keep(name, values)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._tables.setdefault(name, []).append(dict(kwargs))
        self._keep(name, self._tables[name])

    def log_table(self, name: str, value: dict[str, Any], description: str = "") -> None:
        self._keep(name, value)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        self._keep(name, _json(value))

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        self._keep(name, _json(value))

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        if (path is None) == (plot is None):
            raise ValueError("Run.log_image: give exactly one of path= or plot=")
        logs = os.environ.get("RUNNER_LOGS") or "logs"
        suffix = os.path.splitext(path)[1] if path else ".png"
        target = os.path.join(logs, "images", _safe(name) + (suffix or ".png"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if path is not None:
            shutil.copyfile(path, target)
        else:
            plot.savefig(target)
        self._tag({f"image.{name}": os.path.relpath(target, os.path.dirname(logs))})

    def _keep(self, name: str, value: Any) -> None:
        """A value that is not a number: a tag holding its JSON (text stays text)."""
        self._tag({name: value if isinstance(value, str) else json.dumps(value, default=str)})

    # -- tags and properties ---------------------------------------------------------------

    def tag(self, key: str, value: Any = None) -> None:
        self._tag({key: "" if value is None else str(value)})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._tag({str(k): "" if v is None else str(v) for k, v in tags.items()})

    def get_tags(self) -> dict[str, str]:
        return dict(self._tags)

    def add_properties(self, properties: dict[str, Any]) -> None:
        for key, value in properties.items():
            if key in self._properties and self._properties[key] != str(value):
                raise ValueError(f"Run.add_properties: property {key!r} is already set (properties do not change)")
        self._properties.update({str(k): str(v) for k, v in properties.items()})
        tracking.set_tags({f"property.{k}": str(v) for k, v in properties.items()})

    def get_properties(self) -> dict[str, str]:
        return dict(self._properties)

    def _tag(self, tags: dict[str, str]) -> None:
        self._tags.update(tags)
        tracking.set_tags(tags)

    # -- files -----------------------------------------------------------------------------

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        target = _in_outputs(name)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        if isinstance(path_or_stream, (str, os.PathLike)):
            shutil.copyfile(path_or_stream, target)
        else:
            with open(target, "wb") as handle:
                shutil.copyfileobj(path_or_stream, handle)

    def upload_folder(self, name: str, path: str) -> None:
        shutil.copytree(path, _in_outputs(name), dirs_exist_ok=True)

    def upload_files(self, names: list[str], paths: list[str], **_ignored: Any) -> None:
        for name, path in zip(names, paths):
            self.upload_file(name, path)

    # -- status ----------------------------------------------------------------------------

    def get_status(self) -> str:
        return self._status

    def complete(self, _set_status: bool = True) -> None:
        self._set("Completed")

    def fail(self, error_details: Any = None, error_code: Any = None, _set_status: bool = True) -> None:
        self._set("Failed", error_details)

    def cancel(self) -> None:
        self._set("Canceled")

    def flush(self, timeout_seconds: int = 300) -> None:
        return None

    def _set(self, status: str, details: Any = None) -> None:
        self._status = status
        tags = {"azureml.status": status}
        if details is not None:
            tags["azureml.error"] = str(details)
        self._tag(tags)


def _is_number(value: Any) -> bool:
    if isinstance(value, (str, bytes, bool)) or value is None:
        return isinstance(value, bool)
    return hasattr(value, "__float__")


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "image"


def _in_outputs(name: str) -> str:
    outputs = os.environ.get("RUNNER_OUTPUTS") or "outputs"
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts:
        raise ValueError(f"upload name {name!r} must be a relative path inside outputs/")
    if parts[0] == "outputs":  # Azure ML's names often start with outputs/
        parts = parts[1:] or parts
    return os.path.join(outputs, *parts)

