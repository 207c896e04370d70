"""`runner runs ...` contracts and git metadata on runs."""

from __future__ import annotations

import json
import subprocess

from tests.runs.helpers import (
    apply_json,
    runner_cmd,
    runs_json,
    start_apply,
    two_jobs,
    wait_for,
)

LIST_KEYS = {"id", "job", "experiment", "status", "fingerprint", "created_at", "started_at", "ended_at",
             "exit_code", "git"}


def test_runs_list_contract(project, cli) -> None:
    two_jobs(project)
    project.commit("first")
    apply_json(cli, project)
    runs = json.loads(cli("runs", "list", "-C", project.root, "--json").out)
    assert [r["id"] for r in runs] == ["train-1", "prep-1"]
    assert all(set(r) == LIST_KEYS for r in runs)
    assert set(runs[0]["git"]) == {"commit", "branch", "dirty", "repository"}
    assert runs[0]["experiment"] == "demo" and runs[0]["exit_code"] == 0
    assert json.loads(cli("runs", "list", "-C", project.root, "--json", "--job", "prep").out)[0]["id"] == "prep-1"
    assert json.loads(cli("runs", "list", "-C", project.root, "--json", "--status", "failed").out) == []


def test_runs_show_contract(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    show = json.loads(cli("runs", "show", "train", "-C", project.root, "--json").out)
    assert LIST_KEYS | {"params", "metrics", "outputs", "snapshot", "reasons"} <= set(show)
    assert show["id"] == "train-1" and show["params"] == {"k": "linear"} and show["metrics"] == {"acc": 0.5}
    assert show["outputs"][0]["path"] == "outputs/model.txt" and show["outputs"][0]["size"] == 6
    assert show["reasons"] == ["after prep", "no previous run"] and len(show["snapshot"]) == 64
    assert cli("runs", "show", "nope", "-C", project.root).code == 1


def test_runs_metrics_logs_download_diff(project, cli, tmp_path) -> None:
    two_jobs(project)
    apply_json(cli, project)
    (project / "train.yaml").write_text((project / "train.yaml").read_text().replace("k: linear", "k: rbf"))
    apply_json(cli, project)
    series = json.loads(cli("runs", "metrics", "train-2", "-C", project.root, "--json").out)
    assert list(series) == ["acc"] and series["acc"][0]["value"] == 0.75 and series["acc"][0]["step"] == 0
    assert json.loads(cli("runs", "metrics", "train-2", "--rank", "0", "-C", project.root, "--json").out) == series
    for ask in (["runs", "metrics", "train-2", "--rank", "1"], ["runs", "logs", "train-2", "--rank", "2"]):
        beyond = cli(*ask, "-C", project.root)
        assert beyond.code == 1 and beyond.out == "" and beyond.err.strip().endswith("it ran one process")
    assert "train rbf" in cli("runs", "logs", "train", "-C", project.root).out
    dest = tmp_path / "dl"
    assert cli("runs", "download", "train-1", "-C", project.root, "--to", dest).code == 0
    assert (dest / "outputs" / "model.txt").read_text() == "linear" and (dest / "logs" / "std_log.txt").exists()
    diff = cli("runs", "diff", "train-1", "train-2", "-C", project.root, "--json")
    result = json.loads(diff.out)
    assert result["params"] == {"k": ["linear", "rbf"]} and result["metrics"] == {"acc": [0.5, 0.75]}
    assert "param k: linear -> rbf" in cli("runs", "diff", "train-1", "train-2", "-C", project.root).out
    assert result["inputs"] == {}
    (project / "data" / "d.csv").write_text("3,4\n")
    apply_json(cli, project)
    inputs = json.loads(cli("runs", "diff", "prep-1", "prep-2", "-C", project.root, "--json").out)["inputs"]
    assert list(inputs) == ["raw"] and inputs["raw"][0] != inputs["raw"][1]
    assert "input raw: " in cli("runs", "diff", "prep-1", "prep-2", "-C", project.root).out


def test_download_refuses_a_tampered_object(project, cli, tmp_path) -> None:
    two_jobs(project)
    apply_json(cli, project)
    show = json.loads(cli("runs", "show", "train-1", "-C", project.root, "--json").out)
    digest = show["outputs"][0]["digest"]
    obj = project / ".runner" / "objects" / "sha256" / digest[:2] / digest[2:]
    obj.chmod(0o644)
    obj.write_text("tampered")
    result = cli("runs", "download", "train-1", "-C", project.root, "--to", tmp_path / "x")
    assert result.code == 1 and digest[:12] in result.err


def test_metrics_are_visible_while_the_run_goes_on(project, tmp_path) -> None:
    gate = tmp_path / "gate"
    project.gen({"m.py": f"import os, time\nfrom runner import tracking\ntracking.log('loss', 1.0)\n"
                        f"end = time.time() + 60\nwhile not os.path.exists({str(gate)!r}) and time.time() < end:\n"
                        "    time.sleep(0.05)\n",
                 "train.yaml": "version: 1\njobs:\n  m: {script: m.py}\n"})
    apply = start_apply(project)
    from tests.runs.helpers import runner_cmd

    def live() -> dict:
        done = subprocess.run([*runner_cmd(), "runs", "metrics", "m", "-C", str(project.root), "--json"],
                              capture_output=True, text=True)
        return json.loads(done.stdout) if done.returncode == 0 else {}

    assert wait_for(live, 60, "a live metric")["loss"][0]["value"] == 1.0
    gate.touch()
    assert apply.wait(timeout=60) == 0


def test_dirty_tree_and_commit_are_recorded(project, cli) -> None:
    two_jobs(project)
    sha = project.commit("first")
    apply_json(cli, project)
    assert runs_json(project)[0]["git"] == {"commit": sha, "branch": "main", "dirty": False, "repository": None}
    (project / "src" / "train.py").write_text((project / "src" / "train.py").read_text() + "# dirty\n")
    apply_json(cli, project)
    assert runs_json(project)[0]["git"]["dirty"] is True


def test_non_git_folder_has_null_git_fields(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    assert runs_json(project)[0]["git"] == {"commit": None, "branch": None, "dirty": None, "repository": None}


def test_credentials_are_stripped_from_the_remote(project, cli) -> None:
    two_jobs(project)
    project.commit("first")
    project.git("remote", "add", "origin", "https://alice:s3cret@git.example.com/team/repo.git")
    apply_json(cli, project)
    assert runs_json(project)[0]["git"]["repository"] == "https://git.example.com/team/repo.git"
    assert b"s3cret" not in (project / ".runner" / "state.db").read_bytes()


def test_runs_logs_follow_streams_a_running_run_until_it_ends(project) -> None:
    """`runner runs logs JOB -f` (-f is --follow here, like tail -f) prints lines as they come."""
    project.gen({"train.yaml": "version: 1\njobs:\n  slow:\n    command: python slow.py\n",
                 "slow.py": "import time\nprint('first', flush=True)\n"
                            "while not __import__('os').path.exists('../../../../go'):\n    time.sleep(0.05)\n"
                            "print('last', flush=True)\n"})
    apply = start_apply(project)
    try:
        wait_for(lambda: any(r["status"] == "running" for r in runs_json(project)), what="the run to start")
        follow = subprocess.Popen([*runner_cmd(), "runs", "logs", "slow", "-f", "-C", str(project.root)],
                                  stdout=subprocess.PIPE, text=True)
        assert follow.stdout is not None
        assert follow.stdout.readline() == "first\n"
        assert follow.poll() is None  # still following
        (project.root.parent / "go").write_text("")  # the run folder is .runner/runs/slow-1: four levels down
        out, _ = follow.communicate(timeout=60)
        assert "last" in out and follow.returncode == 0
    finally:
        apply.wait(timeout=60)


def test_snapshot_diff_after_apply_compares_with_the_last_run(project, cli) -> None:
    """No `runner snapshot` was ever called: the runs' snapshots are the job's history."""
    two_jobs(project)
    apply_json(cli, project)
    (project / "src" / "train.py").write_text((project / "src" / "train.py").read_text() + "# edited\n")
    diff = cli("snapshot", "diff", "train", "--json", "-C", project.root)
    assert diff.code == 0, diff.err
    assert json.loads(diff.out) == {"added": [], "removed": [], "modified": ["train.py"]}
    snapshot = json.loads(cli("runs", "show", "train", "--json", "-C", project.root).out)["snapshot"]
    by_digest = cli("snapshot", "diff", "train", snapshot[:10], "--json", "-C", project.root)
    assert json.loads(by_digest.out)["modified"] == ["train.py"]


def test_hand_written_metric_lines_of_the_wrong_shape_are_skipped(project, cli) -> None:
    """A job that appends to metrics.jsonl itself: bad records are dropped, the run completes."""
    writer = ("import json, os\nwith open(os.path.join(os.environ['RUNNER_LOGS'], 'metrics.jsonl'), 'a') as f:\n"
              "    for r in [{'type': 'metric', 'value': 1}, {'type': 'metric', 'name': 'x', 'step': 'two',"
              " 'value': 1}, {'type': 'params', 'params': [1]}, {'type': 'metric', 'name': 'ok', 'value': 2}]:\n"
              "        f.write(json.dumps(r) + '\\n')\n")
    project.gen({"train.yaml": "version: 1\njobs:\n  w:\n    command: python w.py\n", "w.py": writer})
    code, result = apply_json(cli, project)
    assert code == 0 and result["runs"][0]["status"] == "completed"
    assert json.loads(cli("runs", "metrics", "w", "--json", "-C", project.root).out).keys() == {"ok"}
