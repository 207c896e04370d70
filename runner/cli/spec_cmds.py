"""`runner validate`, `runner schema`, `runner init`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from runner.cli.app import app
from runner.cli.common import (
    FileOpt,
    JsonOpt,
    ProjectOpt,
    print_json,
    project_of,
    stdout,
)


@app.command()
def validate(project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Check train.yaml and print every problem with its line and column."""
    from runner.spec import check

    proj = project_of(project, file)
    result = check(proj)
    if json:
        print_json({"valid": result.valid, "errors": [p.as_json() for p in result.problems]})
    elif result.valid:
        stdout().print(f"{proj.display}: {result.summary()}: valid")
    else:
        for problem in result.problems:
            print(problem.format())
    return 0 if result.valid else 1


@app.command()
def schema(project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Print the JSON Schema of train.yaml (editors use it through the $schema comment)."""
    from runner.spec.schema import schema_text

    print(schema_text(), end="")
    return 0


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder to create (default: -C or the current folder).")] = None,
    template: Annotated[str, typer.Option("--template", "-t", help="minimal | sklearn | pytorch")] = "minimal",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    project: ProjectOpt = None,
    file: FileOpt = None,
) -> int:
    """Write a starter project: train.yaml, a training script, .runnerignore, .gitignore."""
    from runner.scaffold import init_project

    dest = directory if directory is not None else (project or Path("."))
    written = init_project(dest, template=template, force=force)
    here = dest.resolve() == Path.cwd().resolve()
    shown = "." if here else shlex.quote(str(dest))
    lines = [f"  wrote {path}" for path in written]
    lines += [f"Initialised a {template} project in {shown}",
              "Next: runner validate" + ("" if here else f" -C {shown}")]
    out = stdout()
    for line in lines:  # folder names are text, not rich markup or :emoji: codes
        out.print(line, markup=False, emoji=False)
    return 0
