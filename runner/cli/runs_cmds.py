"""`runner runs list|show|logs|metrics|download|diff`: the run history."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from runner.cli.app import app
from runner.cli.common import (
    FileOpt,
    JsonOpt,
    LongFileOpt,
    ProjectOpt,
    print_json,
    project_of,
    read_state,
)

runs_app = typer.Typer(help="The run history: list, show, logs, metrics, download, diff.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

RefArg = Annotated[str, typer.Argument(help="A run id (train-3) or a job name (its latest run).")]


@runs_app.command("list")
def list_(job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
          status: Annotated[str | None, typer.Option("--status", help="Only runs in this status.")] = None,
          project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Runs, newest first."""
    from runner.runs.views import list_runs

    damaged: list[str] = []
    runs = list_runs(read_state(project, file), job=job, status=status, damaged=damaged)
    for run_id in damaged:
        print(f"runner: run {run_id} is left out: its row in state.db cannot be read (text that is not "
              f"UTF-8, or damaged JSON); `runner doctor` checks the rest", file=sys.stderr)
    if json:
        print_json(runs)
        return 0
    for run in runs:
        commit = (run["git"]["commit"] or "")[:8]
        print(f"{run['id']:<16} {run['status']:<10} {run['created_at']:<25} {commit:<9} {run['fingerprint'][:12]}")
    if not runs:
        print("no runs yet: run `runner apply`")
    return 0


