"""`runner hook install|uninstall|status`: where the hook goes, what it keeps, what it restores."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from runner.triggers.hook import CHAINED_SUFFIX, MARKER
from tests.conftest import ProjectDir, run_console
from tests.triggers.support import git

SPEC = "version: 1\njobs:\n  noop:\n    command: 'true'\n"
OLD_HOOK = "#!/bin/sh\necho old >> \"$(git rev-parse --show-toplevel)/old-hook-ran\"\n"


def _project(project: ProjectDir) -> Path:
    project.gen({"train.yaml": SPEC, ".gitignore": "old-hook-ran\n"})
    project.commit("init")
    return project.root


def _status(root: Path) -> dict[str, object]:
    done = run_console("hook", "status", "--json", "-C", root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_install_and_uninstall_without_an_existing_hook(project: ProjectDir) -> None:
    root = _project(project)
    hook = root / ".git" / "hooks" / "post-commit"

    done = run_console("hook", "install", "-C", root)

    assert done.returncode == 0, done.stderr
    assert MARKER in hook.read_text()
    assert hook.stat().st_mode & stat.S_IXUSR
    assert _status(root)["hook"] == {"path": str(hook), "installed": True, "other_hook": False, "chained": None,
                                     "problem": None}
    assert run_console("hook", "install", "-C", root).returncode == 0  # again: an update, not a conflict

    done = run_console("hook", "uninstall", "-C", root)

    assert done.returncode == 0, done.stderr
    assert not hook.exists()
    assert _status(root)["hook"]["installed"] is False


def test_an_existing_hook_is_refused_then_chained_and_restored(project: ProjectDir) -> None:
    root = _project(project)
    hook = root / ".git" / "hooks" / "post-commit"
    hook.write_text(OLD_HOOK)
    hook.chmod(0o755)

    refused = run_console("hook", "install", "-C", root)

    assert refused.returncode == 1
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert hook.read_text() == OLD_HOOK

    forced = run_console("hook", "install", "--force", "-C", root)

    assert forced.returncode == 0, forced.stderr
    assert MARKER in hook.read_text()
    chained = hook.with_name("post-commit" + CHAINED_SUFFIX)
    assert chained.read_text() == OLD_HOOK
    assert _status(root)["hook"]["chained"] == str(chained)
    project.gen({"f": "1"})
    project.commit("the old hook still runs")
    assert (root / "old-hook-ran").read_text() == "old\n"

    done = run_console("hook", "uninstall", "-C", root)

    assert done.returncode == 0, done.stderr
    assert hook.read_text() == OLD_HOOK and os.access(hook, os.X_OK)
    assert not chained.exists()


def test_uninstall_leaves_a_foreign_hook_alone(project: ProjectDir) -> None:
    root = _project(project)
    hook = root / ".git" / "hooks" / "post-commit"
    hook.write_text(OLD_HOOK)

    done = run_console("hook", "uninstall", "-C", root)

    assert done.returncode == 1
    assert "not runner's hook" in done.stderr
    assert hook.read_text() == OLD_HOOK


def test_core_hooks_path_is_honoured(project: ProjectDir) -> None:
    root = _project(project)
    git(root, "config", "core.hooksPath", ".githooks")

    done = run_console("hook", "install", "-C", root)

    assert done.returncode == 0, done.stderr
    assert MARKER in (root / ".githooks" / "post-commit").read_text()
    assert not (root / ".git" / "hooks" / "post-commit").exists()
    assert _status(root)["hook"]["path"] == str(root / ".githooks" / "post-commit")
    assert run_console("hook", "uninstall", "-C", root).returncode == 0
    assert not (root / ".githooks" / "post-commit").exists()


def test_project_in_a_subfolder_gets_its_own_hook(project: ProjectDir) -> None:
    project.gen({"ml": {"train.yaml": SPEC}})
    project.commit("init")

    done = run_console("hook", "install", "-C", project.root / "ml")

    text = (project.root / ".git" / "hooks" / "post-commit").read_text()
    assert done.returncode == 0, done.stderr
    assert f"project={project.root / 'ml'}" in text
    assert (project.root / "ml" / ".runner" / "hooks").is_dir()


def test_a_commit_succeeds_even_when_runner_is_gone(project: ProjectDir) -> None:
    root = _project(project)
    assert run_console("hook", "install", "-C", root).returncode == 0
    hook = root / ".git" / "hooks" / "post-commit"
    lines = hook.read_text().splitlines()
    hook.write_text("\n".join("python=/nonexistent/python" if line.startswith("python=") else line
                              for line in lines) + "\n")

    project.gen({"f": "2"})
    sha = project.commit("still fine")

    assert git(root, "rev-parse", "HEAD") == sha
    assert _status(root)["applies"] == []


def test_not_a_git_repository(tmp_path: Path) -> None:
    ProjectDir(tmp_path).gen({"train.yaml": SPEC})

    done = run_console("hook", "install", "-C", tmp_path)

    assert done.returncode == 1
    assert "not in a git repository" in done.stderr


def test_two_projects_in_one_repository(project: ProjectDir) -> None:
    """b's install --force chains a's hook: a still counts as installed, and uninstalling a
    removes only a's hook."""
    project.gen({"a": {"train.yaml": SPEC}, "b": {"train.yaml": SPEC}})
    project.commit("init")
    a, b = project.root / "a", project.root / "b"
    assert run_console("hook", "install", "-C", a).returncode == 0
    assert run_console("hook", "install", "--force", "-C", b).returncode == 0
    hooks = project.root / ".git" / "hooks"
    assert _status(a)["hook"]["installed"] is True and _status(b)["hook"]["installed"] is True
    shown = run_console("hook", "status", "-C", a).stdout
    assert f"run first by the other hook at {hooks / 'post-commit'}" in shown
    again = run_console("hook", "install", "-C", a)
    assert again.returncode == 0 and again.stdout.startswith("already installed")
    gone = run_console("hook", "uninstall", "-C", a)
    assert gone.returncode == 0 and not (hooks / f"post-commit{CHAINED_SUFFIX}").exists()
    assert _status(a)["hook"]["installed"] is False and _status(b)["hook"]["installed"] is True


