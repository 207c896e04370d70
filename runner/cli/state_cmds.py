"""`runner snapshot JOB`, `runner snapshot diff JOB [OLD_DIGEST]`, `runner gc`, `runner doctor`.

`snapshot` is a group whose default command is `take`: `runner snapshot train` means
`runner snapshot take train`. A job named `diff` (or `take`) is reached with
`runner snapshot take diff`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from runner.cli.app import app
from runner.cli.common import (
    FileOpt,
    JsonOpt,
    ProjectOpt,
    QuietOpt,
    print_json,
    project_of,
    stdout,
)
from runner.cli.hot import job_of, snapshot_take
from runner.cli.render import human_bytes


class _DefaultCommandGroup(TyperGroup):
    default_command = "take"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


snapshot_app = typer.Typer(name="snapshot", cls=_DefaultCommandGroup, no_args_is_help=True,
                           help="Snapshot a job's code folder (`runner snapshot JOB`), or diff it.")
app.add_typer(snapshot_app, name="snapshot")

JobArg = Annotated[str, typer.Argument(help="A job in train.yaml.", show_default=False)]


@snapshot_app.command("take")
def take_cmd(job: JobArg, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False,
             quiet: QuietOpt = False) -> int:
    """Snapshot JOB's code folder: digest, files, size, excluded top-level entries."""
    return snapshot_take(job, project, file, json, quiet)  # also run without Typer: runner.cli.hot


@snapshot_app.command("diff")
def diff_cmd(job: JobArg,
             old_digest: Annotated[str | None, typer.Argument(
                 help="A recorded snapshot (default: the job's previous one).", show_default=False)] = None,
             project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Files added, removed, modified between a recorded snapshot of JOB and now."""
    from runner.snapshot.history import diff_job
    from runner.state import open_state

    proj, spec = job_of(project, file, job)
    with open_state(proj, create=False) as state:
        found = diff_job(proj.root, spec.jobs[job].code, state, job, old_digest, limits=spec.snapshot,
                         omit=proj.snapshot_omit)
    if json:
        print_json(found.diff.as_json())
        return 0
    _print_diff(found)
    return 0


def _print_diff(found: Any) -> None:
    out = stdout()
    diff = found.diff
    lines = [(f"+ {p}", "green") for p in diff.added] + [(f"- {p}", "red") for p in diff.removed]
    lines += [(f"~ {p}", "yellow") for p in diff.modified]
    if not lines:
        out.print(f"no changes since snapshot {found.old[:12]}")
        return
    out.print(f"since snapshot {found.old[:12]}:")
    for text, style in sorted(lines, key=lambda item: item[0][2:]):
        out.print(f"  {text}", style=style, markup=False)


@app.command("gc")
def gc_cmd(dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
           project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Remove stored objects that nothing references (snapshots, runs, models)."""
    from runner.cli.render import print_warnings
    from runner.state import open_state
    from runner.upkeep.gc import collect_garbage

    proj = project_of(project, file)
    with open_state(proj, create=False) as state:
        result = collect_garbage(state, dry_run=dry_run)
    print_warnings(result.warnings)
    if json:
        print_json({"objects": result.objects, "bytes": result.bytes, "temp_files": result.temp_files,
                    "dry_run": result.dry_run, "workspaces": result.workspaces})
        return 0
    verb = "would remove" if dry_run else "removed"
    temps = f" and {result.temp_files} stale temp files" if result.temp_files else ""
    temps += f" and {result.workspaces} unused code workspaces" if result.workspaces else ""
    stdout().print(f"{verb} {result.objects} objects{temps}, {human_bytes(result.bytes)} "
                   f"{'to free' if dry_run else 'freed'}")
    return 0


@app.command("doctor")
def doctor_cmd(repair: Annotated[bool, typer.Option(
                   "--repair", help="Also repair what loses nothing: caches, damaged objects, mark runs "
                                    "whose outputs are gone.")] = False,
               project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Check the project's state: database, objects, manifests, references, run folders (exit 1: problems)."""
    from runner.upkeep.doctor import doctor

    proj = project_of(project, file)
    report = doctor(proj.state_path, repair=repair)
    if json:
        print_json(report.as_json())
        return 0 if report.healthy else 1
    out = stdout()
    for line in report.repairs:
        out.print(f"repaired: {line}", markup=False)
    for finding in report.findings:
        out.print(f"{finding.severity}: {finding.message}", style="red" if finding.severity == "error" else "yellow",
                  markup=False)
    counts = report.checked
    summary = (f"{counts['objects']} objects, {counts['snapshots']} snapshots, {counts['runs']} runs, "
               f"{counts['model_files']} model files checked")
    errors = sum(1 for f in report.findings if f.severity == "error")
    out.print(f"healthy: {summary}" if report.healthy else f"{errors} problems: {summary}", markup=False)
    return 0 if report.healthy else 1
