"""Commands answered without Typer.

`runner snapshot JOB --json` is what scripts and hooks call, often once per job on every
commit, and for a no-op it is done in a few tens of milliseconds; `runner apply` is the
edit-and-rerun loop. Importing Typer and rich alone costs more than either's own work
(~0.1 s). So `runner.cli.main` asks `run` first. It recognises exactly

    runner snapshot [take] JOB [--json] [-q | --quiet] [-C DIR | --project DIR | --project=DIR]
                               [-f FILE | --file FILE | --file=FILE]
    runner apply [JOB ...] [--json] [-q | --quiet] [--prune] [-j N | --jobs N | --jobs=N]
                 [--force JOB | --force=JOB ...] [-C DIR] [-f FILE] [--ref REF] [--ca-bundle FILE]

(options in any order, each at most once but `--force`; the long value options also as
`--name=VALUE`) and returns None for anything else, which Typer then handles as it always
did: help, usage errors and every other spelling. The commands themselves (`snapshot_take`,
`runner.cli.apply_cmd.apply_command`) are the ones the Typer commands call too.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (it costs milliseconds here)
if TYPE_CHECKING:
    from os import PathLike
    from typing import Any

    from runner.project import Project

# The options that take a value, and the parameter each one sets.
_VALUE_OPTIONS = {"-C": "project", "--project": "project", "-f": "file", "--file": "file"}


def run(args: list[str]) -> int | None:
    """The exit code of a command answered here, or None: Typer must answer `args`."""
    command = _apply if args[:1] == ["apply"] else snapshot_take
    params = parse_apply(args) if command is _apply else parse_snapshot(args)
    if params is None:
        return None
    from runner.cli.errors import guarded

    return guarded(command, **params)


# `runner apply`'s options: flags, options that take a value (and the parameter each sets).
_APPLY_FLAGS = {"--json": "json", "-q": "quiet", "--quiet": "quiet", "--prune": "prune"}
_APPLY_VALUES = {"-C": "project", "--project": "project", "-f": "file", "--file": "file", "--ref": "ref",
                 "--ca-bundle": "ca_bundle", "-j": "parallel", "--jobs": "parallel", "--force": "force"}


def parse_apply(args: list[str]) -> dict[str, Any] | None:
    """The parameters of a plain `apply ...`, as the Typer command `apply` gets them, or None.

    None whenever Typer could answer differently: help, an unknown option, an option other
    than `--force` given twice, a missing or empty value or one that looks like an option,
    `--`, a job name that looks like an option, `--jobs` not a plain positive number.
    """
    if args[:1] != ["apply"]:
        return None
    params: dict[str, Any] = {"jobs": [], "parallel": None, "force": [], "prune": False, "project": None,
                              "file": None, "json": False, "ref": None, "ca_bundle": None, "quiet": False}
    seen: set[str] = set()
    rest, i = args[1:], 0
    while i < len(rest):
        token = rest[i]
        name, equals, attached = token.partition("=")
        if token in _APPLY_FLAGS:
            key, value = _APPLY_FLAGS[token], True
        elif equals and name.startswith("--") and name in _APPLY_VALUES:
            key, value = _APPLY_VALUES[name], attached
        elif token in _APPLY_VALUES and i + 1 < len(rest):
            i += 1
            key, value = _APPLY_VALUES[token], rest[i]
        elif not token.startswith("-"):
            params["jobs"].append(token)
            i += 1
            continue
        else:
            return None
        if (key in seen and key != "force") or (value is not True and (not value or value.startswith("-"))):
            return None
        if key == "parallel":
            if not (value.isascii() and value.isdigit() and value[0] != "0" and len(value) < 7):
                return None
            value = int(value)
        seen.add(key)
        if key == "force":
            params["force"].append(value)
        else:
            params[key] = value
        i += 1
    return params


def _apply(**params: Any) -> int:
    import contextlib

    from runner.cli.apply_cmd import apply_command

    with contextlib.ExitStack() as resources:  # a --ref export, removed when the command ends
        return apply_command(**params, hold=resources.enter_context)


def parse_snapshot(args: list[str]) -> dict[str, Any] | None:
    """`{job, project, file, json, quiet}` of a plain `snapshot [take] JOB ...`, or None.

    None whenever Typer could answer differently: help, an unknown option, an option given
    twice, a missing value or one that looks like an option, `--`, a second positional, or
    `diff`/`take` as JOB without `take` (the group reads those as its subcommands).
    """
    if args[:1] != ["snapshot"]:
        return None
    rest = args[1:]
    explicit = rest[:1] == ["take"]
    if explicit:
        rest = rest[1:]
    params: dict[str, Any] = {"job": None, "project": None, "file": None, "json": False, "quiet": False}
    seen = set()
    i = 0
    while i < len(rest):
        token = rest[i]
        name, equals, attached = token.partition("=")
        if token == "--json":
            key, value = "json", True
        elif token in ("-q", "--quiet"):
            key, value = "quiet", True
        elif equals and name in ("--project", "--file"):
            key, value = _VALUE_OPTIONS[name], attached
        elif token in _VALUE_OPTIONS and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
            i += 1
            key, value = _VALUE_OPTIONS[token], rest[i]
        elif not token.startswith("-") and "job" not in seen:
            key, value = "job", token
        else:
            return None
        if key in seen:
            return None
        seen.add(key)
        params[key] = value
        i += 1
    if "job" not in seen or (not explicit and params["job"] in ("diff", "take")):
        return None
    return params


def snapshot_take(job: str, project: str | PathLike[str] | None = None, file: str | PathLike[str] | None = None,
                  json: bool = False, quiet: bool = False) -> int:
    """`runner snapshot [take] JOB`: snapshot JOB's code folder; print its digest, files, size
    and excluded top-level entries. Progress of a long walk or hashing goes to stderr (not `quiet`)."""
    from runner.cli.progress import shown
    from runner.cli.render import human_bytes, print_json, print_warnings
    from runner.snapshot import take_snapshot
    from runner.state import open_state

    proj, spec = job_of(project, file, job)
    with open_state(proj) as state, shown(json=json, quiet=quiet):
        snap = take_snapshot(proj.root_path, spec.jobs[job].code, state, job=job, limits=spec.snapshot,
                             omit=proj.snapshot_omit, files=False)
    print_warnings(snap.warnings)
    if json:
        print_json(snap.as_json())
        return 0
    # Plain print: the text has no markup to render (file names with brackets stay as they are).
    print(f"job {job}: snapshot {snap.digest}")
    print(f"  {snap.count} file{'' if snap.count == 1 else 's'}, {human_bytes(snap.bytes)} ({snap.hashed} hashed)")
    print(f"  excluded: {', '.join(snap.excluded) or 'nothing'}")
    return 0


def job_of(project: str | PathLike[str] | None, file: str | PathLike[str] | None,
           job: str) -> tuple[Project, Any]:
    """The project, its spec, and a clear error if `job` is not one of its jobs."""
    from runner.cli.opening import project_of
    from runner.errors import RunnerError
    from runner.spec import load

    proj = project_of(project, file)
    spec = load(proj)
    if job not in spec.jobs:
        names = ", ".join(sorted(spec.jobs)) or "none"
        raise RunnerError(f"unknown job {job!r}; jobs in {proj.display}: {names}")
    return proj, spec
