"""The tracking shim: `runner/__init__.py` + `runner/tracking.py` alone, for every run's PYTHONPATH.

A training script does `from runner import tracking` in whatever env it runs in; the
shim makes that work without installing runner (or pydantic, typer, ...) there. A job
with `capture: [azureml]` gets a shim that also holds runner's `azureml` package
(runner.capture), so `from azureml.core import Run` records into the run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from runner.capture import shim_files
from runner.state.layout import shim_dir

SHIM_FILES = ("__init__.py", "tracking.py")


def tracking_shim(capture: tuple[str, ...] = ()) -> Path:
    """A folder holding runner/__init__.py and runner/tracking.py (and the capture shims), named by their content."""
    sources = _sources(capture)
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + data + b"\0"
                                     for name, data in sources.items())).hexdigest()[:16]
    folder = Path(shim_dir(digest))
    if not (folder / "runner" / "tracking.py").is_file():
        _publish(folder, sources)
    return folder


def _sources(capture: tuple[str, ...]) -> dict[str, bytes]:
    package = Path(__file__).resolve().parent.parent
    missing = [name for name in SHIM_FILES if not (package / name).is_file()]
    if missing:  # a broken install, not something a user wrote
        raise RuntimeError(f"runner's installation lacks {', '.join(missing)} in {package}")
    sources = {f"runner/{name}": (package / name).read_bytes() for name in SHIM_FILES}
    sources.update({name: path.read_bytes() for name, path in shim_files(capture).items()})
    return sources


def _publish(folder: Path, sources: dict[str, bytes]) -> None:
    # Written in a staging folder then renamed: a reader sees the whole shim or none.
    staging = folder.parent / f".tmp-{folder.name}-{os.urandom(4).hex()}"
    try:
        for name, data in sources.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        os.rename(staging, folder)
    except OSError:
        if not (folder / "runner" / "tracking.py").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
