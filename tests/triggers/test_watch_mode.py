"""`runner watch` as a real process: reruns what changed, supersedes, survives bad edits, stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import RunnerError
from runner.triggers.pathfilter import PathFilter
from runner.triggers.watch import parse_duration
from tests.conftest import ProjectDir
from tests.triggers.support import find_run, poll, run_show, runner_cmd, runs

SPEC = """
version: 1
jobs:
  a:
    code: a
    script: job.py
  b:
    code: b
    script: job.py
"""
QUICK = "print('{name}', {n})\n"
SLOW = """
import os, pathlib, time
pathlib.Path(os.environ["RUNNER_OUTPUTS"], "pid").write_text(str(os.getpid()))
print("sleeping", flush=True)
time.sleep(120)
"""


class Watch:
    """`runner watch` in the background; its output collected line by line."""

    def __init__(self, root: Path, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([*runner_cmd(), "watch", "--debounce", "100ms", "-C", str(root), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=10)
        return code

    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def watching(project: ProjectDir) -> Iterator[list[Watch]]:
    started: list[Watch] = []
    yield started
    for watch in started:  # a failed test must not leave a watcher behind
        if watch.proc.poll() is None:
            watch.interrupt()


def _start(watching: list[Watch], root: Path, *args: str) -> Watch:
    watch = Watch(root, *args)
    watching.append(watch)
    poll(lambda: watch.saw("watching for changes") or watch.proc.poll() is not None, what="the watcher")
    assert watch.proc.poll() is None, watch.output()
    return watch


def _two_jobs(project: ProjectDir) -> Path:
    project.gen({"train.yaml": SPEC, "a": {"job.py": QUICK.format(name="a", n=1)},
                 "b": {"job.py": QUICK.format(name="b", n=1)}, ".gitignore": "notes/\n"})
    project.commit()
    return project.root


def _count(root: Path, job: str) -> int:
    return sum(1 for r in runs(root) if r["job"] == job)


@pytest.mark.slow
def test_an_edit_reruns_only_the_affected_job(project: ProjectDir, watching: list[Watch]) -> None:
    root = _two_jobs(project)
    watch = _start(watching, root)
    poll(lambda: find_run(root, "a-1", "completed") and find_run(root, "b-1", "completed"), what="first runs")

    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("ignored by .gitignore\n")
    (root / "a" / "job.py").write_text(QUICK.format(name="a", n=2))
    poll(lambda: find_run(root, "a-2", "completed"), what="a to rerun")

    assert _count(root, "b") == 1, watch.output()
    assert watch.saw("a: code: a/job.py modified"), watch.output()
    assert not watch.saw("notes/todo.txt"), watch.output()
    assert watch.interrupt() == 130


@pytest.mark.slow
def test_a_folder_made_after_start_is_watched_and_runner_state_is_not(project: ProjectDir,
                                                                      watching: list[Watch]) -> None:
    """Top-level folders are watched one by one (never .runner/): a new one joins the watch."""
    project.gen({"train.yaml": SPEC.replace("code: b", "code: later"), "a": {"job.py": QUICK.format(name="a", n=1)}})
    root = project.root
    watch = _start(watching, root)  # `later` does not exist yet: train.yaml is invalid, watch waits
    poll(lambda: watch.saw("later"), what="the located error")
    (root / "later").mkdir()
    (root / "later" / "job.py").write_text(QUICK.format(name="b", n=1))
    poll(lambda: find_run(root, "a-1", "completed") and find_run(root, "b-1", "completed"), what="the runs")
    (root / "later" / "job.py").write_text(QUICK.format(name="b", n=2))
    poll(lambda: find_run(root, "b-2", "completed"), what="b to rerun after an edit in the new folder")
    assert _count(root, "a") == 1 and not watch.saw(".runner"), watch.output()
    assert watch.interrupt() == 130


@pytest.mark.slow
def test_a_change_supersedes_the_run_in_flight(project: ProjectDir, watching: list[Watch]) -> None:
    root = _two_jobs(project)
    (root / "a" / "job.py").write_text(SLOW)
    watch = _start(watching, root, "a")
    poll(lambda: find_run(root, "a-1", "running") and watch.saw("a                running"), what="a-1 running")

    (root / "a" / "job.py").write_text(QUICK.format(name="a", n=3))
    poll(lambda: find_run(root, "a-2", "completed"), what="the superseding run")

    first = run_show(root, "a-1")
    assert (first["status"], first["error"]) == ("canceled", "superseded"), watch.output()
    assert _count(root, "b") == 0  # only the watched job (and what it needs) runs
    assert watch.interrupt() == 130


@pytest.mark.slow
def test_an_invalid_train_yaml_is_reported_and_a_fix_resumes(project: ProjectDir, watching: list[Watch]) -> None:
    root = _two_jobs(project)
    watch = _start(watching, root)
    poll(lambda: find_run(root, "b-1", "completed"), what="first runs")

    (root / "train.yaml").write_text(SPEC.replace("code: a", "code: [a"))
    poll(lambda: watch.saw("train.yaml:"), what="the located error")
    assert watch.proc.poll() is None
    (root / "train.yaml").write_text(SPEC.replace("script: job.py\n  b:", "script: job.py\n    params: {x: 1}\n  b:"))
    poll(lambda: find_run(root, "a-2", "completed"), what="the run after the fix")

    assert _count(root, "b") == 1
    assert watch.interrupt() == 130


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C, and `kill`
def test_a_stop_signal_cancels_the_run_and_leaves_no_process(project: ProjectDir, watching: list[Watch],
                                                             signum: int) -> None:
    root = _two_jobs(project)
    (root / "a" / "job.py").write_text(SLOW)
    watch = _start(watching, root, "a")
    pid_file = root / ".runner" / "runs" / "a-1" / "outputs" / "pid"
    poll(lambda: pid_file.exists() and pid_file.read_text(), what="the run's pid")
    pid = int(pid_file.read_text())
    assert Path(f"/proc/{pid}").exists()

    code = watch.interrupt(signum)

    assert code == 130, watch.output()
    assert run_show(root, "a-1")["status"] == "canceled"
    poll(lambda: not _alive(pid), timeout=30, what=f"process {pid} to end")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


@given(st.integers(min_value=0, max_value=10**6))
def test_durations(ms: int) -> None:
    assert parse_duration(f"{ms}ms") == pytest.approx(ms / 1000)
    assert parse_duration(f"{ms}s") == pytest.approx(ms)
    assert parse_duration(str(ms)) == pytest.approx(ms)


@given(st.text(alphabet="abcxyz-+ ", min_size=1))
def test_bad_durations(text: str) -> None:
    with pytest.raises(RunnerError):
        parse_duration(text)


def test_filter_follows_the_snapshot_ignore_rules(project: ProjectDir, tmp_path: Path) -> None:
    project.gen({"train.yaml": SPEC, ".gitignore": "*.log\nbuild/\n", "src": {".runnerignore": "!keep.log\n"}})
    keep = PathFilter(project.root, project.root / ".runner", project.root / "train.yaml")
    rel = {p: keep.relevant(str(project.root / p), False) for p in
           ("train.yaml", "src/a.py", "x.log", "src/keep.log", "build/out.txt", ".runner/state.db",
            ".git/index", "src/.runnerignore")}
    assert rel == {"train.yaml": True, "src/a.py": True, "x.log": False, "src/keep.log": True,
                   "build/out.txt": False, ".runner/state.db": False, ".git/index": False,
                   "src/.runnerignore": True}
    assert not keep.relevant(str(tmp_path / "elsewhere.txt"), False)


def test_filter_watches_ignored_datasets_that_train_yaml_names(project: ProjectDir) -> None:
    from runner.project import find_project
    from runner.spec import load

    project.gen({"train.yaml": SPEC + "datasets:\n  raw:\n    path: data/raw.csv\n", ".gitignore": "data/\n",
                 "a": {"job.py": ""}, "b": {"job.py": ""}, "data": {"raw.csv": "1\n", "other.csv": "2\n"}})
    keep = PathFilter(project.root, project.root / ".runner", project.root / "train.yaml")
    assert not keep.relevant(str(project.root / "data" / "raw.csv"), False)

    keep.use_spec(load(find_project(project.root)))

    assert keep.relevant(str(project.root / "data" / "raw.csv"), False)
    assert not keep.relevant(str(project.root / "data" / "other.csv"), False)


def test_a_save_by_rename_names_the_file_not_the_temp() -> None:
    """Editors and `sed -i` write a temp file and rename it over the original."""
    from runner.triggers.watch import Debouncer

    debouncer = Debouncer(0.01)
    debouncer.touch("/p/src/.a.py.swp")
    debouncer.touch("/p/src/sedX1y2Z3")
    debouncer.touch("/p/src/a.py", instead_of="/p/src/sedX1y2Z3")
    assert debouncer.wait(5) == ["/p/src/.a.py.swp", "/p/src/a.py"]


# -- what watch prints (issue 18, item 9) ------------------------------------------------

MODEL_SPEC = """
version: 1
jobs:
  a:
    code: a
    script: job.py
