"""Files runner ships beside its code: jinja2 templates and JSON Schemas.

In a wheel they are packaged under `runner/_data/`; in a clone they are the repository's
`templates/` and `schemas/` folders.
"""

from __future__ import annotations

from pathlib import Path


def _data_dir(name: str) -> Path:
    package = Path(__file__).parent
    bundled = package / "_data" / name
    return bundled if bundled.is_dir() else package.parent / name


def templates_dir() -> Path:
    """runner's jinja2 templates (init scaffolds, Dockerfile, git hook, CI workflows)."""
    return _data_dir("templates")


def schemas_dir() -> Path:
    """train.schema.json and the schemas of every `--json` output (`cli/`)."""
    return _data_dir("schemas")
