"""Helpers for the trigger tests: the real console script, polling, run history as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import run_console

T = TypeVar("T")


def runner_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("runner")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]


def poll(probe: Callable[[], T | None], *, timeout: float = 90, what: str = "condition") -> T:
    """Call `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def runs(root: Path) -> list[dict[str, Any]]:
    done = run_console("runs", "list", "--json", "-C", root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_show(root: Path, run_id: str) -> dict[str, Any]:
    done = run_console("runs", "show", run_id, "--json", "-C", root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def find_run(root: Path, run_id: str, status: str | None = None) -> dict[str, Any] | None:
    for run in runs(root):
        if run["id"] == run_id and (status is None or run["status"] == status):
            return run
    return None


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
