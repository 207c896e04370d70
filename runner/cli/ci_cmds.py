"""`runner ci init`: a CI workflow that applies every pushed commit."""

from __future__ import annotations

from typing import Annotated

import typer

from runner.cli.app import app
from runner.cli.common import FileOpt, ProjectOpt, project_of

ci_app = typer.Typer(help="Continuous integration: apply each pushed commit.", no_args_is_help=True)
app.add_typer(ci_app, name="ci")


@ci_app.command()
def init(provider: Annotated[str, typer.Option("--provider", help="github or gitlab.")] = "github",
         force: Annotated[bool, typer.Option("--force", help="Overwrite an existing workflow file.")] = False,
         project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Write .github/workflows/runner.yml (or .gitlab-ci.yml) running `runner apply --ref $SHA`."""
    from runner.triggers.ci import init_ci

    path = init_ci(project_of(project, file), provider=provider, force=force)
    print(f"wrote {path}: commit it; each push then applies train.yaml at that commit")
    return 0
