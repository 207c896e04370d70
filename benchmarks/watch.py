"""Benchmark: `runner watch` latency, from a file save to the run's process start.

Run: python benchmarks/watch.py [--debounce 300ms] [--rounds 10]. A project with one job
(the default environment: the current interpreter, nothing to build) is watched; each
round saves the job's script, whose first action writes `time.time()` to a file outside
the project. The latency beyond the debounce is (that time - the save time - debounce).
Target (issue 8): at most 0.5 s. Also prints `python -c pass` and the ratio to it, as a
floor for any "start a Python process" figure. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import compile_runner

SPEC = "version: 1\njobs:\n  bench:\n    code: src\n    script: job.py\n"
JOB = ("import os, time\nopen(os.environ['BENCH_STAMP'], 'w').write(repr(time.time()))\n"
       "# round {n}\n")


def runner_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("runner")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]


def python_pass() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def wait_stamp(stamp: Path, after: float, timeout: float = 60) -> float:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = float(stamp.read_text())
        except (OSError, ValueError):
            value = 0.0
        if value > after:
            return value
        time.sleep(0.005)
    raise SystemExit("no run started: is `runner watch` working?")


def measure(root: Path, stamp: Path, debounce: str, delay: float, rounds: int) -> list[float]:
    env = {**os.environ, "BENCH_STAMP": str(stamp)}
    watch = subprocess.Popen([*runner_cmd(), "watch", "--debounce", debounce, "-C", str(root)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_stamp(stamp, 0.0)  # the first apply
        time.sleep(1.0)  # let it finish and go idle
        latencies = []
        for n in range(rounds):
            (root / "src" / "job.py").write_text(JOB.format(n=n))
            saved = time.time()
            latencies.append(wait_stamp(stamp, saved) - saved - delay)
            time.sleep(0.5)  # the run ends and apply goes idle before the next save
        return latencies
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=60)


def main() -> None:
    compile_runner()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debounce", default="300ms")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    from runner.triggers.watch import parse_duration

    delay = parse_duration(args.debounce)
    with tempfile.TemporaryDirectory() as tmp:
        root, stamp = Path(tmp, "proj"), Path(tmp, "stamp")
        (root / "src").mkdir(parents=True)
        (root / "train.yaml").write_text(SPEC)
        (root / "src" / "job.py").write_text(JOB.format(n="first"))
        latencies = measure(root, stamp, args.debounce, delay, args.rounds)
    bare = min(python_pass() for _ in range(5))
    median = statistics.median(latencies)
    print(f"debounce:                        {delay:.3f} s")
    print(f"latency beyond debounce (median): {median:.3f} s  (min {min(latencies):.3f}, "
          f"max {max(latencies):.3f}, {len(latencies)} saves)")
    print(f"python -c pass:                  {bare:.3f} s")
    print(f"ratio vs python -c pass:         {median / bare:.1f}x")
    print(f"target <= 0.5 s:                 {'met' if median <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
