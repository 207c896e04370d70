"""Each `runner init` template's script runs by hand with plain python, as its docstring
promises: without runner installed (the template's fallback prints the metrics) and with
runner installed but outside a run (runner.tracking prints)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.scaffold import init_project, template_names

# Runs the script as `python train.py ...` would, with `runner` made unimportable, as on a
# machine (or in an environment) where it is not installed.
WITHOUT_RUNNER = """
import runpy, sys
class NoRunner:
    def find_spec(self, name, path=None, target=None):
        if name == "runner" or name.startswith("runner."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoRunner())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
ARGS = {"minimal": ["--epochs", "3"], "sklearn": [], "pytorch": ["--epochs", "3"]}
NEEDS = {"minimal": [], "sklearn": ["sklearn", "joblib"], "pytorch": ["torch"]}


def _needs(template: str) -> None:
    missing = [name for name in NEEDS[template] if importlib.util.find_spec(name) is None]
    if missing and os.environ.get("CI", "").lower() != "true":
        pytest.skip(f"{', '.join(missing)} not installed")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_") and k != "PYTHONPATH"}


@pytest.mark.parametrize("template", ["minimal", "sklearn", "pytorch"])
@pytest.mark.parametrize("runner_installed", [False, True])
def test_the_script_runs_by_hand(tmp_path: Path, template: str, runner_installed: bool) -> None:
    assert set(ARGS) == set(template_names())
    _needs(template)
    init_project(tmp_path, template=template, force=False)
    argv = [sys.executable, "src/train.py", *ARGS[template]]
    if not runner_installed:
        argv = [sys.executable, "-c", WITHOUT_RUNNER, "src/train.py", *ARGS[template]]

    done = subprocess.run(argv, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert "No module named" not in done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("params: ") for line in lines)
    metric = "accuracy: " if template == "sklearn" else "loss: "
    assert any(line.startswith(metric) for line in lines), done.stdout
    assert any((tmp_path / "outputs").iterdir())
    assert not (tmp_path / "logs").exists()  # nothing recorded outside a run


def test_without_the_fallback_the_harness_fails(tmp_path: Path) -> None:
    """The harness really hides runner: a bare import fails under it."""
    (tmp_path / "bare.py").write_text("from runner import tracking\n")
    done = subprocess.run([sys.executable, "-c", WITHOUT_RUNNER, "bare.py"], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "No module named 'runner'" in done.stderr
