"""The docker compute end to end: real containers on the local base image, real runner processes."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.compute.base import Launch
from runner.compute.docker_opts import container_options, device_requests, size_bytes
from runner.spec import from_data
from runner.spec.types import Compute
from tests.docker_support import (
    Images,
    base_image,
    client,
    containers_of,
    remove_containers,
    unique,
)
from tests.runs.helpers import (
    apply_json,
    interrupt,
    plan_json,
    reasons,
    runs_json,
    start_apply,
    wait_for,
)

TRAIN = """
import json, os, sys
import six
from runner import tracking

def read(*paths):
    for path in paths:
        if os.path.exists(path):
            return open(path).read().strip()
    return None

data = open(sys.argv[sys.argv.index("--data") + 1]).read()
out = os.environ["RUNNER_OUTPUTS"]
open(os.path.join(out, "model.txt"), "w").write(data.upper())
limits = {
    "cpu": read("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    "memory": read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "shm": os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize,
    "net": sorted(os.listdir("/sys/class/net")), "uid": os.getuid(), "python": sys.prefix,
    "greeting": os.environ["GREETING"],
}
json.dump(limits, open(os.path.join(out, "limits.json"), "w"))
tracking.log("acc", 0.5)
print("trained in", sys.prefix)
"""
PREP = "import shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2] + '/clean.csv')\nprint('prep done')\n"


def env_spec(base: str, mark: str) -> dict[str, Any]:
    return {"pip": ["six"], "docker": {"image": base, "build_args": {"RUNNER_TEST": mark}},
            "variables": {"GREETING": "hi"}}


@pytest.fixture(scope="module")
def env_mark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One env image for the module (built by the first test), removed at the end."""
    base = base_image()
    env = env_spec(base, unique())
    yield env
    from runner.envs.docker import docker_fingerprint, image_tag

    spec = from_data({"version": 1, "environments": {"e": env}})
    made = Images()
    made.add(image_tag(docker_fingerprint(spec, "e", tmp_path_factory.mktemp("fp"))))
    made.remove_all()


@pytest.fixture
def sweep(project: Any) -> Iterator[None]:
    yield
    remove_containers(project)


def docker_project(project: Any, env: dict[str, Any], *, compute: str = "{type: docker, cpus: 0.5, memory: 256m, "
                   "shm_size: 64m, network: none}", extra_jobs: str = "") -> None:
    project.gen({"data": {"d.csv": "a,b\n"}, "src": {"train.py": TRAIN, "prep.py": PREP, "sleep.py":
                 "import time\nprint('sleeping', flush=True)\ntime.sleep(300)\n"}})
    (project / "train.yaml").write_text(f"""version: 1
environments:
  e: {json.dumps(env)}
computes:
  box: {compute}
datasets:
  d: {{path: data/d.csv}}
jobs:
  prep:
    code: src
    command: python prep.py ${{{{inputs.raw}}}} ${{{{outputs}}}}
    inputs: {{raw: {{dataset: d}}}}
    environment: e
    compute: box
  train:
    code: src
    script: train.py
    args: {{--data: "${{{{inputs.data}}}}"}}
    inputs: {{data: {{job: prep, path: outputs/clean.csv}}}}
    environment: e
    compute: box
{extra_jobs}""")
    project.commit()


@pytest.mark.usefixtures("sweep")
def test_docker_jobs_end_to_end(project: Any, cli: Any, env_mark: dict[str, Any], tmp_path: Path) -> None:
    docker_project(project, env_mark)
    code, result = apply_json(cli, project)
    assert code == 0, result
    assert [(r["id"], r["status"]) for r in result["runs"]] == [("prep-1", "completed"), ("train-1", "completed")]
    got = tmp_path / "got"
    assert cli("runs", "download", "train-1", "-C", project.root, "--to", got).code == 0
    assert (got / "outputs" / "model.txt").read_text() == "A,B\n"
    limits = json.loads((got / "outputs" / "limits.json").read_text())
    assert limits["cpu"].split()[0] == "50000" and limits["memory"] == str(256 * 1024**2)
    assert limits["shm"] == 64 * 1024**2 and limits["net"] == ["lo"] and limits["greeting"] == "hi"
    assert limits["uid"] == os.getuid() and limits["python"] == "/opt/runner-env"
    run_dir = project / ".runner" / "runs" / "train-1"
    assert all(p.stat().st_uid == os.getuid() for p in (run_dir / "outputs").iterdir())
    assert "trained in /opt/runner-env" in (run_dir / "logs" / "std_log.txt").read_text()
    assert json.loads(cli("runs", "metrics", "train-1", "-C", project.root, "--json").out)["acc"][0]["value"] == 0.5
    assert containers_of("train-1", project) == [] and containers_of("prep-1", project) == []
    again = apply_json(cli, project)[1]
    assert again["runs"] == []


@pytest.mark.usefixtures("sweep")
def test_a_code_change_reruns_without_rebuilding(project: Any, cli: Any, env_mark: dict[str, Any]) -> None:
    docker_project(project, env_mark)
    assert apply_json(cli, project)[0] == 0
    tags = {tag for image in client().images.list(name="runner-env") for tag in image.tags}
    ids = {image.id for image in client().images.list(name="runner-env")}
    (project / "src" / "train.py").write_text((project / "src" / "train.py").read_text() + "# tweak\n")
    why = reasons(plan_json(cli, project), "train")
    assert "code: src/train.py modified" in why and not any("environment" in reason for reason in why)
    code, result = apply_json(cli, project)
    assert code == 0 and [r["id"] for r in result["runs"]] == ["prep-2", "train-2"]
    assert {image.id for image in client().images.list(name="runner-env")} == ids
    assert {tag for image in client().images.list(name="runner-env") for tag in image.tags} == tags


EDITS_ITS_CODE = ("import os\nseen = open('prep.py').read()\nprint('present', sorted(os.listdir('.')))\nopen(os.environ['RUNNER_OUTPUTS'] + '/seen.txt', 'w').write(seen)\n"
                  "open('prep.py', 'a').write('# changed in the container\\n')\nos.remove('sleep.py')\n"
                  "open('added.py', 'w').write('x')\n")


@pytest.mark.usefixtures("sweep")
def test_a_container_that_edits_its_code_does_not_change_the_next_run(project: Any, cli: Any,
                                                                        env_mark: dict[str, Any]) -> None:
    docker_project(project, env_mark, extra_jobs="  edit:\n    code: src\n    command: python edit.py\n"
                   "    environment: e\n    compute: box\n")
    project.gen({"src": {"edit.py": EDITS_ITS_CODE}})
    project.commit()
    runs = project / ".runner" / "runs"
    for attempt in (1, 2):
        code, result = apply_json(cli, project, "--force", "edit") if attempt == 2 else apply_json(cli, project)
        assert code == 0, result
        assert (runs / f"edit-{attempt}" / "outputs" / "seen.txt").read_text() == (project / "src" / "prep.py").read_text()
        log = (runs / f"edit-{attempt}" / "logs" / "std_log.txt").read_text()
        assert "'sleep.py'" in log and "'added.py'" not in log
    assert sorted(p.name for p in (runs / "edit-2").iterdir()) == ["added.py", "logs", "outputs"]


@pytest.mark.usefixtures("sweep")
def test_timeout_stops_and_removes_the_container(project: Any, cli: Any, env_mark: dict[str, Any]) -> None:
    docker_project(project, env_mark, extra_jobs="  nap:\n    code: src\n    command: python sleep.py\n"
                   "    environment: e\n    compute: box\n    timeout: 3s\n")
    code, result = apply_json(cli, project, "nap")
    assert code == 1 and result["runs"][0]["status"] == "failed"
    assert result["runs"][0]["detail"] == "timeout after 3s"
    assert "sleeping" in (project / ".runner" / "runs" / "nap-1" / "logs" / "std_log.txt").read_text()
    assert containers_of("nap-1", project) == []


def _nap_project(project: Any, env: dict[str, Any]) -> None:
    docker_project(project, env, extra_jobs="  nap:\n    code: src\n    command: python sleep.py\n"
                   "    environment: e\n    compute: box\n")


def _running_container(run_id: str, project: Any) -> Any:
    return next((c for c in containers_of(run_id, project) if c.status == "running"), None)


@pytest.mark.usefixtures("sweep")
def test_ctrl_c_stops_and_removes_the_container(project: Any, cli: Any, env_mark: dict[str, Any]) -> None:
    _nap_project(project, env_mark)
    assert apply_json(cli, project, "prep")[0] == 0  # builds the image in-process, so the wait below is short
    process = start_apply(project, "nap")
    try:
        wait_for(lambda: _running_container("nap-1", project), timeout=120, what="the nap container")
        interrupt(process)
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert containers_of("nap-1", project) == []
    assert {r["id"]: r["status"] for r in runs_json(project)}["nap-1"] == "canceled"


@pytest.mark.usefixtures("sweep")
def test_apply_after_a_crash_removes_orphan_containers(project: Any, cli: Any, env_mark: dict[str, Any]) -> None:
    from runner.project import find_project
    from runner.reconcile.repair import repair_lost
    from runner.state import open_state

    _nap_project(project, env_mark)
    assert apply_json(cli, project, "prep")[0] == 0
    process = start_apply(project, "nap")
    try:
        wait_for(lambda: _running_container("nap-1", project), timeout=120, what="the nap container")
    finally:
        os.kill(process.pid, signal.SIGKILL)  # the runner dies; dockerd keeps its container
        process.wait()
    assert _running_container("nap-1", project) is not None
    assert repair_lost(open_state(find_project(project.root))) == ["nap-1"]
    assert containers_of("nap-1", project) == []


@pytest.mark.usefixtures("sweep")
def test_out_of_memory_is_named(project: Any, cli: Any, env_mark: dict[str, Any]) -> None:
    hog = "    command: python -c \"x = bytearray(400 * 2**20); print(len(x))\"\n    environment: e\n    compute: box\n"
    docker_project(project, env_mark, compute="{type: docker, memory: 64m}", extra_jobs=f"  hog:\n{hog}")
    code, result = apply_json(cli, project, "hog")
    assert code == 1 and result["runs"][0]["detail"] == "killed: out of memory (memory limit 64 MiB)", result


@pytest.mark.usefixtures("sweep")
def test_gpus_without_a_gpu_runtime_fail_clearly(project: Any, cli: Any, env_mark: dict[str, Any]) -> None:
    if "nvidia" in json.dumps(client().info().get("Runtimes", {})):
        pytest.skip("this Docker has a GPU runtime")
    docker_project(project, env_mark, compute="{type: docker, gpus: all}")
    code, result = apply_json(cli, project, "prep")
    assert code == 1 and "no GPU runtime" in result["runs"][0]["detail"]
    assert containers_of("prep-1", project) == []


def test_no_daemon_fails_docker_jobs_only(project: Any, cli: Any, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    project.gen({"src": {"ok.py": "print('fine')\n"}, "train.yaml": """
        version: 1
        environments:
          e: {pip: [six], docker: {image: "runner-base:bookworm"}}
        computes:
          box: {type: docker}
        jobs:
          boxed: {code: src, command: python ok.py, environment: e, compute: box}
          plain: {code: src, command: python ok.py}
        """})
    assert plan_json(cli, project)["changes"] is True  # planning needs no daemon
    code, result = apply_json(cli, project)
    by_job = {r["job"]: r for r in result["runs"]}
    assert code == 1 and by_job["plain"]["status"] == "completed"
    assert by_job["boxed"]["status"] == "failed"
    assert by_job["boxed"]["detail"].startswith(f"no Docker daemon answers at unix://{tmp_path}/no-docker.sock")
    assert "compute: local" in by_job["boxed"]["detail"]


# -- container options (no daemon needed) ---------------------------------------------------

def _launch(tmp_path: Path, compute: dict[str, Any]) -> Launch:
    run_dir = tmp_path / ".runner" / "runs" / "j-1"
    return Launch(run_id="j-1", job="j", project_root=tmp_path, run_dir=run_dir, argv=["python", "x.py"],
                  env={"A": "1"}, log_path=run_dir / "logs" / "std_log.txt", image="runner-env:abc",
                  compute=Compute(**compute), labels={"runner.project": str(tmp_path),
                                                                  "runner.run": "j-1"})


def test_container_options(tmp_path: Path) -> None:
    launch = _launch(tmp_path, {"type": "docker", "cpus": 1.5, "memory": "1.5g", "shm_size": "512m",
                                "network": "host"})
    options = container_options(launch, "/shim", (1000, 1001))
    assert options["user"] == "1000:1001" and options["nano_cpus"] == 1_500_000_000
    assert options["mem_limit"] == 1536 * 1024**2 and options["shm_size"] == 512 * 1024**2
    assert options["network_mode"] == "host" and options["working_dir"] == str(launch.run_dir)
    assert options["labels"]["runner.state"] == str(tmp_path / ".runner")
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in options["mounts"]}
    assert mounts == {str(tmp_path): (str(tmp_path), True), str(launch.run_dir): (str(launch.run_dir), False),
                      "/opt/runner/shim": ("/shim", True)}
    assert "device_requests" not in options and options["environment"]["A"] == "1"


def test_device_requests() -> None:
    assert device_requests(0) == [] and device_requests(()) == []
    assert device_requests("all")[0]["Count"] == -1
    assert device_requests(2)[0]["Count"] == 2
    assert device_requests((0, 3))[0]["DeviceIDs"] == ["0", "3"]


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["", "b", "k", "m", "g", "K", "M", "G"]))
def test_size_bytes(number: int, unit: str) -> None:
    factor = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]
    assert size_bytes(f"{number}{unit}") == number * factor
