"""`runner hook install|uninstall|status|run`: apply every commit from a git post-commit hook."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.cli.app import app
from runner.cli.common import FileOpt, JsonOpt, ProjectOpt, print_json, project_of

if TYPE_CHECKING:
    from runner.triggers.hook import HookState

hook_app = typer.Typer(help="The git post-commit hook that applies each new commit in the background.",
                       no_args_is_help=True)
app.add_typer(hook_app, name="hook")


@hook_app.command()
def install(force: Annotated[bool, typer.Option("--force", help="Keep an existing hook and run it before "
                                                "runner's (chained).")] = False,
            project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Install the post-commit hook (honours core.hooksPath)."""
    from runner.triggers.hook import install as do_install

    state = do_install(project_of(project, file), force=force)
    if state.behind is not None:
        print(f"already installed: {state.behind}, run first by the other hook at {state.path}")
        return 0
    chained = f"; the earlier hook is kept as {state.chained} and runs first" if state.chained else ""
    print(f"installed {state.path}{chained}")
    return 0


@hook_app.command()
def uninstall(project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Remove runner's hook and put back the hook that was there before."""
    from runner.triggers.hook import hook_state
    from runner.triggers.hook import uninstall as do_uninstall

    proj = project_of(project, file)
    behind = hook_state(proj).behind
    state, changed = do_uninstall(proj)
    if behind is not None:
        print(f"removed {behind}; the hook at {state.path} (another project's) stays")
    elif not changed:
        print(f"no post-commit hook at {state.path}: nothing to remove")
    elif state.exists:
        print(f"removed runner's hook; restored the earlier hook at {state.path}")
    else:
        print(f"removed {state.path}")
    return 0


@hook_app.command()
def status(limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many recent applies.")] = 10,
           project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Whether the hook is installed, and the recent hook-triggered applies with their logs."""
    from runner.triggers.hook import hook_state
    from runner.triggers.hookruns import recent

    proj = project_of(project, file)
    state, runs = hook_state(proj), recent(proj, limit=limit)
    if json:
        print_json({"hook": state.as_json(), "applies": [r.as_json() for r in runs]})
        return 0
    print(_hook_line(state))
    for run in runs:
        ended = f"ended {run.finished_at} exit {run.exit_code}" if run.finished_at else "not ended"
        extra = f" ({run.detail})" if run.detail else ""
        print(f"{run.commit[:8]}  {run.status:<10} queued {run.queued_at}  {ended}{extra}\n          log {run.log}")
    if not runs:
        print("no hook-triggered applies yet")
    return 0


@hook_app.command()
def run(commit: Annotated[str, typer.Option("--commit", help="The commit to apply.")] = "HEAD",
        foreground: Annotated[bool, typer.Option("--foreground", help="Apply here and now (what the background "
                                                 "process runs) instead of starting it detached.")] = False,
        project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Start `runner apply --ref COMMIT` detached, logging to .runner/hooks/COMMIT.log (what the hook calls)."""
    from runner.triggers.hookruns import launch

    proj = project_of(project, file)
    if foreground:
        return _foreground(proj, commit)
    queued = launch(proj, commit)
    print(f"queued apply of {queued.commit[:8]}: log at {queued.log}")
    return 0


def _foreground(proj: Any, commit: str) -> int:
    from runner.cli.apply_cmd import apply_events
    from runner.state import open_state
    from runner.triggers.hookruns import run_commit

    print(f"runner: applying commit {commit}", flush=True)
    with open_state(proj, create=True) as state:
        return run_commit(proj, commit, state, apply_events(False, 1), lambda text: print(text, file=sys.stderr))


def _hook_line(state: HookState) -> str:
    if state.problem is not None:
        return f"hook at {state.behind or state.path} does nothing: {state.problem}"
    if state.behind is not None:
        return f"hook installed: {state.behind} (run first by the other hook at {state.path})"
    if state.ours:
        chained = f" (runs {state.chained} first)" if state.chained else ""
        return f"hook installed: {state.path}{chained}"
    if state.exists:
        return f"another post-commit hook is installed at {state.path}: `runner hook install --force` chains it"
    return f"hook not installed (would go to {state.path}): run `runner hook install`"
