"""Benchmark: a trivial job on a ray compute against `ray job submit` of the same script.

Run: python benchmarks/ray_submit.py [--address http://127.0.0.1:8265] [--rounds 3]
(default address: $RAY_ADDRESS, then $RUNNER_TEST_RAY_ADDRESS). Needs a running Ray head
and the `ray` extra. Each round, interleaved:

- runner: `runner apply --force job` of a one-job project whose script writes
  `time.time()` to a stamp file (the head is this machine) and exits;
- reference: `ray job submit --working-dir DIR -- python job.py` of the same script,
  which waits for the job's end like apply does (the `ray` CLI alone takes several seconds
  to start: it imports all of Ray);
- SDK reference: a Python process that submits the same job with `JobSubmissionClient`
  and polls its status until it ends (the floor for any client of the Jobs API).

Printed, medians: submit-to-start latency (command start to the script's first line) and
end to end (command start to command end) of each, and runner's overhead (the
difference). runner does more by design: a snapshot, state records, the wrapper's
upload of outputs/logs to storage and runner's fetch of them checked by digest.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = "import os, time\nopen(os.environ['BENCH_STAMP'], 'w').write(repr(time.time()))\nprint('hi')\n"
SPEC = """version: 1
computes:
  cluster: {{type: ray, address: "{address}", storage: "file://{storage}", cpus: 0.5}}
environments:
  e: {{variables: {{BENCH_STAMP: "{stamp}"}}}}
jobs:
  job: {{script: job.py, environment: e, compute: cluster}}
"""


SDK = """
import sys, time
from ray.job_submission import JobSubmissionClient
address, folder, stamp = sys.argv[1:4]
client = JobSubmissionClient(address)
sid = client.submit_job(entrypoint="python job.py", entrypoint_num_cpus=0.5,
                        runtime_env={"working_dir": folder, "env_vars": {"BENCH_STAMP": stamp}})
while str(client.get_job_status(sid).value) not in ("SUCCEEDED", "FAILED", "STOPPED"):
    time.sleep(0.1)
"""


def runner_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("runner")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]


def timed(cmd: list[str], stamp: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(seconds to the script's start, seconds to the command's end)."""
    stamp.unlink(missing_ok=True)
    start = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    end = time.time()
    return float(stamp.read_text()) - start, end - start


def project(root: Path, address: str, stamp: Path) -> Path:
    proj = root / "proj"
    proj.mkdir()
    (proj / "train.yaml").write_text(SPEC.format(address=address, storage=root / "storage", stamp=stamp))
    (proj / "job.py").write_text(JOB)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    return proj


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS") or os.environ.get("RUNNER_TEST_RAY_ADDRESS")
                        or "http://127.0.0.1:8265")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stamp = root / "stamp"
        proj = project(root, args.address, stamp)
        ref_dir = root / "ref"
        ref_dir.mkdir()
        (ref_dir / "job.py").write_text(JOB)
        reference = [ray, "job", "submit", "--address", args.address, "--working-dir", str(ref_dir),
                     "--runtime-env-json", f'{{"env_vars": {{"BENCH_STAMP": "{stamp}"}}}}',
                     "--entrypoint-num-cpus", "0.5", "--", "python", "job.py"]
        ours = [*runner_cmd(), "apply", "--force", "job", "-C", str(proj)]
        timed(ours, stamp)  # warm-up: the first snapshot, the head's first worker
        sdk = [sys.executable, "-c", SDK, args.address, str(ref_dir), str(stamp)]
        runs: dict[str, list[tuple[float, float]]] = {"runner apply": [], "ray job submit": [], "sdk submit": []}
        for _ in range(args.rounds):
            runs["runner apply"].append(timed(ours, stamp))
            runs["ray job submit"].append(timed(reference, stamp))
            runs["sdk submit"].append(timed(sdk, stamp))
        medians = {name: (statistics.median(s for s, _ in r), statistics.median(e for _, e in r))
                   for name, r in runs.items()}
    for name, (start, end) in medians.items():
        print(f"{name:<15} submit-to-start {start:6.2f} s   end to end {end:6.2f} s   (median of {args.rounds})")
    ours_start, ours_end = medians["runner apply"]
    for name in ("ray job submit", "sdk submit"):
        ref_start, ref_end = medians[name]
        print(f"runner overhead vs {name}: submit-to-start {ours_start - ref_start:+.2f} s, "
              f"end to end {ours_end - ref_end:+.2f} s ({ours_end / ref_end:.2f}x)")


if __name__ == "__main__":
    main()
