"""What the capture tests share: a runner command's --json output, checked to have succeeded."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ProjectDir, run_console


def console_json(project: ProjectDir, *args: str) -> Any:
    done = run_console(*args, "--json", "-C", project.root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
