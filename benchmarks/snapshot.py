"""Snapshot speed: `python benchmarks/snapshot.py [--files 10000] [--data-mb 200] [--repeat 5]`.

Builds a temporary git repository of many small files plus large data files, then
prints, in one run: a cold `runner snapshot JOB --json`, a no-op one, a one-file-edited
one (each end to end through the console script), `git status` on the same tree,
`python -c 'import re'` (what pip's console scripts import first; shown, not in the target),
`python -c pass`, the in-process cost of a no-op `take_snapshot`, and the ratios against
the target: no-op and one-file snapshots within 3x `git status` plus interpreter start.

Each figure is the median wall time of `--repeat` runs, with the median CPU time (user +
system) beside it: on a busy machine CPU time is the steadier comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import compile_runner

RUNNER = [str(Path(sys.executable).with_name("runner"))]
SPEC = """\
version: 1
snapshot: {warn_mb: 100000, warn_files: 1000000}
jobs:
  train:
    command: python pkg000/m0.py
"""


def build(root: Path, files: int, data_mb: int) -> None:
    for i in range(files):
        folder = root / f"pkg{i // 100:03d}" / f"sub{i // 10 % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text(f"# module {i}\nVALUE = {i}\n")
    data = root / "data"
    data.mkdir()
    chunk = 10
    for i in range(max(1, data_mb // chunk)):
        (data / f"part{i:03d}.bin").write_bytes(os.urandom(chunk * 1024 * 1024))
    (root / ".gitignore").write_text("__pycache__/\n*.pyc\n.runner/\n")
    (root / "train.yaml").write_text(SPEC)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "tree")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, stdout=subprocess.DEVNULL)


Timing = tuple[float, float]  # (wall, cpu) seconds


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[Timing, str]:
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = (time.perf_counter() - start, _cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return elapsed, done.stdout


def medians(times: list[Timing]) -> Timing:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def snapshot(root: Path) -> tuple[Timing, dict[str, object]]:
    elapsed, out = timed([*RUNNER, "snapshot", "train", "--json"], root)
    return elapsed, json.loads(out)


def edit(root: Path, i: int) -> None:
    target = root / "pkg050" / "sub5" / f"m{5050 + i % 50}.py"
    if not target.exists():
        target = next(root.glob("pkg*/sub*/*.py"))
    target.write_text(target.read_text() + f"# edit {i}\n")


def rounds(root: Path, repeat: int) -> tuple[dict[str, list[Timing]], list[int], list[int]]:
    """`repeat` rounds of: a one-file-edited snapshot, a no-op one, `git status`, `python -c
    pass`, `python -c 'import re'`. Interleaved, so a burst of load on a shared machine hits
    every figure alike."""
    times: dict[str, list[Timing]] = {"one": [], "noop": [], "status": [], "python": [], "script": []}
    one_hashed, noop_hashed = [], []
    timed(["git", "status", "--porcelain"], root)  # warm the page cache and the index
    for i in range(repeat):
        edit(root, i)
        elapsed, doc = snapshot(root)
        times["one"].append(elapsed)
        one_hashed.append(int(doc["hashed"]))  # type: ignore[call-overload]
        elapsed, doc = snapshot(root)
        times["noop"].append(elapsed)
        noop_hashed.append(int(doc["hashed"]))  # type: ignore[call-overload]
        times["status"].append(timed(["git", "status", "--porcelain"], root)[0])
        times["python"].append(timed([sys.executable, "-c", "pass"], root)[0])
        times["script"].append(timed([sys.executable, "-c", "import re"], root)[0])
    return times, one_hashed, noop_hashed


IN_PROCESS = """
import sys, time
from pathlib import Path
from types import SimpleNamespace
from runner.snapshot import take_snapshot
from runner.state import open_state_at
root, repeat = Path(sys.argv[1]), int(sys.argv[2])
state = open_state_at(root / ".runner")
limits = SimpleNamespace(warn_mb=100000, warn_files=1000000)
take_snapshot(root, ".", state, job="train", limits=limits)
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(repeat):
    take_snapshot(root, ".", state, job="train", limits=limits)
print((time.perf_counter() - wall) / repeat, (time.process_time() - cpu) / repeat)
"""


def in_process_noop(root: Path, repeat: int) -> Timing:
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(root), str(repeat)], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    compile_runner()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--data-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    try:
        run(tmp / "repo", args.files, args.data_mb, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(root: Path, files: int, data_mb: int, repeat: int) -> None:
    root.mkdir(parents=True)
    print(f"building {files:,} small files + {data_mb} MB of data in {root} ...", file=sys.stderr)
    build(root, files, data_mb)
    cold, cold_doc = snapshot(root)
    snapshot(root)  # the folder index and the .pyc files exist from here on
    times, one_hashed, noop_hashed = rounds(root, repeat)
    noop, one, status, python, script = (medians(times[k]) for k in ("noop", "one", "status", "python", "script"))
    inproc = in_process_noop(root, repeat)
    rows = [
        ("cold snapshot", cold, (f"{cold_doc['files']:,} files, {int(cold_doc['bytes']) / 2**20:.0f} MB, "  # type: ignore[call-overload]
                                 f"hashed {cold_doc['hashed']:,}")),
        ("no-op snapshot", noop, f"hashed {noop_hashed}"),
        ("one-file-edited snapshot", one, f"hashed {one_hashed}"),
        ("git status", status, ""),
        ("python -c pass", python, ""),
        ("python -c 'import re'", script, "what a pip entry-point wrapper would add first (runner is a plain script)"),
        ("no-op take_snapshot in-process", inproc, "the snapshot's own cost"),
    ]
    print(f"{'':<36} {'wall':>9}     {'cpu':>9}   (medians of {repeat} interleaved rounds)")
    for name, (wall, cpu), note in rows:
        print(f"{name:<36} {wall * 1000:9.1f} ms  {cpu * 1000:9.1f} ms  {note}")
    for i, kind in enumerate(("wall", "cpu")):
        target = 3 * status[i] + python[i]
        print(f"-- {kind}: target 3 x git status + python = {target * 1000:.1f} ms")
        print(f"   no-op / target {noop[i] / target:.2f}   one-file / target {one[i] / target:.2f}   "
              f"in-process no-op / git status {inproc[i] / status[i]:.2f}")
    fastest = {k: min(t[0] for t in v) for k, v in times.items()}
    target = 3 * fastest["status"] + fastest["python"]
    print(f"-- fastest round of each (wall): no-op {fastest['noop'] * 1000:.1f} ms, one-file "
          f"{fastest['one'] * 1000:.1f} ms, target {target * 1000:.1f} ms: no-op / target "
          f"{fastest['noop'] / target:.2f}   one-file / target {fastest['one'] / target:.2f}")
    print(f"cold throughput {int(cold_doc['bytes']) / 2**20 / cold[0]:.1f} MB/s (wall)")  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
