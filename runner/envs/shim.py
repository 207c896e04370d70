"""The tracking shim: `runner/__init__.py` + `runner/tracking.py` alone, for every run's PYTHONPATH.

A training script does `from runner import tracking` in whatever env it runs in; the
shim makes that work without installing runner (or pydantic, typer, ...) there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from runner.state.layout import shim_dir

SHIM_FILES = ("__init__.py", "tracking.py")


def tracking_shim() -> Path:
    """A folder holding only runner/__init__.py and runner/tracking.py, named by their content."""
    sources = _sources()
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + data + b"\0"
                                     for name, data in sources.items())).hexdigest()[:16]
    folder = Path(shim_dir(digest))
    if not (folder / "runner" / "tracking.py").is_file():
        _publish(folder, sources)
    return folder


def _sources() -> dict[str, bytes]:
    package = Path(__file__).resolve().parent.parent
    missing = [name for name in SHIM_FILES if not (package / name).is_file()]
    if missing:  # a broken install, not something a user wrote
        raise RuntimeError(f"runner's installation lacks {', '.join(missing)} in {package}")
    return {name: (package / name).read_bytes() for name in SHIM_FILES}


def _publish(folder: Path, sources: dict[str, bytes]) -> None:
    # Written in a staging folder then renamed: a reader sees the whole shim or none.
    staging = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    (staging / "runner").mkdir(parents=True)
    try:
        for name, data in sources.items():
            (staging / "runner" / name).write_bytes(data)
        os.rename(staging, folder)
    except OSError:
        if not (folder / "runner" / "tracking.py").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
