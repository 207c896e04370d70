"""Distributed jobs on the local compute: real ranks (torch gloo, mpirun, TF_CONFIG), real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.runs.helpers import apply_json, pid_alive, runner_cmd, runs_json, start_apply, wait_for

# What every distributed pytorch test script ends with: the all-reduce over gloo checked by each rank,
# a metric per rank, the model from rank 0.
ALL_REDUCE = """
dist.init_process_group("gloo")
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)
world = dist.get_world_size()
expected = world * (world + 1) / 2
print(f"rank {dist.get_rank()} of {world}: sum {value.item()}", flush=True)
if value.item() != expected:
    sys.exit(f"rank {rank}: all-reduce gave {value.item()}, expected {expected}")
tracking.log("sum", value.item() + rank)
if rank == 0:
    torch.save({"sum": value.item()}, os.path.join(out, "model.pt"))
dist.barrier()
dist.destroy_process_group()
"""

# Every rank: record its pid and what it was given, check the all-reduce, log a metric; rank 0 writes the model.
DDP = """
import json, os, sys
import torch
import torch.distributed as dist
from runner import tracking

out = os.environ["RUNNER_OUTPUTS"]
rank = int(os.environ["RANK"])
os.makedirs(os.path.join(out, "pids"), exist_ok=True)
open(os.path.join(out, "pids", str(rank)), "w").write(str(os.getpid()))
names = ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK",
         "LOCAL_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "TORCHELASTIC_RUN_ID", "RUNNER_RANK",
         "RUNNER_WORLD_SIZE", "RUNNER_NODE_RANK"]
json.dump({k: os.environ.get(k) for k in names}, open(os.path.join(out, f"env-{rank}.json"), "w"))
""" + ALL_REDUCE

# Ranks that record their pid, then: FAIL_RANK exits 1 at once, EARLY_RANK exits 0, the others sleep
# until stopped, and record in stopped/RANK that SIGTERM stopped them.
SLEEPERS = """
import os, signal, sys, time
rank = os.environ["RUNNER_RANK"]
out = os.environ["RUNNER_OUTPUTS"]
for folder in ("pids", "stopped"):
    os.makedirs(os.path.join(out, folder), exist_ok=True)

def stopped(signum, frame):
    open(os.path.join(out, "stopped", rank), "w").write(signal.Signals(signum).name)
    sys.exit(143)

signal.signal(signal.SIGTERM, stopped)
open(os.path.join(out, "pids", rank), "w").write(str(os.getpid()))
print("started", rank, flush=True)
if rank == os.environ.get("FAIL_RANK"):  # once every rank is up (and can record how it was stopped)
    for _ in range(600):
        if len(os.listdir(os.path.join(out, "pids"))) == int(os.environ["RUNNER_WORLD_SIZE"]):
            break
        time.sleep(0.1)
    sys.exit(1)
if rank != os.environ.get("EARLY_RANK"):
    time.sleep(120)
