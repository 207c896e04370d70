"""Distributed jobs on the docker compute: one container per node on a network of the run.

The torch image (RUNNER_TEST_TORCH_IMAGE, made by .ci/run) has torch in /opt/venv; the
other jobs use the base image. Each test checks that no container and no network of its
runs is left, whatever the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from runner.spec import from_data
from tests.compute.test_distributed_local import DDP, SLEEPERS
from tests.docker_support import Images, base_image, client, containers_of, remove_containers
from tests.runs.helpers import apply_json, runs_json, start_apply, wait_for

TF = """
import json, os
config = json.loads(os.environ["TF_CONFIG"])
out = os.environ["RUNNER_OUTPUTS"]
json.dump({"config": config, "host": os.uname().nodename}, open(os.path.join(out, os.environ["RUNNER_RANK"] + ".json"), "w"))
"""

MPI_PLAIN = """
import os
rank, size = int(os.environ["OMPI_COMM_WORLD_RANK"]), int(os.environ["OMPI_COMM_WORLD_SIZE"])
assert size == 4 and os.environ["RUNNER_RANK"] == str(rank) and os.environ["RUNNER_WORLD_SIZE"] == "4"
assert os.environ["OMPI_COMM_WORLD_LOCAL_RANK"] == str(rank)
print("mpi", rank, "of", size, flush=True)
"""


def torch_image() -> str:
    image = os.environ.get("RUNNER_TEST_TORCH_IMAGE")
    if not image:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("RUNNER_TEST_TORCH_IMAGE is not set under CI=true (run the tests through .ci/run)")
        pytest.skip("RUNNER_TEST_TORCH_IMAGE is not set (run the tests through .ci/run)")
    base_image()  # skips (or fails under CI) without a daemon
    return str(image)


ENVIRONMENTS: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture(scope="module", autouse=True)
def _remove_env_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    from runner.envs.docker import docker_fingerprint, image_tag

    made = Images()
    for name, env in ENVIRONMENTS:
        spec = from_data({"version": 1, "environments": {name: env}})
        made.add(image_tag(docker_fingerprint(spec, name, tmp_path_factory.mktemp("fp"))))
    made.remove_all()


@pytest.fixture
def sweep(project: Any) -> Iterator[None]:
    yield
    remove_containers(project)
    for network in _networks(project):
        network.remove()


def _networks(project: Any) -> list[Any]:
    state = str(project / ".runner")
    return [n for n in client().networks.list(filters={"label": "runner.run"})
            if (n.attrs.get("Labels") or {}).get("runner.state") == state]


def _project(project: Any, image: str, job: str, files: dict[str, str], box: str = "type: docker, cpus: 1") -> None:
    env = {"docker": {"image": image}}
    ENVIRONMENTS.append(("e", env))
    project.gen({"train.yaml": f"version: 1\nenvironments:\n  e: {json.dumps(env)}\n"
                               f"computes:\n  box: {{{box}}}\njobs:\n  t:\n    environment: e\n"
                               f"    compute: box\n{job}", **files})


def _nothing_left(project: Any, run_id: str) -> None:
    assert containers_of(run_id, project) == []
    assert _networks(project) == []


@pytest.mark.usefixtures("sweep")
def test_pytorch_2x2_gloo_all_reduce_docker(project: Any, cli: Any) -> None:
    _project(project, torch_image(), "    command: /opt/venv/bin/python -u ddp.py\n    timeout: 10m\n"
             "    distribution: {type: pytorch, nodes: 2, processes_per_node: 2}\n", {"ddp.py": DDP})
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    run_dir = project / ".runner" / "runs" / "t-1"
    envs = [json.loads((run_dir / "outputs" / f"env-{r}.json").read_text()) for r in range(4)]
    masters = {e["MASTER_ADDR"] for e in envs}
    assert len(masters) == 1 and masters.pop().endswith("-node0")
    assert [(e["RANK"], e["LOCAL_RANK"], e["NODE_RANK"]) for e in envs] == \
        [("0", "0", "0"), ("1", "1", "0"), ("2", "0", "1"), ("3", "1", "1")]
    for rank in range(4):
        assert (run_dir / "logs" / f"rank-{rank}.txt").read_text() == f"rank {rank} of 4: sum 10.0\n"
    assert (run_dir / "outputs" / "model.pt").stat().st_uid == os.getuid()  # the shared bind mount
    every = json.loads(cli("runs", "metrics", "t", "--all-ranks", "--json", "-C", project.root).out)["sum"]
    assert sorted(p["rank"] for p in every) == [0, 1, 2, 3]
    _nothing_left(project, "t-1")


@pytest.mark.usefixtures("sweep")
def test_on_the_host_network_the_ranks_take_free_ports(project: Any, cli: Any) -> None:
    """`network: host` shares this machine's ports: rank 0 must not listen on a fixed one another program holds."""
    _project(project, torch_image(), "    command: /opt/venv/bin/python -u ddp.py\n    timeout: 10m\n"
             "    distribution: {type: pytorch, processes_per_node: 2}\n", {"ddp.py": DDP},
             box="type: docker, cpus: 1, network: host")
    with socket.socket() as held:  # the port torchrun would take by default, busy on this machine
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("0.0.0.0", 29500))
        held.listen()
        result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    envs = [json.loads((project / ".runner" / "runs" / "t-1" / "outputs" / f"env-{r}.json").read_text())
            for r in range(2)]
    assert {e["MASTER_ADDR"] for e in envs} == {"127.0.0.1"}
    assert len({e["MASTER_PORT"] for e in envs}) == 1 and envs[0]["MASTER_PORT"] != "29500"
    _nothing_left(project, "t-1")


