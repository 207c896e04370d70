"""Benchmark: the cost runner adds around a training run, against bare python.

Run: python benchmarks/apply.py. In one run it measures, each as the median of several:
  - `python -c pass` (the reference)
  - `runner apply` on an up-to-date project (a no-op), vs `python -c pass`
  - `runner apply` after editing one file of a one-job project, vs `python train.py` alone
  - 1,000 `tracking.log` calls inside a run
Targets (issue 5): no-op apply and rerun overhead <= 0.3 s over bare python.
Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import compile_runner

ROUNDS = 7
RUNNER = [str(Path(sys.executable).with_name("runner"))] if Path(sys.executable).with_name("runner").exists() \
    else [sys.executable, "-m", "runner"]
TRAIN = "import os\nfrom runner import tracking\ntracking.log('acc', 0.9)\n" \
        "open(os.path.join(os.environ.get('RUNNER_OUTPUTS', '.'), 'm.txt'), 'w').write('m')\n"
SPEC = "version: 1\njobs:\n  train:\n    code: src\n    script: train.py\n"


def timed(cmd: list[str], cwd: Path | None = None, before: object = None) -> float:
    times = []
    for _ in range(ROUNDS):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text(TRAIN)
    for i in range(50):
        (root / "src" / f"mod{i}.py").write_text(f"X = {i}\n")
    (root / "train.yaml").write_text(SPEC)
    subprocess.run([*RUNNER, "apply", "-C", str(root)], check=True, capture_output=True)
    return root


def main() -> None:
    compile_runner()
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "proj")
        bare = timed([sys.executable, "-c", "pass"])
        noop = timed([*RUNNER, "apply", "-C", str(root)])
        counter = iter(range(10**6))

        def edit() -> None:
            (root / "src" / "train.py").write_text(TRAIN + f"# edit {next(counter)}\n")

        rerun = timed([*RUNNER, "apply", "-C", str(root)], before=edit)
        script = timed([sys.executable, "train.py"], cwd=root / "src")
        tracking = tracking_seconds(Path(tmp))
    print(f"python -c pass:                 {bare:.3f} s")
    print(f"no-op runner apply:             {noop:.3f} s  overhead {noop - bare:+.3f} s  ratio {noop / bare:.1f}x  (target overhead <= 0.3 s)")
    print(f"python train.py alone:          {script:.3f} s")
    print(f"apply after a one-file edit:    {rerun:.3f} s  overhead {rerun - script:+.3f} s  ratio {rerun / script:.1f}x  (target overhead <= 0.3 s)")
    print(f"1,000 tracking.log calls:       {tracking:.4f} s  ratio {tracking / bare:.2f}x python -c pass  (target < 0.1 s)")


def tracking_seconds(tmp: Path) -> float:
    code = ("import time\nfrom runner import tracking\nt = time.perf_counter()\n"
            "for i in range(1000):\n    tracking.log('loss', i)\nprint(time.perf_counter() - t)\n")
    env = {**os.environ, "RUNNER_RUN_ID": "bench-1", "RUNNER_LOGS": str(tmp)}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout)


if __name__ == "__main__":
    main()