models:
  m: {job: a, path: outputs/m.txt, tags: {stage: one}}
"""
WRITES = "import os\nopen(os.path.join(os.environ['RUNNER_OUTPUTS'], 'm.txt'), 'w').write('{n}')\n"


@pytest.mark.slow
def test_model_registrations_and_updates_are_printed(project: ProjectDir, watching: list[Watch]) -> None:
    project.gen({"train.yaml": MODEL_SPEC, "a": {"job.py": WRITES.format(n=1)}})
    project.commit()
    root = project.root
    watch = _start(watching, root)
    poll(lambda: watch.saw("✓ model:m version 1 registered"), what="the registration line")

    (root / "train.yaml").write_text(MODEL_SPEC.replace("stage: one", "stage: two"))
    poll(lambda: watch.saw("✓ model:m version 1 updated"), what="the update line")

    assert watch.saw("→ register model:m: after a"), watch.output()
    assert watch.interrupt() == 130


@pytest.mark.slow
def test_stopping_with_nothing_running_does_not_claim_a_cancel(project: ProjectDir, watching: list[Watch]) -> None:
    root = _two_jobs(project)
    watch = _start(watching, root)
    poll(lambda: find_run(root, "a-1", "completed") and find_run(root, "b-1", "completed"), what="first runs")

    assert watch.interrupt() == 130
    assert watch.lines[-1] == "stopped (nothing was running)", watch.output()
    assert not watch.saw("canceled")


@pytest.mark.slow
def test_stopping_a_run_names_it(project: ProjectDir, watching: list[Watch]) -> None:
    root = _two_jobs(project)
    (root / "a" / "job.py").write_text(SLOW)
    watch = _start(watching, root, "a")
    pid_file = root / ".runner" / "runs" / "a-1" / "outputs" / "pid"
    poll(lambda: pid_file.exists() and pid_file.read_text(), what="the run's pid")

    assert watch.interrupt() == 130
    assert watch.lines[-1] == "stopped: runs in flight were canceled (a-1)", watch.output()
