"""The Typer application: each command module adds its commands here; errors are caught once."""

from __future__ import annotations

import typer

from runner.cli.errors import guarded, interrupted

app = typer.Typer(
    name="runner",
    help="Reconcile ML training runs and registered models with train.yaml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from runner import __version__

        print(f"runner {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """runner: plan and apply training runs like infrastructure."""


# Which module defines each top-level command. Each module decorates `app` when imported;
# only the invoked command's module is imported, so `runner apply` does not pay for the rest.
COMMAND_MODULES = {
    "validate": "spec_cmds", "schema": "spec_cmds", "init": "spec_cmds",
    "plan": "run_cmds", "apply": "run_cmds", "watch": "watch_cmds",
    "runs": "runs_cmds", "sweeps": "sweeps_cmds", "models": "models_cmds", "envs": "envs_cmds",
    "snapshot": "state_cmds", "gc": "state_cmds", "doctor": "state_cmds", "hook": "hook_cmds", "ci": "ci_cmds",
}


def _register_commands(args: list[str]) -> None:
    """Import the module of the command in `args`, or every module (help, a mistyped command)."""
    import importlib

    wanted = COMMAND_MODULES.get(args[0]) if args else None
    for module in [wanted] if wanted else dict.fromkeys(COMMAND_MODULES.values()):
        importlib.import_module(f"runner.cli.{module}")


def run(args: list[str]) -> int:
    return guarded(_invoke, args)


def _invoke(args: list[str]) -> int:
    """Parse and run `args` with Typer; what the parser itself raises becomes an exit code here,
    the rest (RunnerError, interrupts, bugs) in runner.cli.errors, as for the Typer-free path."""
    _register_commands(args)
    try:
        result = app(args=args, prog_name="runner", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return interrupted()
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # a usage error from the parser
            exc.show()
            return int(exc.exit_code)
        raise
    return result if isinstance(result, int) else 0
