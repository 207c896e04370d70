"""Progress of long work (runner.progress, runner.cli.progress), seen as a user sees it: the
real console script on a pseudo-terminal (live lines redrawn in place on stderr) and on pipes
(CI logs: plain lines only, stdout untouched), for a slow snapshot, a slow environment build
and a run that stays silent. Assertions are on what is shown, never on how long it took;
$RUNNER_PROGRESS_SCALE shortens the delays where a test only needs "slow enough"."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from runner import progress
from runner.cli.tracker import Tracker, duration, human_bytes, latest_metric
from tests.conftest import ProjectDir, run_console
from tests.envs.conftest import SlowPackage

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def console() -> list[str]:
    exe = Path(sys.executable).with_name("runner")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]


def on_terminal(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> tuple[int, str]:
    """Run the console script with stdin, stdout and stderr on a pseudo-terminal; its whole output."""
    master, slave = pty.openpty()
    done = subprocess.Popen([*console(), *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, "TERM": "xterm", "COLUMNS": "200", **(env or {})}, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif done.poll() is not None:
                break
    finally:
        os.close(master)
    code = done.wait(timeout=30)
    return code, b"".join(chunks).decode("utf-8", "replace")


def screens(raw: str) -> set[str]:
    """Every state of every line the terminal showed (each redraw in place is one)."""
    return {ESCAPE.sub("", part).strip() for part in re.split(r"[\r\n]", raw)} - {""}


def fast(**extra: str) -> dict[str, str]:
    """Delays at a tenth: live lines after 0.05 s, plain lines after 0.5 s, heartbeats after 1 s."""
    return {**os.environ, "RUNNER_PROGRESS_SCALE": "0.1", **extra}


FILES = 20_000
SNAPSHOT_SPEC = """
version: 1
snapshot: {warn_files: 1000000}
jobs:
  train:
    code: src
    command: python -c "print(1)"
"""


@pytest.fixture
def big(project: ProjectDir) -> ProjectDir:
    """A code folder of 20,000 small files: a first snapshot reads and stores all of them."""
    project.gen({"train.yaml": SNAPSHOT_SPEC})
    for folder in range(FILES // 500):
        where = project / "src" / f"d{folder}"
        where.mkdir(parents=True)
        for i in range(500):
            (where / f"f{i}.py").write_text(f"x = {folder * 500 + i}\n")
    return project


def test_slow_snapshot_on_a_terminal_counts_in_place(big: ProjectDir) -> None:
    code, raw = on_terminal("snapshot", "train", cwd=big.root, env={"RUNNER_PROGRESS_SCALE": "0.1"})
    assert code == 0, raw
    shown = screens(raw)
    counts = [line for line in shown if re.search(r"storing 20,000 new objects \(\d.*\): [\d,]+ / 20,000 files", line)]
    assert len(counts) >= 2, shown  # the count was redrawn as the files were stored...
    assert "\r\x1b[2K" in raw  # ...in place
    assert f"  {FILES} files" in raw and "job train: snapshot" in raw  # the result, after the progress
    assert raw.rindex("new objects") < raw.index("job train: snapshot")  # the line was erased before


def test_slow_snapshot_on_pipes_writes_plain_lines_and_json_stays_json(big: ProjectDir) -> None:
    done = run_console("snapshot", "train", "--json", cwd=big.root, env=fast())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == FILES  # stdout: the JSON and nothing else
    assert not CONTROL.search(done.stderr), repr(done.stderr)
    lines = done.stderr.splitlines()
    assert [line for line in lines if line.startswith("storing 20,000 new objects")], lines
    heads = [line.partition(":")[0] for line in lines]
    assert len(heads) == len(set(heads)), lines  # at most one line per phase


def test_quiet_silences_progress_everywhere(big: ProjectDir) -> None:
    piped = run_console("snapshot", "train", "--quiet", cwd=big.root, env=fast())
    assert (piped.returncode, piped.stderr) == (0, "")
    (big / "src" / "d0" / "new.py").write_text("y = 1\n")
    code, raw = on_terminal("snapshot", "train", "-q", cwd=big.root, env={"RUNNER_PROGRESS_SCALE": "0"})
    assert code == 0 and "storing" not in raw and "\x1b[2K" not in raw, raw


def test_a_no_op_snapshot_on_a_terminal_draws_nothing(big: ProjectDir) -> None:
    assert run_console("snapshot", "train", "-q", cwd=big.root).returncode == 0
    code, raw = on_terminal("snapshot", "train", cwd=big.root)
    assert code == 0
    assert "\x1b" not in raw and raw.startswith("job train: snapshot"), raw


ENV_SPEC = """
version: 1
environments:
  slow:
    pip: ["./{package}"]
