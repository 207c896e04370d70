"""Shared fixtures: a `project` factory that builds real git repositories, and an in-process CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import pytest

# A shell that starts the suite in the background (`bash .ci/run &` in a script) hands it SIGINT
# ignored, and every process the tests start would inherit that: `runner` would never see the
# Ctrl-C the signal tests send. Python's own handler here makes the children start with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

Tree = dict[str, Union[str, bytes, "Tree"]]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class ProjectDir:
    """A project folder in tmp_path: `gen()` writes files from a dict, `commit()` makes real commits."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def gen(self, tree: Tree, base: Path | None = None) -> None:
        base = base or self.root
        for name, content in tree.items():
            path = base / name
            if isinstance(content, dict):
                path.mkdir(parents=True, exist_ok=True)
                self.gen(content, path)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content).lstrip("\n") if name.endswith((".yaml", ".py")) else content)

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def init_git(self) -> None:
        self.git("init", "-q", "-b", "main")

    def commit(self, message: str = "commit") -> str:
        if not (self.root / ".git").exists():
            self.init_git()
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def __truediv__(self, other: str) -> Path:
        return self.root / other


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test touches the user's caches or git identity; builds share one cache per session."""
    isolate(monkeypatch, tmp_path_factory)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The environment every test runs in; a module-scoped fixture, set up before the autouse
    one, calls it under its own `pytest.MonkeyPatch.context()`."""
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(_shared_cache(tmp_path_factory)))
    monkeypatch.delenv("RUNNER_STATE_DIR", raising=False)
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "Test User")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


_CACHE: list[Path] = []


def _shared_cache(factory: pytest.TempPathFactory) -> Path:
    if not _CACHE:
        _CACHE.append(factory.mktemp("runner-cache"))
    return _CACHE[0]


@pytest.fixture
def project(tmp_path: Path) -> ProjectDir:
    root = tmp_path / "proj"
    root.mkdir()
    return ProjectDir(root)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the CLI in-process: `cli("validate", "-C", path)` -> CliResult."""
    from runner.cli import main

    def invoke(*args: Any) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


def run_console(*args: Any, cwd: Path | None = None, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run the real console script (end-to-end tests)."""
    exe = Path(sys.executable).with_name("runner")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=kw.pop("env", os.environ.copy()), **kw)
