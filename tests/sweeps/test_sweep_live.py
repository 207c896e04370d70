"""Sweeps while they run: concurrency, live early termination, kill -9 and resume, bayesian replay."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.runs.helpers import apply_json, runner_cmd, start_apply, wait_for
from tests.sweeps.support import make, run_ids, show, sweep_spec


def _most_at_once(log: str) -> int:
    """The largest number of trials between their start and end at one moment, from their own log."""
    events = sorted((float(t), 1 if kind == "start" else -1) for kind, _x, t in (line.split() for line in log.splitlines()))
    level = top = 0
    for _t, step in events:
        level += step
        top = max(top, level)
    return top


@pytest.mark.parametrize(("limits", "jobs", "expected"), [("{max_concurrent_trials: 3}", (), 3),
                                                          ("{max_concurrent_trials: 3}", ("-j", "2"), 2),
                                                          ("{max_concurrent_trials: 1}", (), 1)])
def test_max_concurrent_trials_and_jobs_cap_the_trials_at_once(project, cli, tmp_path, limits, jobs, expected) -> None:
    log = tmp_path / "log.txt"
    grid = "{x: {type: choice, values: [1, 2, 3, 4, 5, 6]}}"
    make(project, sweep_spec(grid, limits=limits, args=f"--log {log}"), curves={}, pause=0.6)
    code, _ = apply_json(cli, project, *jobs)
    assert code == 0
    assert _most_at_once(log.read_text()) == expected
    assert len(run_ids(cli, project)) == 6


CURVES = {0.9: [1, 1, 1, 1, 1, 1], 0.8: [1, 1, 1, 1, 1, 1], 0.2: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}
POLICIES = {
    "bandit": "{type: bandit, slack_factor: 0.2, delay_evaluation: 1}",
    "median_stopping": "{type: median_stopping, delay_evaluation: 1}",
    "truncation_selection": "{type: truncation_selection, truncation_percentage: 34, delay_evaluation: 1}",
}


@pytest.mark.parametrize("kind", list(POLICIES))
def test_the_policy_stops_a_poor_trial_while_it_runs(project, cli, kind) -> None:
    # One trial at a time, in grid order: two good ones finish, then the poor one is judged live.
    grid = "{x: {type: choice, values: [0.8, 0.9, 0.2]}}"
    make(project, sweep_spec(grid, early=POLICIES[kind]), curves=CURVES, pause=0.4)
    code, result = apply_json(cli, project)
    assert code == 0 and result["runs"][0]["status"] == "completed"
    trials = {t["params"]["x"]: t for t in show(cli, project)["trials"]}
    assert trials[0.9]["status"] == trials[0.8]["status"] == "completed"
    poor = trials[0.2]
    assert poor["status"] == "canceled"
    assert poor["reason"].startswith(f"early termination ({kind}: ") and "at interval 2" in poor["reason"]
    metrics = json.loads(cli("runs", "metrics", poor["run_id"], "-C", project.root, "--json").out)
    assert len(metrics["score"]) < 15  # stopped long before its curve ended
    assert apply_json(cli, project)[1]["runs"] == []  # a stopped trial is done: nothing to resume


def test_kill_9_then_apply_runs_only_the_missing_trials(project, tmp_path) -> None:
    gate = tmp_path / "go"
    grid = "{x: {type: choice, values: [1, 2, 3, 4]}}"
    make(project, sweep_spec(grid, args=f"--wait {gate}"))
    spec = project / "train.yaml"  # only trial 3 waits for the gate
    spec.write_text(spec.read_text().replace(f"--wait {gate}", "--wait=$( [ ${{params.x}} = 3 ] && echo " + str(gate) + ")"))
    apply = start_apply(project)
    wait_for(lambda: (tmp_path / "go.started").exists(), 60, "trial 3 to start")
    apply.kill()
    apply.wait(timeout=30)
    state = json.loads(subprocess.run([*runner_cmd(), "sweeps", "show", "tune", "-C", str(project.root), "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    by_x = {t["params"]["x"]: t for t in state["trials"]}
    assert by_x[1]["status"] == by_x[2]["status"] == "completed" and by_x[3]["status"] == "lost"
    assert 4 not in by_x
    gate.touch()
    done = subprocess.run([*runner_cmd(), "apply", "-C", str(project.root), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    after = json.loads(subprocess.run([*runner_cmd(), "sweeps", "show", "tune", "-C", str(project.root), "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    again = {t["params"]["x"]: t for t in after["trials"]}
    assert {x: t["status"] for x, t in again.items()} == dict.fromkeys([1, 2, 3, 4], "completed")
    assert again[1]["run_id"] == by_x[1]["run_id"] and again[2]["run_id"] == by_x[2]["run_id"]
    assert again[3]["trial"] == by_x[3]["trial"] and again[3]["run_id"] != by_x[3]["run_id"]
    runs = json.loads(subprocess.run([*runner_cmd(), "runs", "list", "-C", str(project.root), "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    assert len(runs) == 5  # four trials, one of them run twice (the lost run stays in the history)


def test_bayesian_trials_are_the_same_in_two_projects(tmp_path, cli) -> None:
    from tests.conftest import ProjectDir

    space = "{x: {type: uniform, min_value: 0, max_value: 10}, k: {type: choice, values: [a, b]}}"
    seen = []
    for name in ("one", "two"):
        project = ProjectDir(tmp_path / name)
        project.root.mkdir()
        make(project, sweep_spec(space, algorithm="bayesian", limits="{max_total_trials: 12}"))
        assert apply_json(cli, project)[0] == 0
        trials = sorted(show(cli, project)["trials"], key=lambda t: t["trial"])
        seen.append([t["params"] for t in trials])
        assert apply_json(cli, project)[1]["runs"] == []
    assert seen[0] == seen[1] and len({json.dumps(p) for p in seen[0]}) == 12