@pytest.mark.usefixtures("sweep")
def test_tensorflow_tasks_across_containers(project: Any, cli: Any) -> None:
    _project(project, base_image(), "    command: python3 tf.py\n"
             "    distribution: {type: tensorflow, workers: 2, parameter_servers: 1, nodes: 2}\n", {"tf.py": TF})
    code, result = apply_json(cli, project)
    assert code == 0, result
    out = project / ".runner" / "runs" / "t-1" / "outputs"
    seen = [json.loads((out / f"{rank}.json").read_text()) for rank in range(3)]
    cluster = seen[0]["config"]["cluster"]
    for item in seen:
        kind, index = item["config"]["task"]["type"], item["config"]["task"]["index"]
        assert cluster[kind][index].split(":")[0] == item["host"]  # its own container's name
    assert {s["host"] for s in seen} == {cluster["worker"][0].split(":")[0], cluster["worker"][1].split(":")[0]}
    _nothing_left(project, "t-1")


@pytest.mark.usefixtures("sweep")
def test_a_failing_rank_removes_every_container(project: Any, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project, base_image(), "    command: python3 -u ranks.py\n"
             "    distribution: {type: pytorch, nodes: 2, processes_per_node: 2}\n", {"ranks.py": SLEEPERS})
    (project / "train.yaml").write_text((project / "train.yaml").read_text().replace(
        "  e: {", '  e: {"variables": {"FAIL_RANK": "3"}, '))
    ENVIRONMENTS.append(("e", {"variables": {"FAIL_RANK": "3"}, "docker": {"image": base_image()}}))
    code, result = apply_json(cli, project)
    assert code != 0 and result["runs"][0]["detail"] == "rank 3 exited with 1", result
    _nothing_left(project, "t-1")
    stopped = project / ".runner" / "runs" / "t-1" / "outputs" / "stopped"
    assert {p.name: p.read_text() for p in stopped.iterdir()} == {str(r): "SIGTERM" for r in range(3)}


@pytest.mark.usefixtures("sweep")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cancel_removes_every_container(project: Any, signum: int) -> None:
    """Ctrl-C, and what CI cancellation or `docker stop` sends: every rank stopped, every container gone."""
    _project(project, base_image(), "    command: python3 -u ranks.py\n"
             "    distribution: {type: pytorch, nodes: 2, processes_per_node: 1}\n", {"ranks.py": SLEEPERS})
    apply = start_apply(project)
    pids = project / ".runner" / "runs" / "t-1" / "outputs" / "pids"
    wait_for(lambda: pids.is_dir() and len(list(pids.iterdir())) == 2, 120, "both ranks to start")
    assert len(containers_of("t-1", project)) == 2 and len(_networks(project)) == 1
    os.kill(apply.pid, signum)
    out, err = apply.communicate(timeout=60)
    assert apply.returncode == 130, (out, err)
    _nothing_left(project, "t-1")
    assert {r["id"]: r["status"] for r in runs_json(project)} == {"t-1": "canceled"}
    stopped = project / ".runner" / "runs" / "t-1" / "outputs" / "stopped"
    assert {p.name: p.read_text() for p in stopped.iterdir()} == {"0": "SIGTERM", "1": "SIGTERM"}


@pytest.mark.usefixtures("sweep")
def test_a_timeout_stops_every_rank_and_removes_every_container(project: Any, cli: Any) -> None:
    _project(project, base_image(), "    command: python3 -u ranks.py\n    timeout: 8s\n"
             "    distribution: {type: pytorch, nodes: 2, processes_per_node: 1}\n", {"ranks.py": SLEEPERS})
    code, result = apply_json(cli, project)
    assert code != 0 and result["runs"][0]["detail"] == "timeout after 8s", result
    _nothing_left(project, "t-1")
    stopped = project / ".runner" / "runs" / "t-1" / "outputs" / "stopped"
    assert {p.name: p.read_text() for p in stopped.iterdir()} == {"0": "SIGTERM", "1": "SIGTERM"}


@pytest.mark.usefixtures("sweep")
def test_mpi_inside_one_container(project: Any, cli: Any) -> None:
    env = {"docker": {"image": base_image(), "apt": ["openmpi-bin"]}}
    ENVIRONMENTS.append(("e", env))
    project.gen({"mpi.py": MPI_PLAIN, "train.yaml": (
        f"version: 1\nenvironments:\n  e: {json.dumps(env)}\ncomputes:\n  box: {{type: docker}}\n"
        "jobs:\n  t:\n    environment: e\n    compute: box\n    command: python3 -u mpi.py\n"
        "    distribution: {type: mpi, processes_per_node: 4}\n")})
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.out + result.err
    for rank in range(4):
        assert f"[rank {rank}] mpi {rank} of 4" in result.out
    _nothing_left(project, "t-1")


@pytest.mark.usefixtures("sweep")
def test_a_dead_runner_s_containers_and_network_go_with_the_next_apply(project: Any, cli: Any) -> None:
    _project(project, base_image(), "    command: python3 -u ranks.py\n"
             "    distribution: {type: pytorch, nodes: 2, processes_per_node: 1}\n"
             "  other:\n    command: 'true'\n", {"ranks.py": SLEEPERS})
    apply = start_apply(project, "t")
    pids = project / ".runner" / "runs" / "t-1" / "outputs" / "pids"
    wait_for(lambda: pids.is_dir() and len(list(pids.iterdir())) == 2, 120, "both ranks to start")
    apply.kill()  # SIGKILL: nothing of runner's cleanup runs
    apply.wait(timeout=30)
    assert len(containers_of("t-1", project)) == 2 and len(_networks(project)) == 1
    code, result = apply_json(cli, project, "other")
    assert code == 0, result
    _nothing_left(project, "t-1")
    assert {r["id"]: r["status"] for r in runs_json(project)}["t-1"] == "lost"
