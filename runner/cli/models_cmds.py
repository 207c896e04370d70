"""`runner models list|show|versions|history|download|alias`: the model registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from runner.cli.app import app
from runner.cli.common import (
    FileOpt,
    JsonOpt,
    ProjectOpt,
    QuietOpt,
    print_json,
    project_of,
    read_state,
)

models_app = typer.Typer(help="Registered models: list, show, versions, history, download, alias.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")

RefArg = Annotated[str, typer.Argument(help="NAME (newest version), NAME:VERSION or NAME@ALIAS.")]
NameArg = Annotated[str, typer.Argument(help="The model's name.")]


def _row(entry: dict[str, Any]) -> str:
    aliases = ",".join(entry["aliases"]) or "-"
    return (f"{entry['name']:<20} v{entry['version']:<4} {entry['status']:<9} {aliases:<20} "
            f"{entry['run_id']:<16} {entry['digest'][:12]}")


@models_app.command("list")
def list_(all_: Annotated[bool, typer.Option("--all", help="Include archived models.")] = False,
          project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """The newest version of each model."""
    from runner.registry.views import list_models

    models = list_models(read_state(project, file), include_archived=all_)
    if json:
        print_json(models)
        return 0
    for entry in models:
        print(_row(entry))
    if not models:
        print("no active models (`--all` shows archived ones); declare one under `models:` in train.yaml, "
              "then `runner apply`")
    return 0


@models_app.command()
def show(ref: RefArg, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """One version: metadata, aliases, lineage (the run it came from, its git commit and metrics)."""
    from runner.registry.views import files, framework_used, resolve
    from runner.registry.views import show as show_model

    state = read_state(project, file)
    entry = show_model(state, ref)
    if json:
        print_json(entry)
        return 0
    from runner.cli.render import git_line, text

    lineage, git = entry["lineage"], entry["lineage"].get("git", {})
    lines = [f"model       {entry['name']} version {entry['version']} ({entry['status']})",
             f"aliases     {', '.join(entry['aliases']) or '-'}",
             f"digest      {entry['digest']}",
             f"created     {entry['created_at']}",
             f"framework   {entry['framework'] or '-'} {entry['framework_version'] or ''}".rstrip()
             + (f" (the run used {used})" if (used := framework_used(state, ref)) else ""),
             f"description {entry['description'] or '-'}",
             (f"run         {lineage.get('run_id')} (job {lineage.get('job')}, fingerprint "
              f"{(lineage.get('fingerprint') or '')[:12]})"),
             f"git         {git_line(git or {})}"]
    if lineage.get("sweep"):  # registered `from: best`
        sweep = lineage["sweep"]
        lines.append(f"sweep       {sweep['id'][:12]} best trial {sweep['trial']} ({text(sweep.get('value'))})")
    lines += [f"{label:<11} {k} = {text(v)}" for label, section in (("tag", entry["tags"]), ("property", entry["properties"]),
                                                              ("resource", entry["resources"] or {}),
                                                              ("metric", lineage.get("metrics", {})))
              for k, v in section.items()]
    lines += [f"file        {rel} ({size} bytes)" for rel, _digest, size in files(state, resolve(state, ref))]
    print("\n".join(lines))
    return 0


@models_app.command()
def versions(name: NameArg, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Every version of a model, oldest first."""
    from runner.registry.views import versions as versions_of

    found = versions_of(read_state(project, file), name)
    if json:
        print_json(found)
        return 0
    for entry in found:
        print(f"{_row(entry)} {entry['created_at']}")
    return 0


@models_app.command()
def history(name: NameArg, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Every register, update, alias move and archive of a model, with its time and git commit."""
    from runner.registry.views import history as history_of

    events = history_of(read_state(project, file), name)
    if json:
        print_json(events)
        return 0
    from runner.cli.render import history_detail

    for event in events:
        version = f"v{event['version']}" if event["version"] is not None else "-"
        detail = history_detail(event["action"], event["detail"])
        print(f"{event['at']:<25} {event['action']:<9} {version:<5} {(event['commit'] or '-')[:8]:<9} {detail}")
    return 0


@models_app.command()
def download(ref: RefArg,
             to: Annotated[Path | None, typer.Option("--to", help="Folder (default: ./NAME-VERSION).")] = None,
             project: ProjectOpt = None, file: FileOpt = None, quiet: QuietOpt = False) -> int:
    """Write a version's files to a folder, verifying every digest."""
    from runner.cli.progress import shown
    from runner.registry.download import download as fetch

    with shown(quiet=quiet):
        version, folder, written = fetch(read_state(project, file), ref, to)
    print(f"wrote {len(written)} files of {version['name']} version {version['version']} to {folder}")
    return 0


@models_app.command()
def alias(name: NameArg, alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. production")],
          version: Annotated[int, typer.Argument(help="The version it points at.")],
          project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Point ALIAS at VERSION by hand (recorded in the history; apply never moves it silently)."""
    from runner.git.meta import git_metadata
    from runner.registry.alias import set_alias
    from runner.state import open_state

    proj = project_of(project, file)
    done = set_alias(open_state(proj, create=False), name, alias_name, version,
                     commit=git_metadata(proj.root).commit)
    was = f" (was version {done.previous})" if done.previous is not None else ""
    print(f"{done.name}@{done.alias} -> version {done.version}{was}")
    if alias_name in _declared_aliases(proj, name):
        print(f"note: train.yaml declares {alias_name!r} for {name}: the next apply moves it back to the "
              f"newest version (`runner plan` shows it)", file=sys.stderr)
    return 0


def _declared_aliases(proj: Any, name: str) -> tuple[str, ...]:
    from runner.spec import load

    try:
        model = load(proj).models.get(name)
    except Exception:  # noqa: BLE001 - an invalid train.yaml must not stop a hand-set alias
        return ()
    return model.aliases if model is not None else ()
