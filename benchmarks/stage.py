"""Staging a run's code on a 10,001-file project (issue 15): `python benchmarks/stage.py [--files 10000] [--repeat 5]`.

Builds `code: src` with `--files` small modules plus `train.py`, then prints, in one run,
the min and median of `--repeat` measurements of:
  - `python train.py` alone, and a cold `git add -A` of the same tree (the references)
  - a cold first `runner apply` (fresh project copy, empty `.runner/`), vs `git add -A`
    (target: within 1.5x)
  - `runner apply` after a one-line edit, minus `python train.py` (target: <= 0.2 s), and
    what it costs over a no-op `runner apply` (the machine's own floor)
  - staging one unchanged snapshot for 20 runs, in process, as the executor does
    (target: <= 20 x 0.05 s in all; `--twenty-rounds` rounds, default 3: before issue 15
    one round copies the tree 20 times)
Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import compile_runner

RUNNER = [str(Path(sys.executable).with_name("runner"))] if Path(sys.executable).with_name("runner").exists() \
    else [sys.executable, "-m", "runner"]
TRAIN = "import os\nopen(os.path.join(os.environ.get('RUNNER_OUTPUTS', '.'), 'm.txt'), 'w').write('m')\n"
SPEC = "version: 1\nsnapshot: {warn_mb: 100000, warn_files: 1000000}\njobs:\n  train:\n    code: src\n    script: train.py\n"


def build(root: Path, files: int) -> None:
    src = root / "src"
    for i in range(files):
        folder = src / f"pkg{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text(f"# module {i}\nVALUE = {i}\n")
    (src / "train.py").write_text(TRAIN)
    (root / "train.yaml").write_text(SPEC)


def measure(step: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> list[float]:
    times = []
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def run(cmd: list[str], cwd: Path | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stage_twenty(root: Path) -> float:
    """Seconds to stage the last run's snapshot for 20 runs, one after another, in process."""
    from runner.project import find_project
    from runner.state import open_state

    with open_state(find_project(root), create=False) as state:
        digest = state.db.execute("SELECT snapshot FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0]
        scratch = Path(tempfile.mkdtemp(dir=state.root))
        try:
            start = time.perf_counter()
            try:
                from runner.snapshot.workspace import lease_workspace
            except ImportError:  # before issue 15: a full copy per run
                from runner.snapshot.stage import stage_snapshot

                for i in range(20):
                    stage_snapshot(state, digest, scratch / str(i))
            else:
                for i in range(20):
                    with lease_workspace(state, "train", digest, scratch / str(i)):
                        pass
            return time.perf_counter() - start
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def show(name: str, times: list[float], extra: str = "") -> None:
    print(f"{name:<44} min {min(times):7.3f} s  median {statistics.median(times):7.3f} s  {extra}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--twenty-rounds", type=int, default=3, help="rounds of the 20-run staging figure")
    args = parser.parse_args()
    compile_runner()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        build(base, args.files)
        cold_dir = Path(tmp) / "cold"

        def fresh_copy() -> None:
            shutil.rmtree(cold_dir, ignore_errors=True)
            shutil.copytree(base, cold_dir)
            run(["sync"])

        def fresh_git() -> None:
            fresh_copy()
            run(["git", "init", "-q"], cwd=cold_dir)
            run(["sync"])

        print(f"project: code: src with {args.files} files + train.py; {args.repeat} rounds", flush=True)
        proj = Path(tmp) / "proj"
        shutil.copytree(base, proj)
        run([*RUNNER, "apply", "-C", str(proj)])
        counter = iter(range(10**6))

        def edit() -> None:
            (proj / "src" / "train.py").write_text(TRAIN + f"# edit {next(counter)}\n")

        script = measure(lambda: run([sys.executable, "train.py"], cwd=proj / "src"), args.repeat)
        show("python train.py alone", script)
        rerun = measure(lambda: run([*RUNNER, "apply", "-C", str(proj)]), args.repeat, before=edit)
        show("apply after a one-line edit", rerun)
        show("  minus python train.py", [r - statistics.median(script) for r in rerun], "(target <= 0.2 s)")
        noop = measure(lambda: run([*RUNNER, "apply", "-C", str(proj)]), args.repeat)
        show("apply with nothing changed (the reference)", noop,
             f"edit costs {statistics.median(rerun) - statistics.median(noop) - statistics.median(script):.3f} s "
             f"more, python train.py aside")
        # Paired and interleaved (git, then runner, each on a fresh copy): this machine's cost of
        # creating files drifts over minutes; each copy is synced first so that writing it back
        # is not charged to the step measured.
        git_add, cold = [], []
        for _ in range(args.repeat):
            git_add += measure(lambda: run(["git", "add", "-A"], cwd=cold_dir), 1, before=fresh_git)
            cold += measure(lambda: run([*RUNNER, "apply", "-C", str(cold_dir)]), 1, before=fresh_copy)
        show("git add -A (cold, same tree)", git_add)
        show("first runner apply (cold)", cold,
             f"ratio {min(cold) / min(git_add):.2f}x / {statistics.median(cold) / statistics.median(git_add):.2f}x "
             f"git add -A (target <= 1.5x)")
        pairs = sorted(c / g for c, g in zip(cold, git_add))
        print(f"  paired ratios (each round's runner / git)   {', '.join(f'{r:.2f}' for r in pairs)}", flush=True)
        twenty = [stage_twenty(proj) for _ in range(args.twenty_rounds)]
        show("staging one snapshot for 20 runs", twenty, "(target <= 1.0 s in all)")


if __name__ == "__main__":
    main()