"""

TF = """
import json, os
config = json.loads(os.environ["TF_CONFIG"])
cluster, task = config["cluster"], config["task"]
assert sorted(cluster) == ["chief", "ps", "worker"], cluster
assert len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1 and len(cluster["chief"]) == 1
assert all(address.startswith("127.0.0.1:") for kind in cluster.values() for address in kind)
out = os.environ["RUNNER_OUTPUTS"]
open(os.path.join(out, os.environ["RUNNER_RANK"] + ".json"), "w").write(json.dumps(task))
print("task", task["type"], task["index"])
"""

MPI = """
import os
from mpi4py import MPI
comm = MPI.COMM_WORLD
assert comm.Get_size() == 4 and os.environ["RUNNER_WORLD_SIZE"] == "4"
assert comm.Get_rank() == int(os.environ["RUNNER_RANK"]) == int(os.environ["OMPI_COMM_WORLD_RANK"])
assert os.environ["RUNNER_NODE_RANK"] == str(comm.Get_rank() // 2)
total = comm.allreduce(comm.Get_rank(), op=MPI.SUM)
assert total == 6, total
from runner import tracking
tracking.log("total", total)
print("mpi rank", comm.Get_rank(), "of", comm.Get_size(), flush=True)
"""


def _need_mpirun() -> None:
    if shutil.which("mpirun") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("mpirun is missing under CI=true (.ci/run installs openmpi-bin)")
        pytest.skip("Open MPI's mpirun is not installed")


def _project(project: Any, jobs: str, files: dict[str, str]) -> None:
    project.gen({"train.yaml": f"version: 1\njobs:\n{jobs}", **files})


def _pids(project: Any, run_id: str) -> list[int]:
    folder = project / ".runner" / "runs" / run_id / "outputs" / "pids"
    return [int(p.read_text()) for p in folder.iterdir() if p.read_text()] if folder.is_dir() else []


def _assert_all_gone(pids: list[int]) -> None:
    assert pids
    for pid in pids:
        wait_for(lambda: not pid_alive(pid), 15, f"rank process {pid} to end")


def _cli_json(cli: Any, *args: Any) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_pytorch_2x2_gloo_all_reduce_local(project, cli) -> None:
    pytest.importorskip("torch")
    _project(project, "  train:\n    script: ddp.py\n    timeout: 5m\n"
                      "    distribution: {type: pytorch, nodes: 2, processes_per_node: 2}\n", {"ddp.py": DDP})
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    for rank in range(4):
        assert f"[rank {rank}] rank {rank} of 4: sum 10.0" in result.out
    run_dir = project / ".runner" / "runs" / "train-1"
    envs = [json.loads((run_dir / "outputs" / f"env-{r}.json").read_text()) for r in range(4)]
    ports = {e["MASTER_PORT"] for e in envs}
    assert len(ports) == 1 and all(e["MASTER_ADDR"] == "127.0.0.1" for e in envs)
    assert [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"], e["GROUP_RANK"]) for e in envs] == \
        [("0", "0", "0", "0"), ("1", "1", "0", "0"), ("2", "0", "1", "1"), ("3", "1", "1", "1")]
    assert all(e["WORLD_SIZE"] == e["ROLE_WORLD_SIZE"] == e["RUNNER_WORLD_SIZE"] == "4" for e in envs)
    assert all(e["LOCAL_WORLD_SIZE"] == "2" and e["TORCHELASTIC_RUN_ID"] == "train-1" for e in envs)
    assert [e["RUNNER_NODE_RANK"] for e in envs] == ["0", "0", "1", "1"]
    assert (run_dir / "outputs" / "model.pt").exists()
    # Logs: one per rank, the merged stream prefixed.
    for rank in range(4):
        assert (run_dir / "logs" / f"rank-{rank}.txt").read_text() == f"rank {rank} of 4: sum 10.0\n"
        shown = cli("runs", "logs", "train", "--rank", rank, "-C", project.root)
        assert shown.code == 0 and shown.out == f"rank {rank} of 4: sum 10.0\n"
    merged = cli("runs", "logs", "train", "-C", project.root).out
    assert sorted(merged.splitlines()) == [f"[rank {r}] rank {r} of 4: sum 10.0" for r in range(4)]
    missing = cli("runs", "logs", "train", "--rank", 4, "-C", project.root)
    assert missing.code != 0 and "its ranks are 0-3" in missing.err
    # Metrics: every rank's points are the run's; rank 0's unless asked.
    assert _cli_json(cli, "runs", "metrics", "train", "-C", project.root)["sum"][0]["value"] == 10.0
    assert _cli_json(cli, "runs", "metrics", "train", "--rank", 3, "-C", project.root)["sum"][0]["value"] == 13.0
    every = _cli_json(cli, "runs", "metrics", "train", "--all-ranks", "-C", project.root)["sum"]
    assert sorted((p["rank"], p["value"]) for p in every) == [(0, 10.0), (1, 11.0), (2, 12.0), (3, 13.0)]
    for args in (["train", "--rank", 4], ["train", "--rank", 9, "--json"]):
        beyond = cli("runs", "metrics", *args, "-C", project.root)
        assert beyond.code == 1 and beyond.out == "" and "has no metrics of rank" in beyond.err and "0-3" in beyond.err
    both = cli("runs", "metrics", "train", "--rank", 1, "--all-ranks", "-C", project.root)
    assert both.code != 0 and "not both" in both.err
    _assert_all_gone(_pids(project, "train-1"))


def test_counts_are_in_the_fingerprint(project, cli) -> None:
    _project(project, "  t:\n    command: 'true'\n    distribution: {type: pytorch, processes_per_node: 2}\n", {})
    assert apply_json(cli, project)[0] == 0
    (project / "train.yaml").write_text(
        "version: 1\njobs:\n  t:\n    command: 'true'\n    distribution: {type: pytorch, processes_per_node: 3}\n")
    plan = _cli_json(cli, "plan", "-C", project.root)
    assert plan["actions"][0]["reasons"] == ["distribution: pytorch 1x2 -> pytorch 1x3"]


def test_tensorflow_tf_config_per_task(project, cli) -> None:
    _project(project, "  tf:\n    script: tf.py\n"
                      "    distribution: {type: tensorflow, workers: 2, parameter_servers: 1, chief: true}\n",
             {"tf.py": TF})
    code, result = apply_json(cli, project)
    assert code == 0, result
    out = project / ".runner" / "runs" / "tf-1" / "outputs"
    tasks = [json.loads((out / f"{rank}.json").read_text()) for rank in range(4)]
    assert tasks == [{"type": "chief", "index": 0}, {"type": "worker", "index": 0},
                     {"type": "worker", "index": 1}, {"type": "ps", "index": 0}]


def test_mpi_four_processes_with_mpi4py(project, cli) -> None:
    _need_mpirun()
    pytest.importorskip("mpi4py")
    _project(project, "  hvd:\n    script: mpi.py\n    timeout: 5m\n"
                      "    distribution: {type: mpi, nodes: 2, processes_per_node: 2}\n", {"mpi.py": MPI})
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    for rank in range(4):
        assert f"[rank {rank}] mpi rank {rank} of 4" in result.out
        assert (project / ".runner" / "runs" / "hvd-1" / "logs" / f"rank-{rank}.txt").read_text() == \
            f"mpi rank {rank} of 4\n"
    every = _cli_json(cli, "runs", "metrics", "hvd", "--all-ranks", "-C", project.root)["total"]
    assert sorted(p["rank"] for p in every) == [0, 1, 2, 3]


def test_missing_mpirun_is_a_plan_error_naming_the_package(project, cli, monkeypatch) -> None:
    _project(project, "  hvd:\n    command: 'true'\n    distribution: {type: mpi, processes_per_node: 2}\n", {})
    monkeypatch.setenv("RUNNER_MPIRUN", str(project / "no-mpirun"))
    result = cli("plan", "-C", project.root)
    assert result.code != 0 and "openmpi-bin" in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["pytorch", "mpi"])
def test_a_failing_rank_stops_the_others(project, cli, kind, monkeypatch) -> None:
    if kind == "mpi":
        _need_mpirun()
    _project(project, f"  t:\n    script: ranks.py\n    distribution: {{type: {kind}, processes_per_node: 4}}\n",
             {"ranks.py": SLEEPERS})
    monkeypatch.setenv("FAIL_RANK", "2")
    code, result = apply_json(cli, project)
    assert code != 0
    run = result["runs"][0]
    assert run["status"] == "failed" and run["detail"] == "rank 2 exited with 1", run
    _assert_all_gone(_pids(project, "t-1"))
    assert _stopped(project) == {"0": "SIGTERM", "1": "SIGTERM", "3": "SIGTERM"}  # stopped, not left to end


def _stopped(project: Any, run_id: str = "t-1") -> dict[str, str]:
    folder = project / ".runner" / "runs" / run_id / "outputs" / "stopped"
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_timeout_covers_the_group(project, cli) -> None:
    _project(project, "  t:\n    script: ranks.py\n    timeout: 4s\n"
                      "    distribution: {type: pytorch, nodes: 2, processes_per_node: 2}\n", {"ranks.py": SLEEPERS})
    code, result = apply_json(cli, project)
    assert code != 0 and result["runs"][0]["detail"] == "timeout after 4s", result
    _assert_all_gone(_pids(project, "t-1"))
    assert _stopped(project) == {str(rank): "SIGTERM" for rank in range(4)}


def _started(project: Any, count: int) -> list[int]:
    pids = _pids(project, "t-1")
    return pids if len(pids) == count else []


@pytest.mark.parametrize(("signum", "kind"), [(signal.SIGINT, "pytorch"), (signal.SIGTERM, "pytorch"),
                                             (signal.SIGINT, "mpi")])
def test_cancel_stops_every_rank(project, signum, kind) -> None:
    if kind == "mpi":
        _need_mpirun()
    _project(project, f"  t:\n    script: ranks.py\n    distribution: {{type: {kind}, processes_per_node: 3}}\n",
             {"ranks.py": SLEEPERS})
    apply = start_apply(project)
    pids = wait_for(lambda: _started(project, 3), 60, "the ranks to start")
    os.kill(apply.pid, signum)
    out, err = apply.communicate(timeout=60)
    assert apply.returncode == 130, (out, err)
    _assert_all_gone(pids)
    assert {r["id"]: r["status"] for r in runs_json(project)} == {"t-1": "canceled"}
    assert _stopped(project) == {str(rank): "SIGTERM" for rank in range(3)}


@pytest.mark.parametrize("kind", ["pytorch", "mpi"])
def test_a_dead_runner_s_ranks_are_stopped_by_the_next_apply(project, kind) -> None:
    """pytorch: rank 0 (the process group's leader) has ended, the others are still found and
    killed; mpi: mpirun, which outlives its runner, stops its ranks."""
    if kind == "mpi":
        _need_mpirun()
    _project(project, f"  t:\n    script: ranks.py\n    distribution: {{type: {kind}, processes_per_node: 3}}\n",
             {"ranks.py": SLEEPERS})
    env = {**os.environ, "EARLY_RANK": "0"}
    apply = subprocess.Popen([*runner_cmd(), "apply", "-C", str(project.root)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    pids = wait_for(lambda: _started(project, 3), 60, "the ranks to start")
    wait_for(lambda: not pid_alive(pids_by_rank(project)[0]), 30, "rank 0 to end")
    apply.kill()
    apply.wait(timeout=30)
    assert all(pid_alive(pid) for pid in pids_by_rank(project)[1:])
    again = subprocess.run([*runner_cmd(), "apply", "-C", str(project.root), "--json"], capture_output=True,
                           text=True, timeout=120, env={**os.environ, "EARLY_RANK": "0", "FAIL_RANK": "1"})
    assert "t-1" in again.stdout or again.returncode in (0, 1), again.stderr
    _assert_all_gone(pids)
    assert {r["id"]: r["status"] for r in runs_json(project)}["t-1"] == "lost"


def pids_by_rank(project: Any) -> list[int]:
    folder = project / ".runner" / "runs" / "t-1" / "outputs" / "pids"
    return [int((folder / str(rank)).read_text()) for rank in range(3)]


def test_outputs_are_shared_by_the_ranks(project, cli) -> None:
    script = "import os\nopen(os.path.join(os.environ['RUNNER_OUTPUTS'], os.environ['RUNNER_RANK']), 'w').write('x')\n"
    _project(project, "  t:\n    script: w.py\n    distribution: {type: pytorch, processes_per_node: 3}\n",
             {"w.py": script})
    assert apply_json(cli, project)[0] == 0
    shown = _cli_json(cli, "runs", "show", "t", "-C", project.root)
    assert [o["path"] for o in shown["outputs"]] == ["outputs/0", "outputs/1", "outputs/2"]
    assert Path(project / ".runner" / "runs" / "t-1" / "logs" / "rank-2.txt").read_text() == ""


def test_the_pytorch_template_s_ddp_job_runs_on_the_cpu(tmp_path: Path, cli) -> None:
    """`runner init --template pytorch`'s DDP job, with runner's interpreter (it has torch) and 3 epochs."""
    pytest.importorskip("torch")
    from runner.scaffold import init_project

    init_project(tmp_path, template="pytorch", force=False)
    text = (tmp_path / "train.yaml").read_text().replace("    environment: torch\n", "")
    (tmp_path / "train.yaml").write_text(text.replace("params: {epochs: 50,", "params: {epochs: 3,"))
    result = cli("apply", "train-ddp", "-C", tmp_path)
    assert result.code == 0, result.out + result.err
    assert "[rank 0] final loss" in result.out and "[rank 1]" not in result.out  # rank 0 writes the model
    assert (tmp_path / ".runner" / "runs" / "train-ddp-1" / "outputs" / "model.pt").exists()
    every = json.loads(cli("runs", "metrics", "train-ddp", "--all-ranks", "--json", "-C", tmp_path).out)["loss"]
    assert sorted({p["rank"] for p in every}) == [0, 1] and len(every) == 6


@pytest.mark.parametrize("version", [(3, 10), (3, 11)])
def test_ranks_join_the_leader_s_process_group_on_every_python(tmp_path, monkeypatch, version) -> None:
    """Popen(process_group=) is 3.11+; on 3.10 the members join through setpgid before exec."""
    import sys as real_sys
    from types import SimpleNamespace

    from runner.compute import local_group

    monkeypatch.setattr(local_group, "sys", SimpleNamespace(version_info=version))
    launch = SimpleNamespace(run_dir=tmp_path, job="t")
    sleep = [real_sys.executable, "-c", "import time; time.sleep(30)"]
    leader = local_group._spawn(sleep, launch, dict(os.environ), group=0)
    member = local_group._spawn(sleep, launch, dict(os.environ), group=leader.pid)
    try:
        assert os.getpgid(leader.pid) == leader.pid != os.getpgid(0)
        assert os.getpgid(member.pid) == leader.pid
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)
        member.wait(timeout=10)
