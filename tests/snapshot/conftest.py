from __future__ import annotations

from collections.abc import Iterator

import pytest

from runner.state import State, open_state_at
from tests.conftest import ProjectDir


@pytest.fixture
def state(project: ProjectDir) -> Iterator[State]:
    opened = open_state_at(project.root / ".runner")
    yield opened
    opened.close()
