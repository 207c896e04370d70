"""`runner snapshot JOB` and `runner apply` answered without Typer (runner.cli.hot): whatever
argv its parsers accept, Typer reads the same way; everything else is left to Typer; Typer is
not imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import example, given, settings
from hypothesis import strategies as st

import runner.cli.run_cmds  # noqa: F401 (adds plan and apply to the app)
import runner.cli.state_cmds  # noqa: F401 (adds the snapshot commands to the app)
from runner.cli.app import app
from runner.cli.hot import parse_apply, parse_snapshot
from tests.conftest import ProjectDir, run_console


def typer_params(argv: list[str]) -> dict[str, Any]:
    """The parameters Typer's parser gives the command `argv` resolves to, and its name."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("runner", list(argv))
    while hasattr(command, "resolve_command"):  # a group: resolve its subcommand, as Group.invoke does
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
        name, command, rest = command.resolve_command(ctx, [*protected, *ctx.args])
        ctx = command.make_context(name, rest, parent=ctx)
    return {"command": ctx.command.name, **ctx.params}


def assert_same_as_typer(argv: list[str]) -> None:
    hot = parse_snapshot(argv)
    assert hot is not None
    typed = typer_params(argv)
    assert typed["command"] == "take"
    assert {key: typed[key] for key in hot} == hot  # paths as given: Typer makes them a Path later


VALUES = ["d", "sub/dir", "take", "diff", "", "a=b", "x y", "-", "--json", "-C"]
FLAGS = {"--json", "--quiet", "-q"}
OPTIONS = {"--json": "json", "--quiet": "quiet", "-q": "quiet", "-C": "project",
           "--project": "project", "--project=": "project",
           "-f": "file", "--file": "file", "--file=": "file"}
JOBS = ["train", "my-job", "x y", "diff", "take"]
JUNK = ["--help", "-h", "-x", "--", "--json=1", "--projec", "-Cd", "-C=d", "--no-json", "--json", "-C", "--file"]


@st.composite
def argvs(draw: Any) -> list[str]:
    """`snapshot [take]`, then in any order: options with a value (separate or after `=`),
    jobs and junk (help, unknown options, `--`, a repeated option, one without its value).
    Weighted so that a good share is a command the hot path accepts."""
    head = draw(st.sampled_from([["snapshot"]] * 3 + [["snapshot", "take"]] * 2 + [["take"], []]))
    pieces = []
    for option in draw(st.lists(st.sampled_from(list(OPTIONS)), max_size=3, unique_by=OPTIONS.get)):
        value = draw(st.sampled_from(VALUES))
        pieces.append([option] if option in FLAGS else [option + value] if option.endswith("=") else [option, value])
    pieces += [[draw(st.sampled_from(JOBS))] for _ in range(draw(st.sampled_from([1, 1, 1, 1, 0, 2])))]
    pieces += [[draw(st.sampled_from(JUNK))] for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2])))]
    return head + [token for piece in draw(st.permutations(pieces)) for token in piece]


@settings(max_examples=300)
@given(argvs())
@example(["snapshot", "-C", "take", "train"])  # `take` as a value, not as the subcommand
@example(["snapshot", "take", "take", "--project=", "--json"])
@example(["snapshot", "--file=a=b", "x y"])
def test_whatever_the_hot_parser_accepts_typer_reads_the_same(argv: list[str]) -> None:
    if parse_snapshot(argv) is not None:
        assert_same_as_typer(argv)


@given(job=st.sampled_from(JOBS), take=st.booleans(), at=st.integers(0, 3),
       options=st.permutations([["--json"], ["-C", "d"], ["--file=t.yaml"], ["--quiet"]]), count=st.integers(0, 4))
def test_every_plain_spelling_is_answered_without_typer(job: str, take: bool, at: int, options: list[list[str]],
                                                         count: int) -> None:
    take = take or job in ("diff", "take")  # those jobs need an explicit `take`
    pieces = [*options[:count]]
    pieces.insert(min(at, count), [job])
    assert_same_as_typer(["snapshot", *(["take"] if take else []), *[t for piece in pieces for t in piece]])