@runs_app.command()
def show(ref: RefArg, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """One run: status, params, metrics, outputs, why it ran."""
    from runner.runs.views import resolve
    from runner.runs.views import show as show_run

    state = read_state(project, file)
    found = resolve(state, ref)
    run = show_run(state, found["id"], _live_masker(project, file, state, found))
    if json:
        run.pop("git_full", None)
        print_json(run)
        return 0
    from runner.cli.render import git_line, param, text

    git = run.pop("git_full")
    lines = [f"run        {run['id']} ({run['status']}, exit code {text(run['exit_code'])})",
             f"job        {run['job']}  experiment {run['experiment']}",
             f"why        {'; '.join(run['reasons'])}",
             f"created    {run['created_at']}  started {text(run['started_at'])}  ended {text(run['ended_at'])}",
             f"git        {git_line(git)}",
             f"snapshot   {text(run['snapshot'])}", f"fingerprint {run['fingerprint']}"]
    if run["error"]:
        lines.append(f"error      {run['error']}")
    if run["sweep"]:
        lines.append(f"sweep      {run['sweep']['id'][:12]} trial {run['sweep']['trial']}")
    lines += [f"param      {k} = {param(v)}" for k, v in run["params"].items()]
    lines += [f"metric     {k} = {text(v)}" for k, v in run["metrics"].items()]
    lines += [f"output     {o['path']} ({o['size']} bytes, {o['digest'][:12]})" for o in run["outputs"]]
    print("\n".join(lines))
    return 0


RankOpt = Annotated[int | None, typer.Option("--rank", min=0, help="One process of a distributed run.")]


@runs_app.command()
def logs(ref: RefArg, follow: Annotated[bool, typer.Option("-f", "--follow", help="Follow until the run ends.")] = False,
         rank: RankOpt = None, project: ProjectOpt = None, file: LongFileOpt = None) -> int:
    """The run's log (logs/std_log.txt; a distributed run's ranks prefixed `[rank N]`), or one rank's."""
    from runner.runs.store import ACTIVE
    from runner.runs.views import log_path, log_rewriter, resolve, shown_log

    state = read_state(project, file)
    run = resolve(state, ref)
    if not follow or run["status"] not in ACTIVE:
        sys.stdout.buffer.write(shown_log(state, run, rank))
        return 0
    if run.get("remote_id"):  # a run on a cluster: its job's log from there (it lives without its runner)
        from runner.compute.ray import follow_logs
        from runner.reconcile.context import job_masker

        follow_logs(run["remote"], _write, job_masker(project_of(project, file), state, run["job"]))
        return 0
    _follow(log_path(state, run, rank), lambda: resolve(state, run["id"])["status"] in ACTIVE, log_rewriter(state, run))
    return 0


def _write(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def _follow(path: Path, active: Any, rewrite: Any) -> None:
    from runner.runs.paths import rewrite_bytes

    offset, partial = 0, b""
    while True:
        still = active()
        if path.exists():
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            # Whole lines only while it runs (a path cut in two would not be recognised).
            buffered = partial + chunk
            cut = buffered.rfind(b"\n") + 1 if still else len(buffered)
            text, partial = buffered[:cut], buffered[cut:]
            sys.stdout.buffer.write(rewrite_bytes(text, rewrite))
            sys.stdout.flush()
        if not still:
            return
        time.sleep(0.2)


@runs_app.command()
def metrics(ref: RefArg, rank: RankOpt = None,
            all_ranks: Annotated[bool, typer.Option("--all-ranks", help="Every rank's points, each with its rank.")]
            = False, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """Metric series logged with runner.tracking (live while the run goes on); rank 0's of a distributed run."""
    from runner.errors import RunnerError
    from runner.runs.views import metrics as series_of
    from runner.runs.views import resolve

    if all_ranks and rank is not None:
        raise RunnerError("give --rank N or --all-ranks, not both")
    state = read_state(project, file)
    run = resolve(state, ref)
    series = series_of(state, run["id"], None if all_ranks else rank or 0, _live_masker(project, file, state, run))
    if json:
        print_json(series)
        return 0
    if all_ranks:
        _print_by_rank(series)
        return 0
    for name, points in series.items():
        # NaN and infinities print as Python spells them: nan, inf, -inf.
        values = ", ".join(f"{p['value']:g}" if isinstance(p["value"], float) else str(p["value"]) for p in points[-10:])
        shown = f"{len(points)} points" if len(points) <= 10 else f"last 10 of {len(points)} points"
        print(f"{name:<20} last {points[-1]['value']}  ({shown}: {values})")
    return 0


def _live_masker(project: Any, file: Any, state: Any, run: dict[str, Any]) -> Any:
    """The job's secret values for a run still going (what its script wrote is not masked until
    it is collected); None for an ended run."""
    from runner.runs.store import ACTIVE

    if run["status"] not in ACTIVE:
        return None
    from runner.reconcile.context import job_masker

    return job_masker(project_of(project, file), state, run["job"])


def _print_by_rank(series: dict[str, list[dict[str, Any]]]) -> None:
    for name, points in series.items():
        for rank in sorted({p["rank"] for p in points}):
            mine = [p for p in points if p["rank"] == rank]
            print(f"{name:<20} rank {rank:<3} last {mine[-1]['value']}  ({len(mine)} points)")


@runs_app.command()
def download(ref: RefArg, to: Annotated[Path | None, typer.Option("--to", help="Folder (default: ./RUN_ID).")] = None,
             project: ProjectOpt = None, file: FileOpt = None) -> int:
    """Write a run's outputs/ and logs/ to a folder, verifying every digest."""
    from runner.runs.views import download as fetch
    from runner.runs.views import resolve

    state = read_state(project, file)
    run = resolve(state, ref)
    dest = to or Path(run["id"])
    written = fetch(state, run["id"], dest)
    print(f"wrote {len(written)} files of {run['id']} to {dest}")
    return 0


@runs_app.command()
def diff(a: RefArg, b: RefArg, project: ProjectOpt = None, file: FileOpt = None, json: JsonOpt = False) -> int:
    """What differs between two runs: params, metrics, code, environment, commit."""
    from runner.runs.views import diff as diff_runs

    result = diff_runs(read_state(project, file), a, b)
    if json:
        print_json(result)
        return 0
    left, right = result["runs"]
    print(f"--- {left}\n+++ {right}")
    for section, label in (("params", "param"), ("inputs", "input"), ("metrics", "metric")):
        for key, (old, new) in result[section].items():
            if section == "inputs":
                old, new = (str(v)[:12] if v else "none" for v in (old, new))
            print(f"{label} {key}: {old} -> {new}")
    for what, paths in result["snapshot"].items():
        for path in paths:
            print(f"code {what}: {path}")
    for section in ("environment", "git"):
        if result[section]:
            print(f"{section}: {result[section][0]} -> {result[section][1]}")
    return 0
