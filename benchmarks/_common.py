"""What every benchmark does first."""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_runner() -> None:
    """Byte-compile runner's modules, as `pip install` does. With an editable install and
    PYTHONDONTWRITEBYTECODE=1 (set on some machines) every start would compile runner from
    source, and the figures would measure that instead of runner."""
    import runner

    compileall.compile_dir(str(Path(runner.__file__).parent), quiet=1)
