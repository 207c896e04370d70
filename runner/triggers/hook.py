"""`runner hook install|uninstall`: the git post-commit hook that applies each new commit.

The hook goes where git looks for hooks (`git rev-parse --git-path hooks`, so
`core.hooksPath` is honoured) and is rendered from `templates/hooks/post-commit.j2`.
It calls the interpreter that installed it (`sys.executable -m runner`) with `-C` the
project folder, which may be a subfolder of the repository.

A hook that is already there is never overwritten silently: install refuses, and
`--force` moves it to `post-commit.runner-chained`, which runner's hook runs first.
`uninstall` removes runner's hook and moves the chained one back. A runner hook is
"ours" only when it names this project: another project of the same repository can
install its own hook with `--force`, which chains the first project's.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from runner.atomic import atomic_write
from runner.errors import RunnerError
from runner.git.repo import git_path
from runner.project import SPEC_NAME, Project

HOOK = "post-commit"
MARKER = "# runner-hook: post-commit v1"
CHAINED_SUFFIX = ".runner-chained"


class HookError(RunnerError):
    """The hook cannot be installed or removed as asked."""


@dataclass(frozen=True)
class HookState:
    path: Path  # where git runs the post-commit hook from
    exists: bool
    ours: bool  # runner's hook for this project
    chained: Path | None  # the earlier hook runner's hook runs first, if any
    # This project's hook, kept as the chained one by another hook (a second runner project
    # in the same repository installed with --force): it still runs on every commit.
    behind: Path | None = None
    # Why the hook at `path` does nothing: runner's hook naming a project folder or an
    # interpreter that is gone (the project or its venv moved). Install replaces it.
    problem: str | None = None

    @property
    def installed(self) -> bool:
        return self.ours or self.behind is not None

    def as_json(self) -> dict[str, object]:
        return {"path": str(self.path), "installed": self.installed,
                "other_hook": self.exists and not self.ours and self.problem is None,
                "chained": str(self.chained) if self.chained else None, "problem": self.problem}


def hook_state(project: Project) -> HookState:
    path = hooks_dir(project.root) / HOOK
    chained = path.with_name(HOOK + CHAINED_SUFFIX)
    ours = _is_ours(path, project)
    behind = chained if not ours and _is_ours(chained, project) else None
    return HookState(path, path.exists() or path.is_symlink(), ours, chained if ours and chained.exists() else None,
                     behind, stale(behind or path, project))


def stale(path: Path, project: Project) -> str | None:
    """Why runner's hook at `path` would do nothing, or None (not runner's hook, or a working one)."""
    fields = _recorded(path)
    if fields is None:
        return None
    where, python = fields.get("runner-project"), fields.get("runner-python")
    if where and not os.path.isdir(where):
        return (f"the hook applies the project at {where}, which no longer exists (moved?): it does nothing; "
                f"run `runner hook install` here to point it at {project.root}")
    if where == str(project.root) and python and not os.access(python, os.X_OK):
        return (f"the hook starts {python}, which no longer exists: it does nothing; "
                f"run `runner hook install` with the runner you use now")
    return None


def _recorded(path: Path) -> dict[str, str] | None:
    """The `# runner-...: value` lines of runner's hook at `path`; None when it is not runner's."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if MARKER not in lines:
        return None
    found = {}
    for line in lines:
        key, sep, value = line.removeprefix("# ").partition(": ")
        if line.startswith("# runner-") and sep:
            found[key] = value
    return found


def install(project: Project, *, force: bool = False) -> HookState:
    """Write runner's hook; with `force`, keep a foreign hook as the chained one."""
    state = hook_state(project)
    chained = state.path.with_name(HOOK + CHAINED_SUFFIX)
    if state.behind is not None:
        return state  # already installed, run by the hook in front of it
    if state.exists and not state.ours and state.problem is None:
        if not force:
            raise HookError(f"{state.path} already exists and is not runner's hook for this project: "
                            f"rerun with `runner hook install --force` to keep it and run it before runner's")
        if chained.exists() or chained.is_symlink():
            raise HookError(f"{chained} exists already (an earlier chained hook): merge or remove it, then retry")
        os.replace(state.path, chained)
    from runner.triggers.hookruns import ensure_hooks_folder

    ensure_hooks_folder(project)  # the hook's log folder, with `.runner/.gitignore`
    atomic_write(state.path, render_hook(project, chained=chained.exists()), mode=0o755)
    return hook_state(project)


def uninstall(project: Project) -> tuple[HookState, bool]:
    """Remove runner's hook and put back the chained one; (state after, whether anything changed)."""
    state = hook_state(project)
    if state.behind is not None:  # the hook in front (another project's) runs it only if it exists
        state.behind.unlink()
        return hook_state(project), True
    if not state.exists:
        return state, False
    if not state.ours:
        raise HookError(f"{state.path} is not runner's hook for this project: leaving it as it is")
    if state.chained is not None:
        os.replace(state.chained, state.path)
    else:
        state.path.unlink()
    return hook_state(project), True


def render_hook(project: Project, *, chained: bool) -> str:
    import jinja2

    from runner.resources import templates_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "hooks")),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["q"] = shlex.quote
    spec = project.spec_file.relative_to(project.root) if project.spec_file.parent == project.root else None
    spec_args = f" -f {shlex.quote(str(spec))}" if spec is not None and str(spec) != SPEC_NAME else ""
    try:
        inside = project.root.resolve().relative_to(hooks_top(project.root)).as_posix()
    except ValueError:
        inside = "."
    return env.get_template(f"{HOOK}.j2").render(
        marker=MARKER, project=str(project.root), python=sys.executable, chained=chained,
        chained_suffix=CHAINED_SUFFIX, spec_args=spec_args, inside=inside)


def hooks_top(root: Path) -> Path:
    """The repository's top folder (the hook's working folder)."""
    from runner.git.repo import RefError, repository_top

    try:
        return repository_top(root)
    except RefError:
        return root.resolve()


def hooks_dir(root: Path) -> Path:
    """Where git runs hooks from for the repository holding `root` (honours core.hooksPath)."""
    path = git_path(root, "hooks")
    if path is None:
        raise HookError(f"{root} is not in a git repository: run `git init` first")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def _is_ours(path: Path, project: Project) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return MARKER in text.splitlines() and f"# runner-project: {project.root}" in text.splitlines()