# -- a moved project or interpreter (issue 18, item 10) ---------------------------------

def _launcher_log(root: Path) -> str:
    log = root / ".runner" / "hooks" / "launcher.log"
    return log.read_text() if log.exists() else ""


def test_a_gone_interpreter_is_named_by_status_and_the_log(project: ProjectDir) -> None:
    root = _project(project)
    assert run_console("hook", "install", "-C", root).returncode == 0
    hook = root / ".git" / "hooks" / "post-commit"
    lines = [("python=/gone/venv/bin/python" if line.startswith("python=") else
              "# runner-python: /gone/venv/bin/python" if line.startswith("# runner-python: ") else line)
             for line in hook.read_text().splitlines()]
    hook.write_text("\n".join(lines) + "\n")

    project.gen({"f": "2"})
    sha = project.commit("not applied")
    status = _status(root)
    shown = run_console("hook", "status", "-C", root).stdout

    assert status["applies"] == []
    assert "the hook starts /gone/venv/bin/python, which no longer exists" in str(status["hook"]["problem"])
    assert "does nothing" in shown and "/gone/venv/bin/python" in shown and "runner hook install" in shown
    assert f"commit {sha} not applied: the interpreter /gone/venv/bin/python is gone" in _launcher_log(root)

    assert run_console("hook", "install", "-C", root).returncode == 0  # reinstalling fixes it
    assert _status(root)["hook"]["problem"] is None


def test_a_moved_repository_is_named_and_install_replaces_the_stale_hook(project: ProjectDir, tmp_path: Path) -> None:
    old = _project(project)
    assert run_console("hook", "install", "-C", old).returncode == 0
    moved = tmp_path / "moved"
    os.rename(old, moved)

    (moved / "f").write_text("2")
    git(moved, "add", "-A")
    git(moved, "commit", "-q", "-m", "after the move")
    sha = git(moved, "rev-parse", "HEAD")
    status = _status(moved)

    assert status["applies"] == [] and status["hook"]["installed"] is False
    assert status["hook"]["other_hook"] is False
    assert f"the hook applies the project at {old}, which no longer exists" in str(status["hook"]["problem"])
    assert f"commit {sha} not applied: the project folder {old} is gone" in _launcher_log(moved)

    done = run_console("hook", "install", "-C", moved)  # no --force needed, nothing chained

    assert done.returncode == 0, done.stderr
    after = _status(moved)["hook"]
    assert after["installed"] is True and after["problem"] is None and after["chained"] is None
