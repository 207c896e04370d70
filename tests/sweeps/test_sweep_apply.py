"""Sweeps reconciled end to end: real projects, real trial processes, real SQLite."""

from __future__ import annotations

import json

from tests.runs.helpers import apply_json, plan_json
from tests.sweeps.support import make, run_ids, show, sweep_spec

GRID = "{x: {type: choice, values: [1, 3, 2, 4]}, k: {type: choice, values: [a]}}"


def test_a_sweep_is_one_plan_action_and_reapplying_it_runs_nothing(project, cli) -> None:
    make(project, sweep_spec(GRID, limits="{max_concurrent_trials: 2}"))
    text = cli("plan", "-C", project.root)
    assert "+ sweep tune" in text.out and "(4 trials, 2 at once, grid, maximize score)" in text.out
    plan = plan_json(cli, project)
    assert plan["actions"] == [{"action": "sweep", "target": "tune",
                                "reasons": ["4 trials, 2 at once, grid, maximize score"]}]
    code, result = apply_json(cli, project)
    assert code == 0 and result["ok"]
    assert [(r["job"], r["status"]) for r in result["runs"]] == [("tune", "completed")]
    shown = show(cli, project)
    assert [t["params"]["x"] for t in shown["trials"]] == [4, 3, 2, 1]  # best first
    assert sorted(t["trial"] for t in shown["trials"]) == [1, 2, 3, 4]
    assert {t["status"] for t in shown["trials"]} == {"completed"}
    assert shown["best"]["value"] == 4.0 and shown["best"]["params"] == {"x": 4, "k": "a"}
    assert shown["best"]["run_id"] == result["runs"][0]["id"]
    assert len(run_ids(cli, project)) == 4
    again = plan_json(cli, project)
    assert again["changes"] is False and again["actions"][0]["action"] == "skip"
    assert again["actions"][0]["reasons"][0].startswith(f"up to date: sweep {shown['sweep_id'][:12]}")
    code, result = apply_json(cli, project)
    assert code == 0 and result["runs"] == [] and len(run_ids(cli, project)) == 4


def test_raising_max_total_trials_runs_only_the_difference(project, cli) -> None:
    space = "{x: {type: uniform, min_value: 0, max_value: 10}}"
    make(project, sweep_spec(space, algorithm="random", limits="{max_total_trials: 3}"))
    assert apply_json(cli, project)[0] == 0
    before = {t["trial"]: (t["params"], t["run_id"]) for t in show(cli, project)["trials"]}
    spec = project / "train.yaml"
    spec.write_text(spec.read_text().replace("max_total_trials: 3", "max_total_trials: 5"))
    plan = plan_json(cli, project)
    assert plan["actions"][0]["action"] == "sweep"
    assert plan["actions"][0]["reasons"][:2] == ["2 trials, 1 at once, random, maximize score",
                                                 "limits.max_total_trials: 3 -> 5"]
    code, result = apply_json(cli, project)
    assert code == 0
    after = {t["trial"]: (t["params"], t["run_id"]) for t in show(cli, project)["trials"]}
    assert sorted(after) == [1, 2, 3, 4, 5]
    assert {n: after[n] for n in before} == before  # the first three were not run again
    assert len(run_ids(cli, project)) == 5


def test_changed_code_starts_a_new_sweep(project, cli) -> None:
    make(project, sweep_spec(GRID))
    assert apply_json(cli, project)[0] == 0
    first = show(cli, project)["sweep_id"]
    tune = project / "src" / "tune.py"
    tune.write_text(tune.read_text() + "\n# changed\n")
    plan = plan_json(cli, project)
    assert plan["actions"][0]["action"] == "sweep"
    assert "code: src/tune.py modified" in plan["actions"][0]["reasons"]
    assert apply_json(cli, project)[0] == 0
    shown = show(cli, project)
    assert shown["sweep_id"] != first and len(run_ids(cli, project)) == 8


def test_a_trial_identical_to_a_completed_run_is_reused(project, cli) -> None:
    make(project, sweep_spec(GRID))
    assert apply_json(cli, project)[0] == 0
    first = show(cli, project)
    spec = project / "train.yaml"  # the policy is part of the sweep, not of a trial: a new sweep, same trials
    spec.write_text(spec.read_text().replace("objective:", "early_termination: {type: median_stopping}\n"
                                                           "      objective:"))
    code, result = apply_json(cli, project)
    assert code == 0
    second = show(cli, project)
    assert second["sweep_id"] != first["sweep_id"]
    assert {t["run_id"] for t in second["trials"]} == {t["run_id"] for t in first["trials"]}
    assert len(run_ids(cli, project)) == 4  # nothing ran


def test_from_best_registers_the_best_trial(project, cli) -> None:
    models = "models:\n  best: {job: tune, from: best, path: outputs/model.txt}\n"
    make(project, sweep_spec(GRID, models=models, goal="minimize"))
    code, result = apply_json(cli, project)
    assert code == 0 and result["models"][0]["status"] == "registered"
    shown = show(cli, project)
    assert shown["best"]["params"]["x"] == 1
    model = json.loads(cli("models", "show", "best", "-C", project.root, "--json").out)
    lineage = model["lineage"]
    assert lineage["run_id"] == shown["best"]["run_id"]
    best_trial = next(t["trial"] for t in shown["trials"] if t["run_id"] == shown["best"]["run_id"])
    assert lineage["sweep"] == {"id": shown["sweep_id"], "trial": best_trial, "value": 1.0}
    files = cli("models", "download", "best", "--to", project.root / "dl", "-C", project.root)
    assert files.code == 0 and (project / "dl" / "model.txt").read_text() == "1.0 a"


def test_a_model_of_a_swept_job_needs_from(project, cli) -> None:
    models = "models:\n  m: {job: tune, path: outputs/model.txt}\n"
    make(project, sweep_spec(GRID, models=models))
    result = cli("validate", "-C", project.root)
    assert result.code == 1
    assert "train.yaml:16:3: job 'tune' is a sweep: say which trial to register with `from: best`" in result.out


def test_a_trial_that_never_logged_the_metric_is_not_a_candidate(project, cli) -> None:
    models = "models:\n  best: {job: tune, from: best, path: outputs/model.txt}\n"
    make(project, sweep_spec(GRID, models=models), curves={4.0: []})  # x=4 would win, but logs nothing
    code, result = apply_json(cli, project)
    assert code == 0
    shown = show(cli, project)
    assert shown["best"]["params"]["x"] == 3
    assert [t["value"] for t in shown["trials"]] == [3.0, 2.0, 1.0, None]  # never-logged last
    assert shown["trials"][-1]["status"] == "completed"


def test_a_sweep_whose_trials_all_fail_fails_and_registers_nothing(project, cli) -> None:
    models = "models:\n  best: {job: tune, from: best, path: outputs/model.txt}\n"
    make(project, sweep_spec(GRID, models=models, args="--nope"))
    code, result = apply_json(cli, project)
    assert code == 1 and result["runs"][0]["status"] == "failed"
    assert result["runs"][0]["detail"] == "no trial completed with a value of score (4 of 4 trials done)"
    assert result["models"][0]["status"] == "failed"
    assert result["models"][0]["detail"].startswith("job tune failed (no trial completed")
    assert {t["status"] for t in show(cli, project)["trials"]} == {"failed"}
    assert apply_json(cli, project)[1]["runs"] == []  # failed trials are done: fix the code to sweep again