jobs:
  train:
    code: src
    environment: slow
    command: python -c "print('trained')"
"""


@pytest.mark.parametrize("where", ["terminal", "pipe"])
def test_slow_environment_build_says_what_it_does(project: ProjectDir, where: str) -> None:
    package = SlowPackage(project.root, f"slowpkg_{uuid.uuid4().hex[:8]}")  # a unique env: built, never cached
    project.gen({"train.yaml": ENV_SPEC.format(package=package.path.name), "src": {"x.py": "x = 1\n"}})
    package.slow(3)
    if where == "terminal":
        code, raw = on_terminal("apply", cwd=project.root, env={"RUNNER_PROGRESS_SCALE": "0.1"})
        assert code == 0, raw
        assert any(line.endswith(" building environment slow: installing 1 package") for line in screens(raw)), raw
        assert "trained" in raw
        return
    done = run_console("apply", cwd=project.root, env=fast())
    assert done.returncode == 0, done.stderr
    assert "trained" in done.stdout and "building environment" not in done.stdout
    assert not CONTROL.search(done.stderr), repr(done.stderr)
    built = [line for line in done.stderr.splitlines() if line.startswith("building environment slow")]
    assert len(built) == 1 and "installing 1 package" in built[0], done.stderr


SILENT_SPEC = """
version: 1
jobs:
  train:
    code: src
    command: python train.py
"""
SILENT_JOB = """
import time
from runner import tracking
tracking.log("accuracy", 0.91)
time.sleep(12)
print("finished")
"""


def test_a_silent_run_gets_a_heartbeat_on_a_terminal_and_in_a_log(tmp_path: Path) -> None:
    """Real delays: the job logs a metric, prints nothing for 12 s, then prints."""
    roots = [tmp_path / "tty", tmp_path / "pipe"]
    for root in roots:
        ProjectDir(root).gen({"train.yaml": SILENT_SPEC, "src": {"train.py": SILENT_JOB}})
    results: dict[str, Any] = {}
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_PROGRESS_SCALE"}
    runs = [threading.Thread(target=lambda: results.update(tty=on_terminal("apply", cwd=roots[0], env=env))),
            threading.Thread(target=lambda: results.update(pipe=run_console("apply", cwd=roots[1], env=env)))]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    code, raw = results["tty"]
    assert code == 0, raw
    beats = [line for line in screens(raw) if re.fullmatch(r".*… train-1 running 1\ds, accuracy 0\.91", line)]
    assert beats, screens(raw)
    assert raw.index("running 1") < raw.index("finished")  # while it was silent
    assert "\r\x1b[2K" in raw[raw.index("running 1"):]  # replaced in place
    piped = results["pipe"]
    assert piped.returncode == 0, piped.stderr
    assert "finished" in piped.stdout and "running 1" not in piped.stdout
    assert re.fullmatch(r"… train-1 running 1\ds, accuracy 0\.91\n", piped.stderr), piped.stderr


def test_apply_json_keeps_stdout_json_and_progress_on_stderr(big: ProjectDir) -> None:
    done = run_console("apply", "--json", cwd=big.root, env=fast())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"]  # nothing but the JSON document
    assert not CONTROL.search(done.stderr)
    assert "storing 20,000 new objects" in done.stderr


# -- the pieces ------------------------------------------------------------------------

def test_without_a_reporter_phases_cost_nothing_and_show_nothing() -> None:
    with progress.phase("snapshot src", unit="files") as step:
        step.advance(3)
        step.update("x")
    assert step is progress.NOTHING


class Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_plain_tracker_writes_one_line_per_slow_phase_and_none_for_quick_ones() -> None:
    stream = Stream()
    tracker = Tracker(stream, live=False, show_after=0.2, silent_after=10, plain_every=60)  # type: ignore[arg-type]
    previous = progress.install(tracker)
    try:
        with progress.phase("quick"):
            pass
        with progress.phase("staging train-3"):
            progress.note("copying")
            time.sleep(0.8)
        with progress.phase("snapshot src", total=20, unit="files") as step:
            for _ in range(20):
                step.advance()
                time.sleep(0.05)
    finally:
        progress.install(previous)
        tracker.close()
    lines = stream.text.splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(r"staging train-3: copying \(0s so far\)", lines[0]), lines
    assert re.fullmatch(r"snapshot src: \d+ / 20 files \(0s so far\)", lines[1]), lines


def test_texts() -> None:
    assert [duration(s) for s in (0, 8.9, 80, 3599, 3720)] == ["0s", "8s", "1m20s", "59m59s", "1h02m"]
    assert [human_bytes(n) for n in (512, 3_500_000, 50_331_648, 5 << 30)] == ["512 B", "3.3 MB", "48 MB", "5.0 GB"]


def test_latest_metric_reads_the_last_one(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    assert latest_metric(str(path)) is None
    path.write_text('{"type": "metric", "name": "loss", "value": 0.5, "step": 0}\n'
                    '{"type": "params", "params": {}}\n'
                    '{"type": "metric", "name": "accuracy", "value": 0.912345, "step": 1}\n{"type": "met')
    assert latest_metric(str(path)) == ("accuracy", "0.9123")


def test_deferred_makes_the_reporter_only_once_a_counted_phase_is_slow() -> None:
    made: list[Tracker] = []
    stream = Stream()

    def make() -> Tracker:
        made.append(Tracker(stream, live=False, show_after=0, silent_after=10, plain_every=60))  # type: ignore[arg-type]
        return made[-1]

    deferred = progress.Deferred(make, after=0.3)
    previous = progress.install(deferred)
    try:
        with progress.phase("quick", unit="files") as step:
            step.advance(5)
        assert made == []  # a quick counted phase: nothing made, nothing drawn
        with progress.phase("snapshot src", total=100, unit="files") as step:
            step.advance(40)
            time.sleep(0.4)
            step.advance(2)  # notices the delay: the tracker takes over with the count so far
            assert len(made) == 1 and [s.done for s in made[0].steps] == [42]
            time.sleep(0.6)
        with progress.phase("staging train-1"):
            assert [s.label for s in made[0].steps] == ["staging train-1"]
    finally:
        progress.install(previous)
        for tracker in made:
            tracker.close()
    assert stream.text.startswith("snapshot src: 42 / 100 files ("), stream.text


class Recorder(progress.Reporter):
    """Records what core code reports: (label, each update) per phase, in order."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, list[str]]] = []
        self.open: list[list[str]] = []

    def phase(self, label: str, total: int | None = None, unit: str = "", size: int | None = None) -> progress.Phase:
        texts: list[str] = []
        self.phases.append((label, texts))
        recorder = self

        class Handle(progress.Phase):
            def __enter__(self) -> Handle:
                recorder.open.append(texts)
                return self

            def update(self, text: str) -> None:
                texts.append(text)

            def end(self) -> None:
                recorder.open.remove(texts)

        return Handle()

    def note(self, text: str) -> None:
        if self.open:
            self.open[-1].append(text)


