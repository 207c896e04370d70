"""The ray compute against a real Ray head: runs end to end, failures, cancel, timeout, reattach."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.compute.ray_support import job_status, make_project, ray_address, remote_id
from tests.runs.helpers import actions, apply_json, plan_json, runner_cmd, runs_json, start_apply, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def address(monkeypatch) -> str:
    monkeypatch.setenv("RUNNER_TEST_RAY_SECRET", "s3cr3t-value")  # for subprocesses too
    return ray_address()


def _started(tmp_path) -> bool:
    """The job is running its script: the wrapper has put its first metric in storage."""
    return any(tmp_path.glob("storage/train-*/raysubmit_*/logs/metrics.jsonl"))


def _runner(project, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*runner_cmd(), *args, "-C", str(project.root)], capture_output=True, text=True,
                          timeout=timeout)


def test_a_run_end_to_end(project, cli, tmp_path, address) -> None:
    make_project(project, address, tmp_path, go=False)
    code, result = apply_json(cli, project)
    assert code == 0, result
    assert [(r["id"], r["status"]) for r in result["runs"]] == [("train-1", "completed")]
    assert [(m["model"], m["status"]) for m in result["models"]] == [("m", "registered")]
    shown = json.loads(cli("runs", "show", "train-1", "-C", project.root, "--json").out)
    assert shown["metrics"] == {"acc": 0.95}
    assert [o["path"] for o in shown["outputs"]] == ["outputs/model.txt"]
    log = cli("runs", "logs", "train-1", "-C", project.root).out
    assert "started some data" in log and "done" in log  # the dataset travelled with the job
    assert "secret given" in log  # passed at submission ...
    stored = [p for p in (project.root / ".runner").rglob("*") if p.is_file()]
    stored += [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    assert not [p for p in stored if b"s3cr3t-value" in p.read_bytes()]  # ... and written nowhere
    cli("runs", "download", "train-1", "--to", tmp_path / "dl", "-C", project.root)
    assert (tmp_path / "dl" / "outputs" / "model.txt").read_text() == "weights"
    assert remote_id(project.root, "train-1").startswith("raysubmit_train-1_")
    assert actions(plan_json(cli, project))["train"] == "skip"  # up to date: nothing reruns


def test_a_failing_script_fails_the_run(project, cli, tmp_path, address) -> None:
    (tmp_path / "fail").write_text("")
    make_project(project, address, tmp_path, go=True)
    (tmp_path / "go").write_text("")
    code, result = apply_json(cli, project)
    assert code == 1
    run = result["runs"][0]
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    assert "asked to fail" in cli("runs", "logs", "train-1", "-C", project.root).out
    assert result["models"] == [] or result["models"][0]["status"] != "registered"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_ray_job_and_cancels_the_run(project, tmp_path, address, signum) -> None:
    """Ctrl-C, and what CI cancellation or `docker stop` sends."""
    make_project(project, address, tmp_path)
    apply = start_apply(project)
    wait_for(lambda: _started(tmp_path), 120, "the job to start")
    os.kill(apply.pid, signum)
    out, err = apply.communicate(timeout=120)
    assert apply.returncode == 130, (out, err)
    assert {r["id"]: r["status"] for r in runs_json(project)} == {"train-1": "canceled"}
    assert job_status(address, remote_id(project.root, "train-1")) == "STOPPED"


def test_a_timeout_stops_the_ray_job(project, cli, tmp_path, address) -> None:
    make_project(project, address, tmp_path, extra="    timeout: 20s")
    code, result = apply_json(cli, project)
    run = result["runs"][0]
    assert code == 1 and (run["status"], run["detail"]) == ("canceled", "timeout after 20s"), result
    assert job_status(address, remote_id(project.root, "train-1")) == "STOPPED"


def _no_secret_in_state(project) -> None:
    stored = [p for p in (project.root / ".runner").rglob("*") if p.is_file()]
    assert not [p for p in stored if b"s3cr3t-value" in p.read_bytes()]


def test_kill_9_then_apply_reattaches_and_collects(project, cli, tmp_path, address) -> None:
    go = make_project(project, address, tmp_path)
    (tmp_path / "leak").write_text("")  # the script prints its secret and logs it as a param
    first = start_apply(project)
    wait_for(lambda: _started(tmp_path), 120, "the job to start")
    first.kill()
    first.wait(timeout=30)
    assert {r["id"]: r["status"] for r in runs_json(project)} == {"train-1": "running"}  # not lost
    second = start_apply(project)
    # The reattached apply copies the metrics the wrapper wrote so far: `runs metrics` is live.
    wait_for(lambda: b"0.9" in _runner(project, "runs", "metrics", "train-1", "--json").stdout.encode(), 60,
             "live metrics")
    go.write_text("")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, (out, err)
    sid = remote_id(project.root, "train-1")
    assert f"reattached to {sid}" in out and "s3cr3t-value" not in out
    _no_secret_in_state(project)  # masked when reattached as in a first apply: logs, params
    assert {r["id"]: r["status"] for r in runs_json(project)} == {"train-1": "completed"}  # no rerun
    shown = json.loads(cli("runs", "show", "train-1", "-C", project.root, "--json").out)
    assert shown["metrics"] == {"acc": 0.95} and shown["outputs"][0]["path"] == "outputs/model.txt"
    assert "done" in cli("runs", "logs", "train-1", "-C", project.root).out
    assert json.loads(cli("models", "list", "-C", project.root, "--json").out)[0]["name"] == "m"


def test_a_job_that_ended_while_runner_was_away_is_collected(project, cli, tmp_path, address) -> None:
    go = make_project(project, address, tmp_path)
    (tmp_path / "leak").write_text("")
    first = start_apply(project)
    wait_for(lambda: _started(tmp_path), 120, "the job to start")
    first.kill()
    first.wait(timeout=30)
    sid = remote_id(project.root, "train-1")
    follow = subprocess.Popen([*runner_cmd(), "runs", "logs", "-f", "train-1", "-C", str(project.root)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    go.write_text("")
    out, err = follow.communicate(timeout=120)  # follows the Ray job's log until the job ends
    assert follow.returncode == 0 and "started some data" in out and "done" in out, (out, err)
    assert "leaking ***" in out and "s3cr3t-value" not in out  # runs logs -f masks the cluster's log
    wait_for(lambda: job_status(address, sid) == "SUCCEEDED", 60, "the Ray job to end")
    assert {r["id"]: r["status"] for r in runs_json(project)} == {"train-1": "running"}
    code, result = apply_json(cli, project)
    assert code == 0, result
    assert result["runs"][0]["status"] == "completed"
    assert result["runs"][0]["detail"] == f"reattached to {sid}"
    assert [a["action"] for a in result["actions"] if a["target"] == "train"] == ["skip"]
    assert [m["status"] for m in result["models"]] == ["registered"]
    _no_secret_in_state(project)


def test_a_job_that_failed_while_runner_was_away_fails_its_run(project, cli, tmp_path, address) -> None:
    go = make_project(project, address, tmp_path)
    first = start_apply(project)
    wait_for(lambda: _started(tmp_path), 120, "the job to start")
    first.kill()
    first.wait(timeout=30)
    sid = remote_id(project.root, "train-1")
    (tmp_path / "fail").write_text("")
    go.write_text("")
    wait_for(lambda: job_status(address, sid) == "FAILED", 120, "the Ray job to fail")
    code, result = apply_json(cli, project)
    assert code == 1, result
    first_run = result["runs"][0]
    assert (first_run["id"], first_run["status"], first_run["exit_code"]) == ("train-1", "failed", 1), result
    assert first_run["detail"] == f"exit code 1 (reattached to {sid})"
    assert "asked to fail" in cli("runs", "logs", "train-1", "-C", project.root).out
    # Reattaching came before planning: the job has no completed run, so this apply ran it again.
    assert [(r["id"], r["status"]) for r in result["runs"][1:]] == [("train-2", "failed")]
    assert [m["status"] for m in result["models"]] != ["registered"]


def test_a_distributed_run_is_reattached_after_kill_9(project, cli, tmp_path, address) -> None:
    go = make_project(project, address, tmp_path, extra="    distribution: {type: pytorch, processes_per_node: 2}")
    first = start_apply(project)
    wait_for(lambda: _started(tmp_path), 120, "the ranks to start")
    first.kill()
    first.wait(timeout=30)
    go.write_text("")
    code, result = apply_json(cli, project)
    assert code == 0, result
    run = result["runs"][0]
    assert (run["id"], run["status"]) == ("train-1", "completed") and run["detail"].startswith("reattached to")
    logs = project.root / ".runner" / "runs" / "train-1" / "logs"
    for rank in (0, 1):  # each rank's own log came back from storage
        assert "done" in (logs / f"rank-{rank}.txt").read_text()
    every = json.loads(cli("runs", "metrics", "train-1", "--all-ranks", "--json", "-C", project.root).out)["acc"]
    assert sorted({p["rank"] for p in every}) == [0, 1]


def test_results_that_do_not_match_their_digest_are_refused(project, cli, tmp_path, address) -> None:
    """Storage is written by the job: a file changed after the wrapper recorded its sha256 is not fetched."""
    from runner.compute.ray import RayError, Remote, fetch

    make_project(project, address, tmp_path, go=False)
    assert apply_json(cli, project)[0] == 0
    import sqlite3

    with sqlite3.connect(project.root / ".runner" / "state.db") as db:
        remote = Remote.from_json(db.execute("SELECT remote FROM runs").fetchone()[0])
    stored = tmp_path / "storage" / remote.prefix / "outputs" / "model.txt"
    stored.write_text("weightz")  # the same size, other bytes
    with pytest.raises(RayError, match="outputs/model.txt .* does not match the digest its run recorded"):
        fetch(remote, tmp_path / "again")
    assert not (tmp_path / "again" / "outputs" / "model.txt").exists()
    assert not list((tmp_path / "again").rglob("*.fetch"))  # nor a partial copy


def test_a_job_gone_from_the_cluster_is_lost(project, cli, tmp_path, address) -> None:
    """A recorded submission id the cluster never heard of (a restarted head): the run is lost."""
    make_project(project, address, tmp_path, go=False)
    assert apply_json(cli, project)[0] == 0
    import sqlite3

    with sqlite3.connect(project.root / ".runner" / "state.db") as db:
        remote = json.loads(db.execute("SELECT remote FROM runs").fetchone()[0])
        remote["submission_id"] = "raysubmit_never_submitted"
        db.execute("UPDATE runs SET status = 'running', remote_id = ?, remote = ?",
                   (remote["submission_id"], json.dumps(remote)))
    code, result = apply_json(cli, project)
    assert result["runs"][0]["status"] == "lost" and "is gone from" in result["runs"][0]["detail"]
    assert [r["status"] for r in runs_json(project)] == ["completed", "lost"]


def test_plan_says_when_the_cluster_does_not_answer(project, cli, tmp_path) -> None:
    make_project(project, "http://127.0.0.1:9", tmp_path, go=False)
    result = cli("plan", "-C", project.root)
    assert result.code == 1
    assert "job train (compute cluster): the Ray cluster at http://127.0.0.1:9 does not answer" in result.err


def test_address_falls_back_to_RAY_ADDRESS(project, cli, tmp_path, monkeypatch) -> None:
    make_project(project, "ADDR", tmp_path, go=False)
    text = (project.root / "train.yaml").read_text().replace('address: "ADDR", ', "")
    (project.root / "train.yaml").write_text(text)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    assert "the Ray cluster at http://127.0.0.1:9 does not answer" in cli("plan", "-C", project.root).err
    monkeypatch.delenv("RAY_ADDRESS")
    assert "needs `address:`" in cli("plan", "-C", project.root).err


def test_without_ray_installed_plan_names_the_extra(project, cli, tmp_path, monkeypatch) -> None:
    make_project(project, "http://127.0.0.1:9", tmp_path, go=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` finds on a machine without it
    result = cli("plan", "-C", project.root)
    assert result.code == 1 and "pip install 'train-runner[ray]'" in result.err


@pytest.mark.parametrize(("env", "expect"), [
    ("    docker: {image: python:3.11-slim}\n", "has `docker:`, which a ray compute cannot use"),
    ("    conda: env.yml\n", "has `conda:`, which a ray compute does not support"),
])
def test_environments_a_cluster_cannot_use_are_plan_errors(project, cli, tmp_path, env, expect) -> None:
    make_project(project, "http://127.0.0.1:9", tmp_path, go=False)
    text = (project.root / "train.yaml").read_text().replace("  e:\n", "  e:\n" + env)
    project.gen({"train.yaml": text, "env.yml": "dependencies: [python]\n"})
    result = cli("plan", "-C", project.root)
    assert result.code == 1 and expect in result.err and "(compute cluster is a ray compute)" in result.err
    assert re.match(r".*train\.yaml:16:18: environment e has", result.err), result.err  # at `environment: e`
    assert len(result.err.strip().splitlines()) == 1, result.err


RANK_CHECK = """
import os
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
assert 0 <= rank < world == 2, (rank, world)
print("rank", rank, "of", world, "master", os.environ["MASTER_ADDR"], flush=True)
with open(os.path.join(os.environ["RUNNER_OUTPUTS"], f"rank_{rank}.txt"), "w") as out:
    out.write(f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}")
