"""Options every command shares, and the two consoles (stdout for results, stderr for the rest)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runner.cli.opening import project_of, say_where  # noqa: F401 (commands import them from here)
from runner.cli.render import print_json  # noqa: F401 (commands import it from here)

if TYPE_CHECKING:
    from runner.state import State

ProjectOpt = Annotated[Path | None, typer.Option(
    "-C", "--project", help="Project folder (default: the current folder, else the nearest one above it with a "
    "train.yaml, up to the git top).", show_default=False)]
FileOpt = Annotated[Path | None, typer.Option(
    "-f", "--file", help="The spec file (default: train.yaml in the project folder).", show_default=False)]
# For commands where `-f` means something else (`runs logs -f` follows, like `tail -f`).
LongFileOpt = Annotated[Path | None, typer.Option(
    "--file", help="The spec file (default: train.yaml in the project folder).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]
# runner.cli.progress: what long work shows on stderr (a live line on a terminal, else a plain line).
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Show no progress of long work on stderr.")]
# Sets RUNNER_CA_BUNDLE for this process: docker image builds copy the bundle in (runner.envs.ca_bundle).
CaBundleOpt = Annotated[Path | None, typer.Option(
    "--ca-bundle", help="CA bundle (PEM) image builds trust, for a TLS-inspecting proxy. "
    "Default: $RUNNER_CA_BUNDLE, else $SSL_CERT_FILE / $REQUESTS_CA_BUNDLE / $PIP_CERT.", show_default=False)]


def stdout() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def read_state(project: Path | None, file: Path | None) -> State:
    """The project's state for a read-only command (nothing is created when there is none yet)."""
    from runner.state import open_state

    return open_state(project_of(project, file), create=False)
