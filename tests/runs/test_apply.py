"""runner plan / apply end to end: real git repositories, real processes, real SQLite."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.runs.helpers import (
    PREP,
    SPEC,
    TRAIN,
    actions,
    apply_json,
    plan_json,
    reasons,
    two_jobs,
)


def test_first_apply_runs_in_order_and_second_runs_nothing(project, cli) -> None:
    two_jobs(project)
    assert actions(plan_json(cli, project)) == {"prep": "run", "train": "run"}
    code, result = apply_json(cli, project)
    assert code == 0
    assert [(r["id"], r["status"]) for r in result["runs"]] == [("prep-1", "completed"), ("train-1", "completed")]
    plan = plan_json(cli, project)
    assert plan == {"changes": False, "actions": [
        {"action": "skip", "target": "prep", "reasons": ["up to date: run prep-1"]},
        {"action": "skip", "target": "train", "reasons": ["up to date: run train-1"]}]}
    code, again = apply_json(cli, project)
    assert code == 0 and again["runs"] == []


def test_plan_human_output_and_reasons(project, cli) -> None:
    two_jobs(project)
    out = cli("plan", "-C", project.root).out.splitlines()
    assert out[0].startswith("+ run prep") and out[0].endswith("(no previous run)")
    assert out[1].startswith("+ run train") and out[1].endswith("(after prep)")
    assert out[-1] == "Plan: 2 to run, 0 up to date."


def test_detailed_exitcode(project, cli) -> None:
    two_jobs(project)
    assert cli("plan", "-C", project.root, "--detailed-exitcode").code == 2
    apply_json(cli, project)
    assert cli("plan", "-C", project.root, "--detailed-exitcode").code == 0
    (project / "train.yaml").write_text("version: 1\njobs: {a: {command: x, compute: nope}}\n")
    assert cli("plan", "-C", project.root, "--detailed-exitcode").code == 1


def test_plan_writes_no_runs(project, cli) -> None:
    two_jobs(project)
    cli("plan", "-C", project.root)
    assert not (project / ".runner" / "runs").exists()


@pytest.mark.parametrize("edit,job,expected", [
    (lambda p: (p / "src" / "train.py").write_text((p / "src" / "train.py").read_text() + "# x\n"),
     "prep", "code: src/train.py modified"),
    (lambda p: (p / "train.yaml").write_text((p / "train.yaml").read_text().replace("k: linear", "k: rbf")),
     "train", "params.k: linear -> rbf"),
    (lambda p: (p / "train.yaml").write_text((p / "train.yaml").read_text().replace("prep.py ${{", "prep.py  --x=1 ${{")),
     "prep", "command changed"),
    (lambda p: (p / "data" / "d.csv").write_text("3,4\n"), "prep", "input raw: data changed"),
    (lambda p: (p / "src" / "new.py").write_text("x = 1\n"), "prep", "code: src/new.py added"),
])
def test_each_fingerprint_component_reruns_with_its_reason(project, cli, edit, job, expected) -> None:
    two_jobs(project)
    apply_json(cli, project)
    edit(project.root)
    plan = plan_json(cli, project)
    assert expected in reasons(plan, job)
    assert plan["changes"] is True


def test_upstream_outputs_change_reruns_downstream(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    (project / "data" / "d.csv").write_text("9,9\n")
    code, result = apply_json(cli, project)
    assert code == 0 and [r["id"] for r in result["runs"]] == ["prep-2", "train-2"]
    show = json.loads(cli("runs", "show", "train", "-C", project.root, "--json").out)
    assert "inputs.data: upstream outputs changed" in show["reasons"]


def test_downstream_skips_when_upstream_output_is_unchanged(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    (project / "src" / "prep.py").write_text((project / "src" / "prep.py").read_text() + "# same output\n")
    (project / "src" / "train.py").write_text((project / "src" / "train.py").read_text())
    code, result = apply_json(cli, project, "prep")
    assert code == 0 and [r["status"] for r in result["runs"]] == ["completed"]
    code, result = apply_json(cli, project)
    # train's own code changed too (shared folder), so it must run; prep is up to date now
    assert [r["job"] for r in result["runs"]] == ["train"]


def test_environment_change_is_a_reason(project, cli) -> None:
    spec = SPEC.replace("experiment: demo\n", f"experiment: demo\nenvironments:\n  host:\n    user_managed: true\n"
                                              f"    interpreter: {sys.executable}\n")
    spec = spec.replace("    params: {k: linear}\n", "    params: {k: linear}\n    environment: host\n")
    two_jobs(project, spec)
    assert apply_json(cli, project)[0] == 0
    other = Path(sys.executable).resolve()
    (project / "train.yaml").write_text(spec.replace(f"interpreter: {sys.executable}", f"interpreter: {other}"))
    if str(other) == sys.executable:
        pytest.skip("the interpreter has no second path here")
    assert reasons(plan_json(cli, project), "train") == ["environment host: interpreter changed"]


@pytest.mark.parametrize("old,new", [
    ("tags: {team: a}", "tags: {team: b}"),
    ("tags: {team: a}", "description: now described"),
    ("tags: {team: a}", "timeout: 1h"),
    ("tags: {team: a}", "retries: 3"),
    ("tags: {team: a}", "experiment: other"),
    ("    params: {k: linear}", "    params: {k: linear}\n    needs: []"),
])
def test_metadata_changes_never_rerun(project, cli, old, new) -> None:
    two_jobs(project)
    apply_json(cli, project)
    (project / "train.yaml").write_text(SPEC.replace(old, new))
    assert plan_json(cli, project)["changes"] is False


def test_spec_file_is_not_part_of_a_root_code_snapshot(project, cli) -> None:
    """With `code: .` the project root holds train.yaml itself: editing only its metadata
    must still not rerun, and the run folder does not carry the spec file."""
    spec = SPEC.replace("code: src", "code: .").replace("prep.py", "src/prep.py").replace("script: train.py",
                                                                                       "script: src/train.py")
    two_jobs(project, spec)
    assert apply_json(cli, project)[0] == 0
    (project / "train.yaml").write_text(spec.replace("tags: {team: a}", "tags: {team: b}"))
    assert plan_json(cli, project)["changes"] is False
    (project / "notes.txt").write_text("a real code change\n")
    assert reasons(plan_json(cli, project), "prep") == ["code: notes.txt added"]
    snap = json.loads(cli("snapshot", "prep", "--json", "-C", project.root).out)
    assert "train.yaml" in snap["excluded"] and snap["files"] == 4


def test_yaml_style_changes_never_rerun(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    restyled = SPEC.replace("    command: python prep.py ${{inputs.raw}} ${{outputs}}",
                            "    command: >-\n      python prep.py\n      ${{inputs.raw}} ${{outputs}}")
    restyled = restyled.replace("    params: {k: linear}", "    params:\n      k: linear\n    compute: local")
    (project / "train.yaml").write_text(restyled)
    assert plan_json(cli, project)["changes"] is False


def test_force_reruns_an_up_to_date_job(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    assert reasons(plan_json(cli, project), "prep") == ["up to date: run prep-1"]
    code, result = apply_json(cli, project, "--force", "prep")
    assert code == 0 and result["actions"][0]["reasons"] == ["forced"]
    assert [r["id"] for r in result["runs"]][0] == "prep-2"


def test_naming_a_job_limits_plan_to_it_and_what_it_needs(project, cli) -> None:
    spec = SPEC + "  other:\n    command: python -c \"print('other')\"\n"
    two_jobs(project, spec)
    assert set(actions(plan_json(cli, project, "train"))) == {"prep", "train"}
    assert set(actions(plan_json(cli, project, "prep"))) == {"prep"}
    result = cli("plan", "-C", project.root, "nope")
    assert result.code == 1 and "unknown job 'nope'" in result.err


def test_run_folder_variables_and_staged_snapshot(project, cli) -> None:
    script = ("import json, os, sys\n"
              "keys = ['RUNNER_RUN_ID', 'RUNNER_JOB', 'RUNNER_EXPERIMENT', 'RUNNER_OUTPUTS', 'RUNNER_LOGS', 'RUNNER_PARAMS', 'FOO']\n"
              "json.dump({k: os.environ.get(k) for k in keys} | {'cwd': os.getcwd(), 'argv': sys.argv[1:],"
              " 'code': open('show.py').read()},"
              " open(os.path.join(os.environ['RUNNER_OUTPUTS'], 'env.json'), 'w'))\n")
    project.gen({"train.yaml": """
        version: 1
        environments:
          e: {user_managed: true, variables: {FOO: bar}}
        jobs:
          show:
            script: show.py
            args: [--out, "${{outputs}}", --id, "${{run.id}}", "${{params.n}}"]
            params: {n: 3}
            environment: e
        """, "show.py": script})
    assert cli("apply", "-C", project.root).code == 0
    run_dir = project / ".runner" / "runs" / "show-1"
    seen = json.loads((run_dir / "outputs" / "env.json").read_text())
    assert seen["RUNNER_RUN_ID"] == "show-1" and seen["RUNNER_JOB"] == "show" and seen["FOO"] == "bar"
    assert seen["RUNNER_EXPERIMENT"] == "default" and json.loads(seen["RUNNER_PARAMS"]) == {"n": 3}
    assert Path(seen["cwd"]) == run_dir and seen["RUNNER_OUTPUTS"] == str(run_dir / "outputs")
    assert seen["argv"] == ["--out", str(run_dir / "outputs"), "--id", "show-1", "3"]
    assert seen["code"] == script and (run_dir / "logs" / "std_log.txt").exists()
    # after the run its code went back to the job's workspace pool: the run folder keeps outputs and logs
    assert sorted(p.name for p in run_dir.iterdir()) == ["logs", "outputs"]


def test_a_run_cannot_change_a_stored_object(project, cli) -> None:
    project.gen({"train.yaml": "version: 1\njobs:\n  a: {script: w.py}\n",
                 "w.py": "open(__file__, 'a').write('# changed by the run\\n')\n"})
    assert cli("apply", "-C", project.root).code == 0
    assert plan_json(cli, project)["changes"] is False  # the project's file and the stored object are intact
    assert cli("apply", "-C", project.root, "--force", "a").code == 0


def test_lifecycle_is_recorded_with_timestamps(project, cli) -> None:
    two_jobs(project)
    apply_json(cli, project)
    import sqlite3

    db = sqlite3.connect(project / ".runner" / "state.db")
    events = [row[0] for row in db.execute("SELECT status FROM run_events WHERE run_id = 'prep-1' ORDER BY rowid")]
    assert events == ["queued", "preparing", "running", "finalizing", "completed"]
    assert all(row[0].endswith("Z") for row in db.execute("SELECT at FROM run_events"))


def test_logs_are_streamed_to_the_terminal_and_the_log_file(project, cli) -> None:
    two_jobs(project)
    result = cli("apply", "-C", project.root)
    assert "prep reading" in result.out and "train linear 1,2" in result.out
    log = (project / ".runner" / "runs" / "train-1" / "logs" / "std_log.txt").read_text()
    assert "train linear 1,2" in log


def test_parallel_jobs_run_at_the_same_time(project, cli, tmp_path) -> None:
    # each job waits (bounded) for the other's marker: both complete only if they overlap
    wait = ("import os, sys, time\nopen(sys.argv[1], 'w').close()\nend = time.time() + 30\n"
            "while not os.path.exists(sys.argv[2]):\n    time.sleep(0.05)\n    assert time.time() < end, 'alone'\n")
    a, b = tmp_path / "a", tmp_path / "b"
    project.gen({"w.py": wait, "train.yaml": f"""
        version: 1
        jobs:
          left: {{script: w.py, args: ["{a}", "{b}"]}}
          right: {{script: w.py, args: ["{b}", "{a}"]}}
        """})
    code, result = apply_json(cli, project, "--jobs", "2")
    assert code == 0 and {r["status"] for r in result["runs"]} == {"completed"}


def test_failure_skips_dependents_and_independent_jobs_go_on(project, cli) -> None:
    project.gen({"train.yaml": """
        version: 1
        jobs:
          prep: {command: "echo broken; exit 3"}
          train: {command: "echo never", needs: [prep]}
          other: {command: "echo fine"}
        """})
    code, result = apply_json(cli, project)
    assert code == 1
    by_job = {r["job"]: r for r in result["runs"]}
    assert by_job["prep"]["status"] == "failed" and by_job["prep"]["exit_code"] == 3
    assert by_job["train"] == {"job": "train", "id": None, "status": "skipped", "exit_code": None,
                               "detail": "prep failed"}
    assert by_job["other"]["status"] == "completed"
    assert reasons(plan_json(cli, project), "prep") == ["previous run prep-1 failed"]
    logs = cli("runs", "logs", "prep-1", "-C", project.root)
    assert "broken" in logs.out


def test_timeout_kills_the_process_group(project, cli, tmp_path) -> None:
    pidfile = tmp_path / "child.pid"
    project.gen({"train.yaml": f"""
        version: 1
        jobs:
          slow:
            command: "sleep 60 & echo $! > {pidfile}; wait"
            timeout: 1s
        """})
    code, result = apply_json(cli, project)
    assert code == 1 and result["runs"][0]["status"] == "failed"
    assert result["runs"][0]["detail"] == "timeout after 1s"
    from tests.runs.helpers import pid_alive, wait_for

    wait_for(lambda: not pid_alive(int(pidfile.read_text())), 10, "the child to be killed")


def test_retries_rerun_a_failed_run(project, cli, tmp_path) -> None:
    counter = tmp_path / "count"
    project.gen({"flaky.py": f"import os\np = {str(counter)!r}\nn = int(open(p).read()) if os.path.exists(p) else 0\n"
                             "open(p, 'w').write(str(n + 1))\nraise SystemExit(0 if n >= 1 else 1)\n",
                 "train.yaml": "version: 1\njobs:\n  flaky: {script: flaky.py, retries: 2}\n"})
    code, result = apply_json(cli, project)
    assert code == 0 and result["runs"][0]["id"] == "flaky-2"
    runs = json.loads(cli("runs", "list", "-C", project.root, "--json").out)
    assert [(r["id"], r["status"]) for r in runs] == [("flaky-2", "completed"), ("flaky-1", "failed")]
    show = json.loads(cli("runs", "show", "flaky-2", "-C", project.root, "--json").out)
    assert show["reasons"] == ["retry 1 of 2 after flaky-1 failed"]


def test_missing_secret_fails_only_that_run(project, cli, monkeypatch) -> None:
    monkeypatch.delenv("RUNNER_TEST_SECRET", raising=False)
    project.gen({"train.yaml": """
        version: 1
        environments:
          e: {user_managed: true, secrets: [RUNNER_TEST_SECRET]}
        jobs:
          a: {command: "echo $RUNNER_TEST_SECRET", environment: e}
          b: {command: "echo ok"}
        """})
    code, result = apply_json(cli, project)
    by_job = {r["job"]: r for r in result["runs"]}
    assert code == 1 and "RUNNER_TEST_SECRET is not set" in by_job["a"]["detail"]
    assert by_job["b"]["status"] == "completed"
    monkeypatch.setenv("RUNNER_TEST_SECRET", "s3cret-value")
    code, result = apply_json(cli, project)
    assert code == 0
    db = (project / ".runner" / "state.db").read_bytes()
    assert b"s3cret-value" not in db


def test_plan_warns_about_a_large_code_folder_on_stderr(project, cli) -> None:
    spec = SPEC.replace("version: 1\n", "version: 1\nsnapshot: {warn_mb: 1}\n")
    two_jobs(project, spec)
    (project / "src" / "weights.bin").write_bytes(b"w" * 2_000_000)
    done = cli("plan", "--json", "-C", project.root)
    assert json.loads(done.out)["changes"] is True
    assert done.err.count("warning: code folder 'src'") == 1 and "weights.bin" in done.err


def test_an_environment_failure_is_in_the_runs_log(project, cli) -> None:
    project.gen({"train.yaml": """
        version: 1
        environments:
          gone: {user_managed: true, interpreter: /nonexistent/bin/python}
        jobs:
          a: {command: "echo never", environment: gone}
        """})
    code, result = apply_json(cli, project)
    assert code == 1 and result["runs"][0]["status"] == "failed"
    log = cli("runs", "logs", "a", "-C", project.root)
    assert log.code == 0 and "/nonexistent/bin/python" in log.out, result


def test_a_no_op_apply_reads_nothing_and_records_nothing(project, cli) -> None:
    """`code: .` with a git-ignored dataset, and a second code folder: after the first apply,
    plan and apply read no file again and add no snapshot rows."""
    project.gen({".gitignore": "data/\n", "data": {"d.csv": "1,2\n"}, "src": {"prep.py": PREP},
                 "train.yaml": SPEC.replace("    code: src\n    command: python prep.py",
                                            "    code: .\n    command: python src/prep.py")})
    (project / "src" / "train.py").write_text(TRAIN)
    assert apply_json(cli, project)[0] == 0
    from runner.state import open_state_at

    def counts() -> tuple[int, int]:
        with open_state_at(project.root / ".runner") as state:
            rows = state.db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
            data = state.db.execute("SELECT COUNT(*) FROM stat_cache WHERE path LIKE 'data/%'").fetchone()[0]
        return rows, data

    before = counts()
    assert before[1] == 1  # the ignored dataset keeps its stat-cache row
    for _ in range(3):
        assert plan_json(cli, project)["changes"] is False
        code, result = apply_json(cli, project)
        assert code == 0 and result["changes"] is False
    assert counts() == before


def test_a_missing_secret_fails_before_the_environment_is_built(project, cli, monkeypatch) -> None:
    monkeypatch.delenv("RUNNER_TEST_SECRET", raising=False)
    project.gen({"train.yaml": """
        version: 1
        environments:
          e: {pip: ["no-such-package-runner-test==1.0"], secrets: [RUNNER_TEST_SECRET]}
        jobs:
          a: {command: "echo never", environment: e}
        """})
    code, result = apply_json(cli, project)
    assert code == 1 and result["runs"][0]["detail"].startswith("secret RUNNER_TEST_SECRET is not set")


def test_python_in_a_command_is_the_user_managed_interpreter(project, cli, tmp_path) -> None:
    """`interpreter: /x/bin/python3.11` where /x/bin/python does not exist (Debian's /usr/bin):
    `python` and `python3` in a command still mean that interpreter."""
    folder = tmp_path / "only-python3"
    folder.mkdir()
    wrapper = folder / "python3.11"
    wrapper.write_text(f"#!/bin/sh\nRUNNER_TEST_MARK=wrapped exec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    show = "import os; print('mark', os.environ.get('RUNNER_TEST_MARK'))"
    project.gen({"train.yaml": f"""
        version: 1
        environments:
          e: {{user_managed: true, interpreter: {wrapper}}}
        jobs:
          a: {{command: "python -c \\"{show}\\"; python3 -c \\"{show}\\"", environment: e}}
        """})
    code, result = apply_json(cli, project)
    assert code == 0, result
    log = (project / ".runner" / "runs" / "a-1" / "logs" / "std_log.txt").read_text()
    assert log.count("mark wrapped") == 2, log
