"""`runner models download`: write a version's files, each verified against its digest.

A file model is written as its file name under the folder; a folder model as its tree.
Each file is copied to a temp file and renamed into place only once its digest matched,
so a damaged object never leaves a plausible-looking file behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import progress
from runner.errors import StateError
from runner.registry.views import files, resolve
from runner.state.export import write_files
from runner.state.objects import ObjectError

if TYPE_CHECKING:
    from runner.state import State


class DamagedModel(StateError):
    """A registered model's object is missing or does not match its digest."""


def default_folder(version: dict[str, Any]) -> Path:
    return Path(f"{version['name']}-{version['version']}")


def download(state: State, ref: str, dest: Path | None = None) -> tuple[dict[str, Any], Path, list[Path]]:
    """Returns the version row, the folder written to, and the files written."""
    version = resolve(state, ref)
    folder = dest if dest is not None else default_folder(version)
    def damaged(rel: str, digest: str, exc: ObjectError) -> Exception:
        problem = "is missing" if not state.objects.has(digest) else "does not match its digest (tampered?)"
        if "is a folder" in str(exc):
            problem = "is a folder, not a file"
        return DamagedModel(f"model {version['name']}:{version['version']}: {rel}: object sha256:{digest} "
                            f"({state.objects.path(digest)}) {problem}; it was not written. Restore "
                            f".runner/objects from a backup, or rerun the job to register a new version")

    listed = files(state, version)
    rows = [(rel, digest) for rel, digest, _size in listed]
    with progress.phase(f"downloading model {version['name']}:{version['version']}", size=sum(r[2] for r in listed)):
        written = write_files(state.objects, folder, rows, f"model {version['name']}:{version['version']}", damaged)
    return version, folder, written
