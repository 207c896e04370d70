"""`runner envs list|build|show|prune`: the environment cache from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runner.cli.app import app
from runner.cli.common import (
    CaBundleOpt,
    FileOpt,
    JsonOpt,
    ProjectOpt,
    QuietOpt,
    print_json,
    project_of,
    stderr,
    stdout,
)

if TYPE_CHECKING:
    from runner.project import Project
    from runner.spec.types import Spec

envs_app = typer.Typer(name="envs", help="Environments: fingerprints and the shared build cache.",
                       no_args_is_help=True)
app.add_typer(envs_app, name="envs")



def _loaded(project: Path | None, file: Path | None) -> tuple[Project, Spec]:
    from runner.spec import load

    proj = project_of(project, file)
    return proj, load(proj)


@envs_app.command("list")
def list_cmd(project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """List the environments of train.yaml: kind, fingerprint, whether they are built."""
    from runner.envs.manage import list_envs

    proj, spec = _loaded(project, file)
    rows = list_envs(spec, proj.root)
    if json:
        print_json([row.as_json() for row in rows])
        return 0
    from runner.cli.render import columns

    lines = columns(["name", "kind", "fingerprint", "cached", "location"],
                    [[row.name, row.kind, row.fingerprint[:12], "yes" if row.cached else "no", row.location]
                     for row in rows])
    print("\n".join(lines) if rows else "no environments in train.yaml")
    return 0


@envs_app.command("build")
def build_cmd(names: Annotated[list[str] | None, typer.Argument(help="Environments (default: all).")] = None,
              project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False,
              ca_bundle: CaBundleOpt = None, quiet: QuietOpt = False) -> int:
    """Build the environments that are not cached yet; print what was a hit and what was built."""
    import contextlib

    from runner.cli.progress import shown
    from runner.envs.ca_bundle import set_ca_bundle
    from runner.envs.manage import build_envs

    set_ca_bundle(ca_bundle)
    proj, spec = _loaded(project, file)
    err = stderr()

    def progress(name: str, step: str) -> None:
        if step.startswith("warning:"):  # kept on screen (and in CI logs), unlike the spinner
            err.print(f"{name}: {step}", markup=False)
        if status is not None:
            status.update(f"{name}: {step}")

    # On a terminal its own spinner says what it does; elsewhere a slow build gets a plain line.
    live = err.is_terminal and not quiet and not json
    with err.status("checking environments") if live else contextlib.nullcontext() as status, \
            shown(json=json, quiet=quiet or live):
        rows, errors = build_envs(spec, proj.root, list(names or []), log=progress)
    for error in errors:
        err.print(error, markup=False, highlight=False)
    if json:
        print_json([row.as_json() for row in rows])
        return 1 if errors else 0
    out = stdout()
    for row in rows:
        verb = {"built": "built", "pulled": "pulled"}.get(row.cache, "cached")
        out.print(f"{row.name}: {verb} {row.fingerprint[:12]} ({row.seconds:.2f}s)")
    return 1 if errors else 0


@envs_app.command("show")
def show_cmd(name: Annotated[str, typer.Argument(help="The environment.")],
             project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Print an environment's fingerprint and the components it is made of."""
    from runner.envs.manage import show_env

    proj, spec = _loaded(project, file)
    shown = show_env(spec, proj.root, name)
    if json:
        print_json(shown)
        return 0
    out = stdout()
    for entry in (shown, shown.get("docker")):
        if entry:
            out.print(f"{name} ({entry['kind']}) {entry['fingerprint']}"
                      f"{'' if entry['cached'] else ' (not built)'}\n  location: {entry['location']}")
            for key, value in sorted(entry["components"].items()):
                out.print(f"  {key}: {value}")
    return 0


@envs_app.command("prune")
def prune_cmd(older_than: Annotated[str, typer.Option("--older-than", help="Age: 30d, 12h, 90m.")] = "30d",
              dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
              project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Remove cached environments (of every project) not used for --older-than."""
    from runner.envs.prune import parse_age, prune_envs

    pruned = prune_envs(parse_age(older_than), dry_run=dry_run)
    if json:
        print_json([p.as_json() for p in pruned])
        return 0
    out = stdout()
    for p in pruned:
        when = time.strftime("%Y-%m-%d", time.localtime(p.last_used)) if p.last_used else "never finished"
        state = "removed" if p.removed else ("would remove" if dry_run else "in use, kept")
        out.print(f"{state} {p.fingerprint[:12]} (last used {when}) {p.location}")
    out.print(f"{sum(p.removed for p in pruned)} environment(s) removed" if not dry_run
              else f"{len(pruned)} environment(s) would be removed")
    return 0
