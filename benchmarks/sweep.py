"""Benchmark: what runner adds to a sweep's trials, and what re-applying a finished sweep costs.

Run: python benchmarks/sweep.py [--trials 100] [--at-once 4]. In one run it measures:
  - the same commands the trials run (`python trial.py X`, a script that logs one metric
    and exits), through `xargs -P 4` (the reference)
  - `runner apply` of a random sweep of that many trials, 4 at once
  - a no-op `runner apply` of the finished sweep, against a no-op apply of a one-job project
Targets (issue 20): overhead per trial <= 0.1 s beyond xargs; the no-op re-apply within 2x
the one-job no-op. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import compile_runner

RUNNER = [str(Path(sys.executable).with_name("runner"))] if Path(sys.executable).with_name("runner").exists() \
    else [sys.executable, "-m", "runner"]
TRIAL = "import sys\nfrom runner import tracking\ntracking.log('score', float(sys.argv[1]))\n"
SWEEP = """version: 1
jobs:
  trial:
    code: src
    script: trial.py
    args: ["${{{{params.x}}}}"]
    params: {{x: 1.0}}
    sweep:
      sampling_algorithm: random
      search_space: {{x: {{type: uniform, min_value: 0, max_value: 1}}}}
      objective: {{primary_metric: score, goal: maximize}}
      limits: {{max_total_trials: {trials}, max_concurrent_trials: {at_once}}}
"""
ONE_JOB = "version: 1\njobs:\n  trial:\n    code: src\n    script: trial.py\n    args: ['0.5']\n"


def make(root: Path, spec: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "trial.py").write_text(TRIAL)
    (root / "train.yaml").write_text(spec)
    return root


def seconds(cmd: list[str], **kw: object) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - start


def median(cmd: list[str], rounds: int = 7) -> float:
    return statistics.median(seconds(cmd) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--at-once", type=int, default=4)
    args = parser.parse_args()
    compile_runner()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = make(Path(tmp) / "sweep", SWEEP.format(trials=args.trials, at_once=args.at_once))
        one = make(Path(tmp) / "one", ONE_JOB)
        values = "\n".join(str(i / args.trials) for i in range(args.trials)) + "\n"
        script = str(sweep / "src" / "trial.py")
        xargs = seconds(["xargs", "-P", str(args.at_once), "-n", "1", sys.executable, script],
                        input=values.encode(), cwd=sweep / "src")
        applied = seconds([*RUNNER, "apply", "-C", str(sweep)])
        subprocess.run([*RUNNER, "apply", "-C", str(one)], check=True, capture_output=True)
        noop_sweep = median([*RUNNER, "apply", "-C", str(sweep)])
        noop_one = median([*RUNNER, "apply", "-C", str(one)])
    per_trial = (applied - xargs) / args.trials
    print(f"{args.trials} trials via xargs -P {args.at_once}:        {xargs:.2f} s")
    print(f"{args.trials} trials via runner apply ({args.at_once} at once): {applied:.2f} s  "
          f"overhead per trial {per_trial:+.3f} s  (target <= 0.1 s)")
    print(f"no-op apply of the finished sweep:  {noop_sweep:.3f} s")
    print(f"no-op apply of one job:             {noop_one:.3f} s  ratio {noop_sweep / noop_one:.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
