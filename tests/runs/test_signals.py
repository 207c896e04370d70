"""Ctrl-C and kill -9 against a real `runner apply` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from tests.runs.helpers import pid_alive, runner_cmd, runs_json, start_apply, wait_for

SLOW = """
version: 1
jobs:
  slow:
    command: "echo $$ > {pidfile}; sleep 60 & echo $! >> {pidfile}; wait"
  quick:
    command: "echo quick"
"""


def _pids(path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() and len(path.read_text().split()) == 2 else []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_cancel_running_jobs_and_exit_130(project, tmp_path, signum) -> None:
    """Ctrl-C, and what CI cancellation, `docker stop` or a closed terminal send."""
    pidfile = tmp_path / "pids"
    project.gen({"train.yaml": SLOW.format(pidfile=pidfile)})
    apply = start_apply(project)
    pids = wait_for(lambda: _pids(pidfile), 60, "the job to start")
    os.kill(apply.pid, signum)
    out, err = apply.communicate(timeout=60)
    assert apply.returncode == 130, (out, err)
    for pid in pids:
        wait_for(lambda: not pid_alive(pid), 15, f"process {pid} to end")
    statuses = {r["job"]: r["status"] for r in runs_json(project)}
    assert statuses["slow"] == "canceled"


def test_kill_9_then_apply_repairs_lost_runs(project, tmp_path) -> None:
    pidfile = tmp_path / "pids"
    project.gen({"train.yaml": SLOW.format(pidfile=pidfile)})
    apply = start_apply(project)
    pids = wait_for(lambda: _pids(pidfile), 60, "the job to start")
    apply.kill()  # SIGKILL: no handler runs, the job's process group is orphaned
    apply.wait(timeout=30)
    # Read-only commands already see that its runner is gone; the next apply records it.
    assert {r["job"]: r["status"] for r in runs_json(project)}["slow"] == "lost"
    lost = subprocess.run([*runner_cmd(), "runs", "list", "--status", "lost", "--json", "-C", str(project.root)],
                          capture_output=True, text=True, check=True)
    assert [r["id"] for r in json.loads(lost.stdout)] == ["slow-1"]
    pidfile.unlink()
    second = start_apply(project, "slow")
    wait_for(lambda: _pids(pidfile), 60, "the rerun to start")
    for pid in pids:
        wait_for(lambda: not pid_alive(pid), 15, f"orphan {pid} to be killed")
    os.kill(second.pid, signal.SIGINT)
    out, _ = second.communicate(timeout=60)
    assert "slow-1 was left active by a runner that died: marked lost" in out
    by_id = {r["id"]: r["status"] for r in runs_json(project)}
    assert by_id["slow-1"] == "lost" and by_id["slow-2"] == "canceled"


def test_a_closed_output_pipe_does_not_fail_the_runs(project, tmp_path) -> None:
    """`runner apply | head -1`: the reader goes away, the runs finish and are recorded."""
    project.gen({"train.yaml": "version: 1\njobs:\n  chatty:\n    command: python chatty.py\n",
                 "chatty.py": "import time\nfor i in range(50):\n    print('line', i, flush=True)\n"
                              "    time.sleep(0.01)\n"})
    done = subprocess.run(f"{' '.join(runner_cmd())} apply -C '{project.root}' | head -1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    wait_for(lambda: runs_json(project)[0]["status"] == "completed", 60, "the run to complete")
    assert "line 49" in (project / ".runner" / "runs" / "chatty-1" / "logs" / "std_log.txt").read_text()