"""


def test_ranks_run_as_ray_tasks_in_a_placement_group(tmp_path, address) -> None:
    """The Ray side of a distributed run, fed a rank table directly (Launch.runtime["ranks"])."""
    from runner.compute.base import Launch
    from runner.compute.ray import RayTarget
    from runner.spec.types import Compute

    run_dir = tmp_path / "runs" / "dist-1"
    for folder in ("outputs", "logs"):
        (run_dir / folder).mkdir(parents=True)
    (run_dir / "check.py").write_text(RANK_CHECK)
    ranks = [{"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
             for r in range(2)]
    env = {"RUNNER_RUN_ID": "dist-1", "RUNNER_OUTPUTS": str(run_dir / "outputs"), "RUNNER_LOGS": str(run_dir / "logs"),
           # The ranks' driver needs `ray` in the job's Python: a cluster's has it; a development head
           # started from a venv without that venv on PATH does not, so name this one (same Ray).
           "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
    compute = Compute(type="ray", address=address, storage=f"file://{tmp_path / 'storage'}")
    launch = Launch(run_id="dist-1", job="dist", project_root=tmp_path, run_dir=run_dir,
                    argv=["python", "-u", "check.py"], env=env, log_path=run_dir / "logs" / "std_log.txt",
                    compute=compute, runtime={"ranks": ranks, "nodes": 2, "cpus_per_process": 0.5})
    lines: list[str] = []
    target = RayTarget()
    handle = target.start(launch, lines.append)
    assert handle.wait(300) == 0, (run_dir / "logs" / "std_log.txt").read_text()
    target.collect(launch)
    written = {p.name: p.read_text() for p in (run_dir / "outputs").iterdir()}
    assert sorted(written) == ["rank_0.txt", "rank_1.txt"]
    assert len(set(written.values())) == 1  # one MASTER_ADDR:MASTER_PORT, rank 0's node
    assert not written["rank_0.txt"].endswith(":1")
    log = (run_dir / "logs" / "std_log.txt").read_text()
    assert "2 nodes asked, the cluster has 1" in log  # the one-node fallback says so
    assert (run_dir / "logs" / "rank-1.txt").read_text().startswith("rank 1 of 2")
    assert "[rank 0] rank 0 of 2" in log  # each rank's lines, prefixed, in the run's log


class _Silent:
    """A Jobs client whose status queries fail (a connection error) `fails` times, then answer."""

    def __init__(self, jobs, fails: float) -> None:
        self.jobs, self.fails = jobs, fails

    def get_job_status(self, submission_id: str):
        if self.fails > 0:
            self.fails -= 1
            raise ConnectionError("connection refused")
        return self.jobs.get_job_status(submission_id)

    def __getattr__(self, name: str):
        return getattr(self.jobs, name)


def _launch(tmp_path, address, script: str):
    from runner.compute.base import Launch
    from runner.spec.types import Compute

    run_dir = tmp_path / "runs" / "t-1"
    for folder in ("outputs", "logs"):
        (run_dir / folder).mkdir(parents=True)
    (run_dir / "t.py").write_text(script)
    env = {"RUNNER_RUN_ID": "t-1", "RUNNER_OUTPUTS": str(run_dir / "outputs"), "RUNNER_LOGS": str(run_dir / "logs")}
    compute = Compute(type="ray", address=address, storage=f"file://{tmp_path / 'storage'}", cpus=0.5)
    return Launch(run_id="t-1", job="t", project_root=tmp_path, run_dir=run_dir, argv=["python", "-u", "t.py"],
                  env=env, log_path=run_dir / "logs" / "std_log.txt", compute=compute)


@pytest.mark.parametrize("fails", [3, float("inf")], ids=["a-few-queries", "for-good"])
def test_a_cluster_that_stops_answering(tmp_path, address, monkeypatch, fails) -> None:
    """Status queries that fail for a while are retried; past SILENCE_SECONDS the run fails and its job is stopped."""
    from runner.compute import ray

    real = ray.client
    monkeypatch.setattr(ray, "client", lambda where: _Silent(real(where), fails))
    monkeypatch.setattr(ray, "SILENCE_SECONDS", 3.0)
    script = "import time; print('up', flush=True); time.sleep(2 if %r == '3' else 600)" % str(fails)
    handle = ray.RayTarget().start(_launch(tmp_path, address, script), lambda line: None)
    code = handle.wait(300)
    if fails == 3:
        assert (code, handle.reason) == (0, None)
        return
    assert code == 1 and "runner asked the cluster to stop it" in (handle.reason or ""), handle.reason
    assert "connection refused" in (handle.reason or "")
    wait_for(lambda: job_status(address, handle.remote_id) == "STOPPED", 60, "the job to be stopped")


def test_an_environment_s_pip_and_requirements_are_installed_on_the_cluster(project, cli, tmp_path, address) -> None:
    """Nothing is built here: the cluster installs `pip:` and the requirements file's lines for the job."""
    make_project(project, address, tmp_path, go=False)
    text = (project.root / "train.yaml").read_text().replace(
        "  e:\n", "  e:\n    pip: [inflection]\n    requirements: requirements.txt\n")
    script = "import inflection, pyjokes\nprint('packages', inflection.underscore('RayJob'), bool(pyjokes.get_joke()))\n"
    project.gen({"train.yaml": text, "requirements.txt": "# what the job imports\npyjokes\n",
                 "train.py": script + (project.root / "train.py").read_text()})
    project.commit()
    code, result = apply_json(cli, project)
    assert code == 0, (result, cli("runs", "logs", "train-1", "-C", project.root).out)
    assert "packages ray_job True" in cli("runs", "logs", "train-1", "-C", project.root).out
