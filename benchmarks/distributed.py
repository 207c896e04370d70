"""Benchmark: the start-up overhead of a 4-process pytorch job over a 1-process one.

Run: python benchmarks/distributed.py [--rounds 5] [--torch]. A project with two jobs
running the same script (the default environment: the current interpreter, nothing to
build): `one` as a single process, `four` with `distribution: {type: pytorch,
processes_per_node: 4}`. Each round forces both (`runner apply --force JOB`) and times
the whole apply. The script prints a line and exits; with --torch it also imports torch
and joins a gloo process group (then the figure includes torch's own rendezvous). The
reference is `python -c pass` and the same script started 4 times by hand, at once, in
the same run: runner's share is the 4-process apply minus the 1-process apply, against
that hand-started figure minus one process. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import compile_runner

PLAIN = "import os\nprint('rank', os.environ.get('RUNNER_RANK', '0'))\n"
TORCH = ("import os\nimport torch.distributed as dist\n"
         "if 'RANK' in os.environ:\n    dist.init_process_group('gloo')\n    dist.barrier()\n"
         "    dist.destroy_process_group()\nprint('rank', os.environ.get('RUNNER_RANK', '0'))\n")
SPEC = """version: 1
jobs:
  one:
    script: job.py
  four:
    script: job.py
    distribution: {type: pytorch, processes_per_node: 4}
"""


def runner_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("runner")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runner"]


def timed(args: list[str], **kw: object) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - start


def by_hand(script: Path, count: int) -> float:
    """`count` copies of the script started at once, with the variables runner gives them (a floor)."""
    from runner.compute.local_group import free_ports
    from runner.compute.ranks import rank_table
    from runner.spec.types import Distribution

    envs = [{}] if count == 1 else [entry.env for entry in rank_table(
        Distribution(type="pytorch", processes_per_node=count), "bench", ["127.0.0.1"], free_ports(1))]
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, env={**os.environ, **env})
             for env in envs]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - start


def main() -> None:
    compile_runner()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--torch", action="store_true", help="join a gloo process group in each rank")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "proj")
        root.mkdir()
        (root / "train.yaml").write_text(SPEC)
        (root / "job.py").write_text(TORCH if args.torch else PLAIN)
        apply = [*runner_cmd(), "apply", "-C", str(root), "--force"]
        timed([*apply, "one"])  # warm: the state folder, the spec cache, the environment
        timed([*apply, "four"])
        one, four, hand1, hand4, bare = [], [], [], [], []
        for _ in range(args.rounds):  # interleaved: a busy moment hits every figure alike
            one.append(timed([*apply, "one"]))
            four.append(timed([*apply, "four"]))
            hand1.append(by_hand(root / "job.py", 1))
            hand4.append(by_hand(root / "job.py", 4))
            bare.append(timed([sys.executable, "-c", "pass"]))
    m = {name: statistics.median(values) for name, values in
         (("one", one), ("four", four), ("hand1", hand1), ("hand4", hand4), ("bare", bare))}
    extra, extra_hand = m["four"] - m["one"], m["hand4"] - m["hand1"]
    print(f"script:                          {'torch gloo rendezvous' if args.torch else 'plain print'}")
    print(f"apply, 1 process (median):       {m['one']:.3f} s")
    print(f"apply, 4 processes (median):     {m['four']:.3f} s")
    print(f"overhead of 4 over 1:            {extra:.3f} s  (ratio {m['four'] / m['one']:.2f}x)")
    print(f"by hand, 1 / 4 processes:        {m['hand1']:.3f} s / {m['hand4']:.3f} s  "
          f"(4 over 1: {extra_hand:.3f} s, ratio {m['hand4'] / m['hand1']:.2f}x)")
    print(f"runner's share of the overhead:  {extra - extra_hand:.3f} s")
    print(f"python -c pass:                  {m['bare']:.3f} s  (overhead / it: {extra / m['bare']:.1f}x)")


if __name__ == "__main__":
    main()
