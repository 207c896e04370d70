"""`runner sweeps list|show`: hyperparameter sweeps and their trials."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from runner.cli.app import app
from runner.cli.common import FileOpt, JsonOpt, ProjectOpt, print_json, read_state

sweeps_app = typer.Typer(help="Hyperparameter sweeps: list them, show one's trials.", no_args_is_help=True)
app.add_typer(sweeps_app, name="sweeps")


@sweeps_app.command("list")
def list_(project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Every sweep, most recently run first: its job, trials done and best trial."""
    from runner.sweeps.views import list_sweeps

    sweeps = list_sweeps(read_state(project, file))
    if json:
        print_json(sweeps)
        return 0
    for sweep in sweeps:
        objective, top = sweep["objective"], sweep["best"]
        best = f"best {top['run_id']} {objective['primary_metric']} {top['value']:.4g}" if top else "no best yet"
        print(f"{sweep['job']:<16} {sweep['sweep_id'][:12]}  {sweep['sampling_algorithm']:<9} "
              f"{sweep['done']}/{sweep['max_total_trials'] or sweep['trials']} trials  "
              f"{objective['goal']} {objective['primary_metric']}  {best}")
    if not sweeps:
        print("no sweeps yet: add `sweep:` to a job and run `runner apply`")
    return 0


@sweeps_app.command()
def show(job: Annotated[str, typer.Argument(help="A job with a sweep (its latest sweep), or a sweep id prefix.")],
         project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """A sweep's trials sorted by the objective, best first (marked *): params, status, metric, duration."""
    from runner.sweeps.views import durations, show_sweep

    state = read_state(project, file)
    shown = show_sweep(state, job)
    if json:
        print_json(shown)
        return 0
    for line in _lines(shown, durations(state, shown)):
        print(line)
    return 0


def _lines(shown: dict[str, Any], seconds: dict[int, float | None]) -> list[str]:
    from runner.cli.render import param, text

    objective, top = shown["objective"], shown["best"]
    lines = [f"sweep {shown['sweep_id'][:12]} of job {shown['job']}: {shown['sampling_algorithm']}, "
             f"{objective['goal']} {objective['primary_metric']}, {len(shown['trials'])} trials",
             f"  {'trial':>5}  {'run':<14} {'status':<10} {objective['primary_metric'][:12]:>12} {'time':>7}  params"]
    for trial in shown["trials"]:
        mark = "*" if top and trial["run_id"] == top["run_id"] else " "
        value = "-" if trial["value"] is None else f"{trial['value']:.4g}"
        took = seconds.get(trial["trial"])
        params = ", ".join(f"{k}={param(v)}" for k, v in trial["params"].items())
        reason = f"  ({trial['reason']})" if trial["reason"] and trial["status"] != "completed" else ""
        lines.append(f"{mark} {trial['trial']:>5}  {text(trial['run_id']):<14} {trial['status']:<10} {value:>12} "
                     f"{'-' if took is None else f'{took:.1f}s':>7}  {params}{reason}")
    return lines
