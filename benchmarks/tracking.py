"""Benchmark: 1,000 `tracking.log` calls inside a fake run, against `python -c pass`.

Run: python benchmarks/tracking.py. Target (issue 5): well under 0.1 s for 1,000 points
(MLflow's SQLite store takes ~14 s). Prints seconds and the ratio; asserts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

CALLS = 1000
SCRIPT = f"""
import time
t0 = time.perf_counter()
from runner import tracking
t1 = time.perf_counter()
for i in range({CALLS}):
    tracking.log("loss", 1.0 / (i + 1))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def python_pass() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def tracking_calls(logs: str) -> tuple[float, float, float]:
    """(import seconds, seconds for the calls, whole process seconds)."""
    env = {**os.environ, "RUNNER_RUN_ID": "bench-1", "RUNNER_LOGS": logs}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True,
                          capture_output=True, text=True)
    whole = time.perf_counter() - start
    imported, calls = (float(x) for x in done.stdout.split())
    return imported, calls, whole


def main() -> None:
    with tempfile.TemporaryDirectory() as logs:
        bare = min(python_pass() for _ in range(5))
        imported, calls, whole = min((tracking_calls(logs) for _ in range(5)), key=lambda r: r[1])
        lines = sum(1 for _ in open(os.path.join(logs, "metrics.jsonl"), "rb"))
    print(f"python -c pass:                   {bare:.4f} s")
    print(f"import runner.tracking:           {imported:.4f} s")
    print(f"{CALLS:,} tracking.log calls:        {calls:.4f} s  (target < 0.1 s; {lines} lines written)")
    print(f"whole process (import + calls):   {whole:.4f} s")
    print(f"ratio: calls / python -c pass:    {calls / bare:.2f}x")
    print(f"ratio: process / python -c pass:  {whole / bare:.2f}x")


if __name__ == "__main__":
    main()
