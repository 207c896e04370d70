"""`from runner import tracking` works in every built env, without runner's dependencies."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from runner.envs import materialise, tracking_shim
from runner.spec.types import Spec
from runner.state.layout import shared_cache


def test_shim_holds_only_tracking_and_is_versioned_by_content() -> None:
    shim = tracking_shim()
    assert sorted(p.name for p in (shim / "runner").iterdir()) == ["__init__.py", "tracking.py"]
    assert shim.parent == Path(shared_cache()) / "shim" and tracking_shim() == shim
    package = Path(__file__).resolve().parents[2] / "runner"
    assert (shim / "runner" / "tracking.py").read_bytes() == (package / "tracking.py").read_bytes()


def test_tracking_importable_in_a_built_venv(make_spec: Callable[..., Spec], tmp_path: Path) -> None:
    done = materialise(make_spec(bare={}), "bare", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tracking_shim())}
    code = "from runner import tracking; import runner; print(runner.__file__)"
    found = subprocess.run([done.python, "-c", code], check=False, env=env, cwd=tmp_path,
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(tracking_shim() / "runner" / "__init__.py")
    missing = subprocess.run([done.python, "-c", "import pydantic"], check=False, env=env, cwd=tmp_path,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "No module named 'pydantic'" in missing.stderr
