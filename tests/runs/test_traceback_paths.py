"""Tracebacks name the project's files (`src/crash.py`), not the staged copy, in apply's
terminal stream and `runs logs`; the stored log keeps what the process wrote."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runner.runs.paths import project_paths
from tests.conftest import run_console

CRASH = """import os

def f():
    raise ValueError("boom")

print(os.path.join(os.environ["RUNNER_OUTPUTS"], "x.txt"))
f()
"""


def test_apply_and_runs_logs_show_the_project_path(project: Any) -> None:
    project.gen({"train.yaml": "version: 1\njobs:\n  crash: {code: src, command: python crash.py}\n",
                 "src": {"crash.py": CRASH}})
    project.commit()

    applied = run_console("apply", "-C", project.root)
    logs = run_console("runs", "logs", "crash-1", "-C", project.root)
    raw = (project.root / ".runner" / "runs" / "crash-1" / "logs" / "std_log.txt").read_text()

    staged = str((project.root / ".runner" / "runs" / "crash-1").resolve())
    for shown in (applied.stdout, logs.stdout):
        assert '  File "src/crash.py", line 7, in <module>' in shown
        assert '  File "src/crash.py", line 4, in f' in shown
        assert f"{staged}/crash.py" not in shown
        assert f"{staged}/outputs/x.txt" in shown  # not a file of the snapshot: left as it is
    assert f'  File "{staged}/crash.py", line 7, in <module>' in raw


def test_code_at_the_project_root() -> None:
    text = 'File "/p/.runner/runs/t-1/train.py", line 3\n/p/.runner/runs/t-1/pkg/m.py:9: warning'
    shown = project_paths(text, ["/p/.runner/runs/t-1"], ".", {"train.py", "pkg/m.py"})
    assert shown == 'File "train.py", line 3\npkg/m.py:9: warning'


def test_the_real_path_of_the_run_folder_is_rewritten_too() -> None:
    text = 'File "/real/runs/t-1/a.py", line 1; File "/link/runs/t-1/a.py", line 2'
    assert project_paths(text, ["/link/runs/t-1", "/real/runs/t-1"], "ml/src", {"a.py"}) == \
        'File "ml/src/a.py", line 1; File "ml/src/a.py", line 2'


def test_a_longer_run_id_is_not_taken_for_a_shorter_one() -> None:
    text = "/p/runs/t-10/a.py /p/runs/t-1/a.py"
    assert project_paths(text, ["/p/runs/t-1"], "src", {"a.py"}) == "/p/runs/t-10/a.py src/a.py"


names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}(/[a-z_][a-z0-9_]{0,8}){0,2}\.py", fullmatch=True)
noise = st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), max_size=30)


@given(rel=names, before=noise, line=st.integers(1, 10**6), code=st.sampled_from([".", "src", "a/b"]))
def test_any_traceback_line(rel: str, before: str, line: int, code: str) -> None:
    root = "/home/u/proj/.runner/runs/train-12"
    text = f'{before}File "{root}/{rel}", line {line}, in f'
    expected_path = rel if code == "." else f"{code}/{rel}"
    assert project_paths(text, [root], code, {rel}) == f'{before}File "{expected_path}", line {line}, in f'
    assert project_paths(text, [root], code, set()) == text  # not a snapshot file: unchanged
    assert project_paths(before, [root], code, {rel}) == before