@pytest.mark.parametrize("argv", [
    [], ["snapshot"], ["snapshot", "take"], ["snapshot", "--help"], ["snapshot", "train", "--help"],
    ["snapshot", "train", "-h"], ["snapshot", "diff", "train"], ["snapshot", "--json", "diff"],
    ["snapshot", "take", "--", "train"], ["snapshot", "train", "-x"], ["snapshot", "train", "--json=1"],
    ["snapshot", "train", "-C"], ["snapshot", "train", "--file"], ["snapshot", "train", "-C", "--json"],
    ["snapshot", "train", "--json", "--json"], ["snapshot", "train", "-C", "a", "--project=b"],
    ["snapshot", "train", "other"], ["snapshot", "-Cdir", "train"], ["snapshot", "-", "--json"],
    ["runs", "list"], ["--version", "snapshot", "train"], ["gc"],
])
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse_snapshot(argv) is None


SPEC = "version: 1\njobs:\n  train:\n    code: src\n    command: python train.py\n"


@pytest.fixture
def proj(project: ProjectDir) -> ProjectDir:
    project.gen({"train.yaml": SPEC, "src": {"train.py": "print(1)\n", "util.py": "u = 1\n"}})
    return project


def _imported(stderr: str) -> set[str]:
    """Module names from `-X importtime` lines (`import time: self | cumulative | name`)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_snapshot_json_imports_no_typer(proj: ProjectDir) -> None:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # -X importtime, through the console script
    # nor the drawing of progress (runner.cli.progress_view, rich), nor its clock thread
    never = {"typer", "click", "rich", "runner.cli.app", "runner.cli.progress_view"}
    drawing = {"runner.cli.tracker", "threading"}  # nothing was slow: no progress machinery
    # The first run validates train.yaml (pydantic) and creates .runner/, the second caches the
    # spec there; the third is the no-op a hook runs on every commit: spec cached, snapshot recorded,
    # nothing hashed; the fourth follows an edit. `runner` is installed as a plain script (see
    # scripts/runner), so `re` comes in only with json or an ignore pattern's regex.
    cached = {"pydantic", "ruamel", "ruamel.yaml", "re", "json", "typing", "pathlib", "dataclasses"}
    for edit, also_not in ((False, set()), (False, set()), (False, cached | {"hashlib"} | drawing), (True, cached)):
        if edit:
            (proj / "src" / "util.py").write_text("u = 2\n")
        done = run_console("snapshot", "train", "--json", cwd=proj.root, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["files"] == 2
        imported = _imported(done.stderr)
        assert "runner.cli.hot" in imported  # the profile is really there
        assert imported.isdisjoint(never | also_not), imported & (never | also_not)


# What runner's own modules on that path load: the project, the cached spec, the state.
# (The snapshot itself is runner.snapshot's business, measured by benchmarks/.)
OWN_HOT_PATH = """
import sys
from runner.cli.hot import job_of
from runner.state import open_state
proj, spec = job_of(None, None, "train")
with open_state(proj) as state:
    pass
