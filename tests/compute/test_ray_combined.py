"""The ray compute combined with the other features, through `runner apply` against a real Ray head:
a distributed pytorch job (ranks as Ray tasks) and a sweep (trials as Ray jobs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compute.ray_support import ray_address
from tests.compute.test_distributed_local import ALL_REDUCE
from tests.runs.helpers import apply_json, plan_json

pytestmark = pytest.mark.slow


def _cli_json(cli: Any, *args: Any) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _computes(address: str, storage: Path, cpus: float) -> str:
    return f'computes:\n  cluster: {{type: ray, address: "{address}", storage: "file://{storage}", cpus: {cpus}}}\n'


# Every rank records what it was given, checks the all-reduce over gloo, logs a metric; rank 0 writes the model.
DDP = """
import json, os, sys
import torch
import torch.distributed as dist
from runner import tracking

out = os.environ["RUNNER_OUTPUTS"]
rank = int(os.environ["RANK"])
names = ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK",
         "GROUP_WORLD_SIZE", "LOCAL_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "TORCHELASTIC_RUN_ID",
         "RUNNER_RANK", "RUNNER_WORLD_SIZE", "RUNNER_NODE_RANK", "RUNNER_RUN_ID"]
with open(os.path.join(out, f"env-{rank}.json"), "w") as handle:
    json.dump({k: os.environ.get(k) for k in names}, handle)
""" + ALL_REDUCE


def test_pytorch_2x2_gloo_all_reduce_on_ray(project, cli, tmp_path) -> None:
    pytest.importorskip("torch")  # the test head runs jobs in this venv's Python
    address = ray_address()
    # cpus: 2 on the 2-CPU test head: the ranks' share, which the entrypoint must not hold as well.
    project.gen({"train.yaml": "version: 1\n" + _computes(address, tmp_path / "storage", 2) +
                 "jobs:\n  train:\n    script: ddp.py\n    compute: cluster\n    timeout: 5m\n"
                 "    distribution: {type: pytorch, nodes: 2, processes_per_node: 2}\n"
                 "models:\n  m: {job: train, path: outputs/model.pt}\n",
                 "ddp.py": DDP})
    project.commit()
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    assert "Traceback" not in result.err
    assert " INFO " not in result.out + result.err  # Ray's own log lines are not runner's output
    for rank in range(4):
        assert f"[rank {rank}] rank {rank} of 4: sum 10.0" in result.out, result.out
    run_dir = project / ".runner" / "runs" / "train-1"
    shown = _cli_json(cli, "runs", "show", "train-1", "-C", project.root)
    assert shown["status"] == "completed"
    assert sorted(o["path"] for o in shown["outputs"]) == \
        sorted(["outputs/model.pt"] + [f"outputs/env-{r}.json" for r in range(4)])
    # What each rank saw: torchrun's variables, one master (rank 0's node, a real port).
    envs = [json.loads((run_dir / "outputs" / f"env-{r}.json").read_text()) for r in range(4)]
    assert len({(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in envs}) == 1
    assert envs[0]["MASTER_ADDR"] not in ("", "0.0.0.0") and int(envs[0]["MASTER_PORT"]) > 0
    assert [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"], e["GROUP_RANK"]) for e in envs] == \
        [("0", "0", "0", "0"), ("1", "1", "0", "0"), ("2", "0", "1", "1"), ("3", "1", "1", "1")]
    assert all(e["WORLD_SIZE"] == e["ROLE_WORLD_SIZE"] == e["RUNNER_WORLD_SIZE"] == "4" for e in envs)
    assert all(e["LOCAL_WORLD_SIZE"] == e["GROUP_WORLD_SIZE"] == "2" for e in envs)
    assert all(e["TORCHELASTIC_RUN_ID"] == e["RUNNER_RUN_ID"] == "train-1" for e in envs)
    assert [e["RUNNER_NODE_RANK"] for e in envs] == ["0", "0", "1", "1"]
    assert [e["RUNNER_RANK"] for e in envs] == ["0", "1", "2", "3"]
    # Logs: one per rank, the run's log has them all prefixed.
    for rank in range(4):
        one = cli("runs", "logs", "train-1", "--rank", rank, "-C", project.root)
        assert one.code == 0 and one.out == f"rank {rank} of 4: sum 10.0\n", one
    merged = cli("runs", "logs", "train-1", "-C", project.root).out
    for rank in range(4):
        assert merged.count(f"[rank {rank}] rank {rank} of 4: sum 10.0\n") == 1, merged
    missing = cli("runs", "logs", "train-1", "--rank", 4, "-C", project.root)
    assert missing.code != 0 and "its ranks are 0-3" in missing.err
    # Metrics: every rank's points are the run's, each once; rank 0's unless asked.
    assert [p["value"] for p in _cli_json(cli, "runs", "metrics", "train-1", "-C", project.root)["sum"]] == [10.0]
    assert [p["value"] for p in _cli_json(cli, "runs", "metrics", "train-1", "--rank", 3, "-C",
                                          project.root)["sum"]] == [13.0]
    every = _cli_json(cli, "runs", "metrics", "train-1", "--all-ranks", "-C", project.root)["sum"]
    assert sorted((p["rank"], p["value"]) for p in every) == [(0, 10.0), (1, 11.0), (2, 12.0), (3, 13.0)]
    # The model rank 0 wrote is registered; an unchanged job is up to date.
    assert [m["name"] for m in _cli_json(cli, "models", "list", "-C", project.root)] == ["m"]
    assert {a["target"]: a["action"] for a in plan_json(cli, project)["actions"]}["train"] == "skip"


def test_a_sweep_on_ray_runs_its_trials_as_ray_jobs_and_reconciles(project, cli, tmp_path) -> None:
    from tests.sweeps.support import run_ids, show, sweep_spec, tune_script

    address = ray_address()
    grid = "{x: {type: choice, values: [1, 2]}}"
    spec = sweep_spec(grid, limits="{max_concurrent_trials: 2}").replace(
        "    code: src\n", "    code: src\n    compute: cluster\n")
    project.gen({"train.yaml": spec.replace("version: 1\n", "version: 1\n" + _computes(address, tmp_path / "s", 0.5)),
                 "src": {"tune.py": tune_script()}})
    project.commit()
    code, result = apply_json(cli, project)
    assert code == 0, result
    shown = show(cli, project)
    assert sorted((t["params"]["x"], t["status"]) for t in shown["trials"]) == [(1, "completed"), (2, "completed")]
    assert shown["best"]["params"]["x"] == 2 and shown["best"]["value"] == 2.0
    from tests.compute.ray_support import remote_id

    assert all(remote_id(project.root, t["run_id"]).startswith("raysubmit_") for t in shown["trials"])
    assert apply_json(cli, project)[1]["runs"] == []  # reconciled: nothing runs again
    (project / "train.yaml").write_text((project / "train.yaml").read_text().replace("[1, 2]", "[1, 2, 3]"))
    code, result = apply_json(cli, project)
    assert code == 0, result
    again = show(cli, project)
    assert again["sweep_id"] != shown["sweep_id"] and again["best"]["params"]["x"] == 3
    assert len(run_ids(cli, project)) == 3  # x=1 and x=2 were reused, only x=3 ran
