"""`runner plan` and `runner apply`."""

from __future__ import annotations

import sys
import threading
from typing import Annotated, Any

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
)

JobsArg = Annotated[list[str] | None, typer.Argument(help="Limit to these jobs and what they need.",
                                                       show_default=False)]
RefOpt = Annotated[str | None, typer.Option(
    "--ref", help="Use this commit's tree (sha, branch, tag), not the working tree.", show_default=False)]
PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Archive registered models that are no longer in train.yaml (never deletes them).")]


def _open(project: Any, file: Any, *, create: bool, ref: str | None = None,
          ctx: typer.Context | None = None) -> tuple[Any, Any, Any, Any]:
    """(project, spec, state, git metadata or None); with `ref`, the project is that commit's export,
    removed when the command ends (click closes the context's resources, on errors and Ctrl-C too)."""
    from runner.errors import RunnerError, SpecError
    from runner.spec import load
    from runner.state import open_state

    proj, git = project_of(project, file), None
    if ref is not None and not ref.strip():  # `--ref $SHA` with SHA unset in a CI script
        raise RunnerError("--ref was given an empty value: pass a commit sha, branch or tag")
    if ref is not None and ctx is not None:
        from runner.git.reftree import ref_tree

        tree = ctx.with_resource(ref_tree(proj, ref))
        proj, git = tree.project, tree.git
    try:
        spec = load(proj)
    except SpecError as exc:
        if ref is None or not any("does not exist" in p.message for p in exc.problems):
            raise
        raise RunnerError(f"{exc}\n(--ref {ref} reads only the files that commit tracks: git-ignored and "
                          f"uncommitted files are not part of it)") from None
    return proj, spec, open_state(proj, create=create), git


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
    from runner.cli.progress import shown
    from runner.cli.render import print_plan, print_warnings
    from runner.reconcile.planner import make_plan

    proj, spec, state, _git = _open(project, file, create=False, ref=ref, ctx=ctx)
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
    import signal

    from runner.cli.progress import shown
    from runner.cli.render import apply_summary
    from runner.envs.ca_bundle import set_ca_bundle
    from runner.interrupts import stop_signals_interrupt
    from runner.reconcile.apply import apply as do_apply

    set_ca_bundle(ca_bundle)  # exported as RUNNER_CA_BUNDLE: docker env builds copy it into the image
    proj, spec, state, git = _open(project, file, create=True, ref=ref, ctx=ctx)
    events = _events(json, parallel, frozenset(name for name, job in spec.jobs.items() if job.sweep is not None))
    # CI cancelling a build, `docker stop`, a closed terminal: cancel the runs like Ctrl-C does.
    with shown(json=json, quiet=quiet) as progress, stop_signals_interrupt(signal.SIGTERM, signal.SIGHUP):
        events = progress.around(events, state.layout.run_dir) if progress else events  # heartbeats
        result = do_apply(proj, spec, state, targets=jobs or (), force=force or (), jobs=parallel,
                          events=events, git=git, prune=prune)
    if json:
        print_json(result.as_json())
    elif result.outcomes or not all(m.ok for m in result.models):
        print(apply_summary(list(result.outcomes), list(result.models)))
    return 0 if result.ok else 1


def _events(json: bool, parallel: int | None, swept: frozenset[str] = frozenset()) -> Any:
    from runner.cli.render import model_line, outcome_line, print_plan
    from runner.reconcile.results import ApplyEvents

    out = _Terminal(sys.stderr if json else sys.stdout)
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            out.write(text + "\n")
            out.flush()

    def line(job: str, text: str) -> None:
        say(f"[{job}] {text}" if (parallel or 1) > 1 or job in swept else text)

    return ApplyEvents(
        plan=lambda p: print_plan(p, stream=out),
        line=line,
        started=lambda job, run_id: say(f"▶ {run_id} running"),
        ended=lambda outcome: say(outcome_line(outcome)),
        note=lambda message: say(f"! {message}"),
        model=lambda outcome: say(model_line(outcome)),
    )


class _Terminal:
    """Progress output that outlives its reader: once `| head` or a dropped SSH session closes
    the pipe, lines are dropped (the runs' logs keep them) and the runs go on."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.closed = stream, False

    def write(self, text: str) -> None:
        self._guard(self.stream.write, text)

    def flush(self) -> None:
        self._guard(self.stream.flush)

    def _guard(self, call: Any, *args: Any) -> None:
        if self.closed:
            return
        try:
            call(*args)
        except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
            self.closed = True
