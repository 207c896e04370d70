"""`runner plan` and `runner apply`."""

from __future__ import annotations

from typing import Annotated

import typer

from runner.cli.app import app
from runner.cli.common import (
    CaBundleOpt,
    FileOpt,
    JsonOpt,
    ProjectOpt,
    QuietOpt,
    print_json,
)

JobsArg = Annotated[list[str] | None, typer.Argument(help="Limit to these jobs and what they need.",
                                                       show_default=False)]
RefOpt = Annotated[str | None, typer.Option(
    "--ref", help="Use this commit's tree (sha, branch, tag), not the working tree.", show_default=False)]
PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Archive registered models that are no longer in train.yaml (never deletes them).")]


@app.command()
def plan(
    ctx: typer.Context,
    jobs: JobsArg = None,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                    help="Exit 2 when something would change, 0 when not.")] = False,
    prune: PruneOpt = False,
    project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False, ref: RefOpt = None,
    quiet: QuietOpt = False,
) -> int:
    """Show what apply would run, and why (it runs nothing)."""
    from runner.cli.opening import open_for_runs
    from runner.cli.progress import shown
    from runner.cli.render import print_plan, print_warnings
    from runner.reconcile.planner import make_plan

    proj, spec, state, _git = open_for_runs(project, file, create=False, ref=ref, hold=ctx.with_resource)
    with shown(json=json, quiet=quiet):  # a first snapshot of a large folder takes seconds
        result = make_plan(proj, spec, state, targets=jobs or (), prune=prune)
    if json:
        print_warnings(result.warnings)
        print_json(result.as_json())
    else:
        print_plan(result)
    return 2 if detailed_exitcode and result.changes else 0


@app.command()
def apply(
    ctx: typer.Context,
    jobs: JobsArg = None,
    parallel: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, show_default=False,
        help="Independent jobs run at once (default 1); when given, it also caps a sweep's trials.")] = None,
    force: Annotated[list[str] | None, typer.Option("--force", help="Rerun this job even if up to date.",
                                                       show_default=False)] = None,
    prune: PruneOpt = False,
    project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False, ref: RefOpt = None,
    ca_bundle: CaBundleOpt = None, quiet: QuietOpt = False,
) -> int:
    """Run what the plan says, in dependency order; record runs, outputs, metrics."""
    from runner.cli.apply_cmd import apply_command

    return apply_command(jobs=jobs or (), parallel=parallel, force=force or (), prune=prune, project=project,
                         file=file, json=json, ref=ref, ca_bundle=ca_bundle, quiet=quiet, hold=ctx.with_resource)
