"""The rank table, mpirun's tagged output, and train.yaml's `distribution:` (no processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.compute.group import TaggedFeeder, exit_text, mpi_failure
from runner.compute.output import LAUNCHER, RunOutput
from runner.compute.ranks import mpi_wrapper, node_sizes, ports_needed, rank_table
from runner.spec import from_data
from runner.spec.types import Distribution

TORCHRUN = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK",
            "LOCAL_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "TORCHELASTIC_RUN_ID"}


@given(nodes=st.integers(1, 6), per_node=st.integers(1, 6))
def test_pytorch_table_is_torchruns_layout(nodes: int, per_node: int) -> None:
    dist = Distribution(type="pytorch", nodes=nodes, processes_per_node=per_node)
    hosts = [f"node{n}" for n in range(nodes)]
    table = rank_table(dist, "train-3", hosts, [1234])
    world = nodes * per_node
    assert [p.rank for p in table] == list(range(world))
    for p in table:
        env = p.env
        assert TORCHRUN <= set(env)
        assert (env["RANK"], env["LOCAL_RANK"], env["NODE_RANK"], env["GROUP_RANK"]) == \
            (str(p.rank), str(p.local_rank), str(p.node), str(p.node))
        assert p.rank == p.node * per_node + p.local_rank and 0 <= p.local_rank < per_node
        assert (env["WORLD_SIZE"], env["ROLE_WORLD_SIZE"], env["LOCAL_WORLD_SIZE"]) == \
            (str(world), str(world), str(per_node))
        assert (env["MASTER_ADDR"], env["MASTER_PORT"], env["TORCHELASTIC_RUN_ID"]) == ("node0", "1234", "train-3")
        assert (env["RUNNER_RANK"], env["RUNNER_WORLD_SIZE"], env["RUNNER_NODE_RANK"]) == \
            (str(p.rank), str(world), str(p.node))
        assert "TORCHELASTIC_USE_AGENT_STORE" not in env  # it would make env:// wait for an agent's store


@given(workers=st.integers(1, 5), ps=st.integers(0, 3), chief=st.booleans(), nodes=st.integers(1, 3))
def test_tensorflow_table_gives_each_task_its_cluster_and_task(workers: int, ps: int, chief: bool,
                                                               nodes: int) -> None:
    dist = Distribution(type="tensorflow", workers=workers, parameter_servers=ps, chief=chief, nodes=nodes)
    world = workers + ps + chief
    ports = list(range(5000, 5000 + ports_needed(dist)))
    table = rank_table(dist, "tf-1", [f"h{n}" for n in range(nodes)], ports)
    assert len(table) == world == sum(node_sizes(dist))
    configs = [json.loads(p.env["TF_CONFIG"]) for p in table]
    cluster = configs[0]["cluster"]
    assert all(c["cluster"] == cluster for c in configs)
    assert len(cluster["worker"]) == workers and len(cluster.get("ps", [])) == ps
    assert len(cluster.get("chief", [])) == (1 if chief else 0)
    tasks = [(c["task"]["type"], c["task"]["index"]) for c in configs]
    assert len(set(tasks)) == world  # every task once
    addresses = [cluster[kind][index] for kind, index in tasks]
    assert len(set(addresses)) == world and all(a.split(":")[0] == f"h{p.node}" for a, p in zip(addresses, table))
    assert [p.env["RUNNER_RANK"] for p in table] == [str(r) for r in range(world)]
    if chief:
        assert tasks[0] == ("chief", 0)


def test_table_needs_a_host_per_node_and_its_ports() -> None:
    dist = Distribution(type="pytorch", nodes=2, processes_per_node=1)
    with pytest.raises(ValueError, match="2 hosts"):
        rank_table(dist, "r", ["a"], [1])
    with pytest.raises(ValueError, match="ports"):
        rank_table(dist, "r", ["a", "b"], [])


def test_mpi_wrapper_keeps_the_command_words() -> None:
    dist = Distribution(type="mpi", processes_per_node=4)
    argv = mpi_wrapper(dist, ["python", "-u", "a b.py", "$HOME"])
    assert argv[:2] == ["/bin/sh", "-c"] and argv[-4:] == ["python", "-u", "a b.py", "$HOME"]
    assert "OMPI_COMM_WORLD_RANK / 4" in argv[2]


def _routed(tmp_path: Path, chunks: list[bytes]) -> tuple[dict[int, str], list[str], bytes]:
    lines: list[str] = []
    log = tmp_path / "std_log.txt"
    output = RunOutput(log, lines.append)
    feeder = TaggedFeeder(output)
    for chunk in chunks:
        feeder.feed(chunk)
    feeder.close()
    output.close()
    ranks = {int(p.stem.split("-")[1]): p.read_text() for p in tmp_path.glob("rank-*.txt")}
    return ranks, lines, feeder.launcher_text


MPI_OUTPUT = (b"[1,3]<stdout>:hello[1,3]<stdout>: [1,3]<stdout>:3[1,3]<stdout>:\n"
              b"[1,0]<stdout>:hello 0 4\n"
              b"[1,1]<stderr>:err[1,1]<stderr>: [1,1]<stderr>:1[1,1]<stderr>:\n"
              b"--------\nmpirun detected that one or more processes exited with non-zero status\n"
              b"  Process name: [[11254,1],2]\n  Exit code:    3\n"
              b"[1,2]<stdout>:[not a tag] and more\n")


def test_mpirun_tags_route_lines_to_their_ranks(tmp_path: Path) -> None:
    ranks, lines, said = _routed(tmp_path, [MPI_OUTPUT])
    assert ranks == {0: "hello 0 4\n", 1: "err 1\n", 2: "[not a tag] and more\n", 3: "hello 3\n"}
    assert "[rank 3] hello 3" in lines and "[rank 2] [not a tag] and more" in lines
    assert "--------" in lines  # mpirun's own text, unprefixed
    assert mpi_failure(said, 3) == "rank 2 exited with 3"
    std_log = (tmp_path / "std_log.txt").read_text()
    assert "[rank 0] hello 0 4\n" in std_log and "  Exit code:    3\n" in std_log


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(1, len(MPI_OUTPUT) - 1), max_size=12, unique=True))
def test_mpirun_tags_split_anywhere_between_reads(tmp_path_factory: pytest.TempPathFactory, cuts: list[int]) -> None:
    """A pipe read may end inside a tag: the result is that of one read."""
    whole = _routed(tmp_path_factory.mktemp("one"), [MPI_OUTPUT])
    bounds = [0, *sorted(cuts), len(MPI_OUTPUT)]
    pieces = [MPI_OUTPUT[a:b] for a, b in zip(bounds, bounds[1:])]
    assert _routed(tmp_path_factory.mktemp("cut"), pieces) == whole


def test_failure_texts() -> None:
    assert exit_text(3, 1) == "rank 3 exited with 1"
    assert exit_text(0, -9) == "rank 0 was killed by SIGKILL"
    assert mpi_failure(b"nothing useful", 1) == "mpirun exited with 1"
    assert LAUNCHER == "launcher"


def _spec_problems(tmp_path: Path, jobs: str, computes: str = "") -> str:
    from runner.errors import RunnerError
    from runner.project import find_project
    from runner.spec import load

    (tmp_path / "train.yaml").write_text(f"version: 1\n{computes}jobs:\n{jobs}")
    try:
        load(find_project(tmp_path, None))
    except RunnerError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize(("distribution", "where", "says"), [
    ("{type: pytorch, nodes: 0}", "5:", "nodes must be greater than 0"),
    ("{type: pytorch, processes_per_node: 100000}", "5:", "must be 1024 or less"),
    ("{type: mpi, processes_per_node: true}", "5:", "expected a whole number"),
    ("{type: tensorflow, processes_per_node: 2}", "5:", "processes_per_node does not apply to type tensorflow"),
    ("{type: pytorch, workers: 2}", "5:", "workers does not apply to type pytorch"),
    ("{type: mpi, chief: true}", "5:", "chief does not apply to type mpi"),
    ("{type: horovod}", "5:", "expected one of 'pytorch', 'mpi' or 'tensorflow'"),
    ("{nodes: 2}", "5:", "type"),
    ("{type: pytorch, nodes: 256, processes_per_node: 1024}", "5:", "processes in all"),
])
def test_bad_distributions_are_located(tmp_path: Path, distribution: str, where: str, says: str) -> None:
    message = _spec_problems(tmp_path, f"  t:\n    command: x\n    distribution: {distribution}\n")
    assert f"train.yaml:{where}" in message.splitlines()[0] and says in message, message


def test_docker_refuses_mpi_across_containers_in_one_line(tmp_path: Path) -> None:
    computes = "computes:\n  box: {type: docker}\n  lone: {type: docker, network: none}\n"
    jobs = ("  hvd:\n    command: x\n    compute: box\n    distribution: {type: mpi, nodes: 2}\n"
            "  one:\n    command: x\n    compute: box\n    distribution: {type: mpi, processes_per_node: 4}\n"
            "  off:\n    command: x\n    compute: lone\n    distribution: {type: pytorch, nodes: 2}\n")
    message = _spec_problems(tmp_path, jobs, computes)
    lines = message.splitlines()
    assert any("train.yaml:9:" in line and "MPI across containers is not supported" in line
               for line in lines), message
    assert any("train.yaml:17:" in line and "network: bridge" in line for line in lines), message
    assert len(lines) == 2, message  # MPI inside one container is fine


def test_a_ray_compute_refuses_what_a_cluster_cannot_run_at_its_line(tmp_path: Path) -> None:
    """Only pytorch ranks run as Ray tasks; docker, conda and interpreter environments name one machine."""
    computes = ('computes:\n  ray: {type: ray, address: "http://127.0.0.1:9", storage: "file:///tmp/s"}\n'
                "environments:\n  d: {docker: {image: x}}\n  c: {conda: env.yml}\n  i: {interpreter: /usr/bin/python3, user_managed: true}\n"
                "  ok: {pip: [numpy]}\n")
    (tmp_path / "env.yml").write_text("dependencies: [python]\n")
    jobs = ("  m:\n    command: x\n    compute: ray\n    distribution: {type: mpi, processes_per_node: 2}\n"
            "  t:\n    command: x\n    compute: ray\n    distribution: {type: tensorflow, workers: 2}\n"
            "  p:\n    command: x\n    compute: ray\n    environment: ok\n    distribution: {type: pytorch, nodes: 2}\n"
            "  dk:\n    command: x\n    compute: ray\n    environment: d\n"
            "  cd:\n    command: x\n    compute: ray\n    environment: c\n"
            "  ip:\n    command: x\n    compute: ray\n    environment: i\n"
            "  here:\n    command: x\n    environment: d\n")
    lines = _spec_problems(tmp_path, jobs, computes).splitlines()
    expected = [("13:19:", "distribution type mpi is not supported on ray compute 'ray'"),
                ("17:19:", "distribution type tensorflow is not supported"),
                ("26:18:", "environment d has `docker:`, which a ray compute cannot use"),
                ("30:18:", "environment c has `conda:`"), ("34:18:", "environment i names an `interpreter:`")]
    for (where, says), line in zip(expected, lines):
        assert f"train.yaml:{where}" in line and says in line, lines
    assert len(lines) == len(expected), lines  # pytorch on ray, and docker on the local compute, are fine


def test_distribution_is_in_the_fingerprint_not_the_compute() -> None:
    from runner.spec.normal import normalised_job

    def job(dist: dict[str, object] | None, compute: str = "local") -> dict[str, object]:
        spec = from_data({"version": 1, "computes": {"box": {"type": "docker"}},
                          "jobs": {"t": {"command": "x", "compute": compute,
                                         **({"distribution": dist} if dist else {})}}})
        return normalised_job(spec, "t")

    single = job(None)
    assert "distribution" not in single  # older fingerprints stay as they were
    two = job({"type": "pytorch", "nodes": 2})
    assert two["distribution"] == {"type": "pytorch", "nodes": 2, "processes_per_node": 1}
    assert job({"type": "pytorch", "nodes": 2, "processes_per_node": 1}) == two  # defaults written out
    assert job({"type": "pytorch", "nodes": 2}, "box")["distribution"] == two["distribution"]
    assert job({"type": "mpi", "nodes": 2}) != two
    assert job({"type": "tensorflow", "workers": 2})["distribution"] != \
        job({"type": "tensorflow", "workers": 2, "parameter_servers": 1})["distribution"]
