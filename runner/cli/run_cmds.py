"""`runner plan` and `runner apply`."""

from __future__ import annotations

import sys
import threading
from typing import Annotated, Any, Optional

import typer

from runner.cli.app import app
from runner.cli.common import FileOpt, JsonOpt, ProjectOpt, print_json, project_of

JobsArg = Annotated[Optional[list[str]], typer.Argument(help="Limit to these jobs and what they need.",
                                                       show_default=False)]


def _open(project: Any, file: Any, *, create: bool) -> tuple[Any, Any, Any]:
    from runner.spec import load
    from runner.state import open_state

    proj = project_of(project, file)
    spec = load(proj)
    return proj, spec, open_state(proj, create=create)


@app.command()
def plan(
    jobs: JobsArg = None,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                    help="Exit 2 when something would change, 0 when not.")] = False,
    project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False,
) -> int:
    """Show what apply would run, and why (it runs nothing)."""
    from runner.cli.render import print_plan
    from runner.plan import make_plan

    proj, spec, state = _open(project, file, create=False)
    result, _ = make_plan(proj, spec, state, targets=jobs or ())
    if json:
        print_json(result.as_json())
    else:
        print_plan(result)
    return 2 if detailed_exitcode and result.changes else 0


@app.command()
def apply(
    jobs: JobsArg = None,
    parallel: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Independent jobs run at once.")] = 1,
    force: Annotated[Optional[list[str]], typer.Option("--force", help="Rerun this job even if up to date.",
                                                       show_default=False)] = None,
    project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False,
) -> int:
    """Run what the plan says, in dependency order; record runs, outputs, metrics."""
    from runner.apply import apply as do_apply
    from runner.cli.render import apply_summary, outcome_line

    proj, spec, state = _open(project, file, create=True)
    events = _events(json, parallel)
    result = do_apply(proj, spec, state, targets=jobs or (), force=force or (), jobs=parallel, events=events)
    if json:
        print_json(result.as_json())
    elif result.outcomes:
        print(apply_summary(list(result.outcomes)))
    return 0 if result.ok else 1


def _events(json: bool, parallel: int) -> Any:
    from runner.apply import ApplyEvents
    from runner.cli.render import outcome_line, print_plan

    out = sys.stderr if json else sys.stdout
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            out.write(text + "\n")
            out.flush()

    def line(job: str, text: str) -> None:
        say(f"[{job}] {text}" if parallel > 1 else text)

    return ApplyEvents(
        plan=lambda p: print_plan(p, stream=out),
        line=line,
        started=lambda job, run_id: say(f"▶ {run_id} running"),
        ended=lambda outcome: say(outcome_line(outcome)),
        note=lambda message: say(f"! {message}"),
    )