def test_a_docker_image_build_reports_its_steps(tmp_path: Path) -> None:
    from runner.envs.docker import docker_fingerprint, ensure_image, image_tag
    from runner.spec import from_data
    from tests.docker_support import Images, base_image, unique

    base = base_image()
    spec = from_data({"version": 1, "environments": {"e": {"docker": {"image": base,
                                                                      "build_args": {"RUNNER_TEST": unique()}}}}})
    tag = image_tag(docker_fingerprint(spec, "e", tmp_path))
    recorder, images = Recorder(), Images()
    previous = progress.install(recorder)
    try:
        images.add(ensure_image(spec, "e", tmp_path).image)
    finally:
        progress.install(previous)
        images.remove_all()
    steps = dict(recorder.phases)[f"building image {tag}"]
    assert steps and all(re.fullmatch(r"step \d+/\d+", step) for step in steps), steps
    assert steps[-1].split("/")[0] == "step " + steps[-1].split("/")[1]  # up to the last step


def test_apply_reports_each_phase_of_a_run(project: ProjectDir, cli: Any) -> None:
    """With --quiet the CLI installs no reporter of its own: the recorder hears the core."""
    project.gen({"train.yaml": SILENT_SPEC, "src": {"train.py": "print('hi')\n"}})
    recorder = Recorder()
    previous = progress.install(recorder)
    try:
        assert cli("apply", "-C", project.root, "--quiet").code == 0
    finally:
        progress.install(previous)
    labels = [label for label, _ in recorder.phases]
    assert labels[:2] == ["snapshot src", "storing 1 new objects"], labels
    assert "staging train-1" in labels and labels[-1] == "collecting outputs of train-1", labels
    assert recorder.open == []  # every phase ended