print(" ".join(sorted(set(sys.modules) & set(sys.argv[1:]))))
"""
HEAVY = ["typer", "click", "rich", "pydantic", "ruamel", "filelock", "jinja2", "docker", "tempfile", "shutil",
         "inspect", "dataclasses", "typing", "urllib", "ast", "pathlib", "runner.spec.source", "runner.spec.checks"]


def test_the_hot_path_modules_import_nothing_heavy(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):  # the second run caches the spec (.runner/ exists by then)
        assert cli("snapshot", "train", "-C", proj.root).code == 0
    done = subprocess.run([sys.executable, "-c", OWN_HOT_PATH, *HEAVY], cwd=proj.root, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == []


def test_hot_path_prints_what_typer_printed(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    """The human output of the hot path and the Typer path (`--file` twice: Typer only) match."""
    assert cli("snapshot", "train", "-C", proj.root).code == 0  # record it: both below are no-ops
    hot = cli("snapshot", "train", "-C", proj.root)
    typed = cli("snapshot", "train", "-C", proj.root, "--file", "x.yaml", "--file", "train.yaml")
    assert (hot.code, typed.code) == (0, 0)
    assert hot.out == typed.out
    assert hot.out.splitlines()[1:] == ["  2 files, 15 B (0 hashed)", "  excluded: nothing"]


def test_hot_path_errors_end_like_typer_ones(proj: ProjectDir) -> None:
    unknown = run_console("snapshot", "nope", "--json", cwd=proj.root)
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == "unknown job 'nope'; jobs in train.yaml: train\n"
    missing = run_console("snapshot", "train", "-C", proj.root / "gone")
    assert missing.returncode == 1 and missing.stderr.strip().endswith("gone: no such folder")
    usage = run_console("snapshot", "train", "--nope", cwd=proj.root)  # left to Typer: its usage error
    assert usage.returncode == 2 and "No such option" in usage.stderr


def test_the_console_script_ends_cleanly_with_stdout_closed_or_gone(proj: ProjectDir) -> None:
    """The hot path ends with os._exit after flushing: a closed descriptor (`>&-`) or a
    reader that went away must not turn into a traceback or lose the exit code."""
    closed = run_console("snapshot", "train", cwd=proj.root, stdout=None, preexec_fn=lambda: os.close(1))
    assert (closed.returncode, closed.stderr) == (0, "")
    failed = run_console("snapshot", "nope", cwd=proj.root, stdout=None, preexec_fn=lambda: os.close(1))
    assert (failed.returncode, failed.stderr) == (1, "unknown job 'nope'; jobs in train.yaml: train\n")
    exe = [sys.executable, "-c", "import sys; from runner.cli import main; sys.exit(main())", "snapshot", "train"]
    piped = subprocess.Popen(exe, cwd=proj.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    piped.stdout.close()  # type: ignore[union-attr]
    # 1 if the output met the closed pipe (as for any command), 0 if it was written first
    assert piped.wait(timeout=60) in (0, 1) and piped.stderr.read() == b""  # type: ignore[union-attr]


APPLY_OPTIONS = ["--json", "--quiet", "-q", "--prune", "-C", "--project", "--project=", "-f", "--file", "--file=",
                 "--ref", "--ref=", "--ca-bundle", "--ca-bundle=", "-j", "--jobs", "--jobs=", "--force", "--force="]
APPLY_FLAGS = {"--json", "--quiet", "-q", "--prune"}
APPLY_VALUES = ["train", "d", "x y", "a=b", "", "-", "--json", "3", "1", "0", "007", "+2", " 4", "12345678", "٣",
                "HEAD~1", "apply"]
APPLY_JUNK = ["--help", "-h", "-x", "--", "--json=1", "-j3", "-Cd", "-qj", "--jobs=", "--no-prune", "--forc"]


@st.composite
def apply_argvs(draw: Any) -> list[str]:
    """`apply`, then in any order: options (with values separate or after `=`, repeats too),
    job names, and junk; weighted so that a good share is a command the hot path accepts."""
    pieces = []
    for option in draw(st.lists(st.sampled_from(APPLY_OPTIONS), max_size=4)):
        value = draw(st.sampled_from(APPLY_VALUES))
        pieces.append([option] if option in APPLY_FLAGS else [option + value] if option.endswith("=")
                      else [option, value])
    pieces += [[draw(st.sampled_from(JOBS))] for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2])))]
    pieces += [[draw(st.sampled_from(APPLY_JUNK))] for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1])))]
    head = draw(st.sampled_from([["apply"]] * 6 + [["plan"], []]))
    return head + [token for piece in draw(st.permutations(pieces)) for token in piece]


def _typer_apply(argv: list[str]) -> dict[str, Any]:
    typed = typer_params(argv)
    assert typed.pop("command") == "apply"
    return {**typed, "jobs": list(typed["jobs"]), "force": list(typed["force"])}


@settings(max_examples=400)
@given(apply_argvs())
@example(["apply", "--force", "a", "train", "--force=b", "-j", "2"])
@example(["apply", "--jobs=1", "--ref=HEAD~1", "--ca-bundle", "x y"])
@example(["apply", "-C", "apply", "apply"])
def test_whatever_the_hot_apply_parser_accepts_typer_reads_the_same(argv: list[str]) -> None:
    hot = parse_apply(argv)
    if hot is not None:
        assert _typer_apply(argv) == hot  # paths as given: Typer makes them a Path later


@given(jobs=st.lists(st.sampled_from(JOBS), max_size=2), parallel=st.integers(1, 64),
       options=st.permutations([["--json"], ["-C", "d"], ["--file=t.yaml"], ["-q"], ["--prune"], ["--ref", "HEAD"],
                                ["--force", "train"], ["--force=other"], ["--ca-bundle=ca.pem"]]),
       count=st.integers(0, 9), at=st.integers(0, 9))
def test_every_plain_apply_spelling_is_answered_without_typer(jobs: list[str], parallel: int, options: list[list[str]],
                                                               count: int, at: int) -> None:
    pieces = [*options[:count], ["-j", str(parallel)], *[[job] for job in jobs]]
    argv = ["apply", *[t for piece in pieces[at:] + pieces[:at] for t in piece]]
    hot = parse_apply(argv)
    assert hot is not None, argv
    assert _typer_apply(argv) == hot


@pytest.mark.parametrize("argv", [
    ["apply", "--help"], ["apply", "-h"], ["apply", "--"], ["apply", "-j", "0"], ["apply", "-j", "-1"],
    ["apply", "-j"], ["apply", "--jobs=x"], ["apply", "-j3"], ["apply", "-C"], ["apply", "-C", "--json"],
    ["apply", "--json", "--json"], ["apply", "-C", "a", "--project=b"], ["apply", "--ref="], ["apply", "-x"],
    ["apply", "--force"], ["apply", "-"], ["plan"], ["apply", "--ca-bundle", ""],
])
def test_any_other_apply_is_left_to_typer(argv: list[str]) -> None:
    assert parse_apply(argv) is None


def test_apply_imports_no_typer_and_prints_what_typer_printed(proj: ProjectDir, cli) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    first = run_console("apply", cwd=proj.root, env=env)
    assert first.returncode == 0, first.stderr
    assert "runner.cli.hot" in _imported(first.stderr)
    assert _imported(first.stderr).isdisjoint({"typer", "click", "runner.cli.app"})
    assert "train-1 completed" in first.stdout
    hot = run_console("apply", "--force", "train", cwd=proj.root)
    typed = run_console("apply", "--force", "train", "-C", proj.root, "-C", proj.root)  # a repeat: Typer's
    assert (hot.returncode, typed.returncode) == (0, 0)
    assert hot.stdout.replace("train-2", "train-N") == typed.stdout.replace("train-3", "train-N")
    usage = run_console("apply", "-j", "0", cwd=proj.root)
    assert usage.returncode == 2 and "Invalid value for '--jobs'" in usage.stderr


def test_the_installed_apply_leaves_every_run_in_state_db_itself(proj: ProjectDir, tmp_path: Path) -> None:
    """It ends its process without the interpreter's teardown (nor SQLite's last-close
    checkpoint): state.db copied alone, without its -wal, still has the run."""
    import sqlite3

    done = run_console("apply", cwd=proj.root)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "copy.db"
    copy.write_bytes((proj / ".runner" / "state.db").read_bytes())
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("SELECT id, status FROM runs").fetchall() == [("train-1", "completed")]
    finally:
        conn.close()
