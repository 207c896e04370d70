"""The smaller items of a newcomer's first hour (issue 18, item 10): each one a test."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.cli.render import apply_summary, model_line, outcome_line
from runner.reconcile.results import ModelOutcome, RunOutcome
from tests.conftest import ProjectDir, run_console
from tests.runs.helpers import apply_json, plan_json, reasons

WRITE = "import os\nopen(os.path.join(os.environ['RUNNER_OUTPUTS'], 'm.txt'), 'w').write({text!r})\n"


def _model_project(project: ProjectDir, *, model: str = "  m: {job: a, path: outputs/m.txt, aliases: [latest]}\n",
                   text: str = "one") -> None:
    project.gen({"src": {"a.py": WRITE.format(text=text)},
                 "train.yaml": "version: 1\njobs:\n  a: {code: src, command: python a.py}\n"
                               + (f"models:\n{model}" if model else "")})


# -- envs list: never cut to 80 columns off a terminal -----------------------------------

def test_envs_list_keeps_whole_paths_off_a_terminal(project: ProjectDir) -> None:
    project.gen({"src": {"a.py": ""}, "train.yaml": "version: 1\nenvironments:\n  with-a-long-name: {pip: [six]}\n"
                 "jobs:\n  a: {code: src, command: python a.py, environment: with-a-long-name}\n"})

    text = run_console("envs", "list", "-C", project.root, env={**os.environ, "COLUMNS": "80"})
    rows = json.loads(run_console("envs", "list", "-C", project.root, "--json").stdout)

    location = rows[0]["location"]
    assert len(location) > 80
    line = next(line for line in text.stdout.splitlines() if line.startswith("with-a-long-name"))
    assert line.split() == ["with-a-long-name", "venv", rows[0]["fingerprint"][:12], "no", location]


# -- models history in words --------------------------------------------------------------

def test_models_history_has_no_python_reprs(project: ProjectDir, cli: Any) -> None:
    _model_project(project)
    assert apply_json(cli, project)[0] == 0
    (project / "train.yaml").write_text((project / "train.yaml").read_text().replace(
        "aliases: [latest]", "aliases: [latest], tags: {stage: dev}"))
    assert apply_json(cli, project)[0] == 0

    out = cli("models", "history", "m", "-C", project.root).out

    for python in ("None", "False", "True", "was_hand_set", "{'", "['", "run_id="):
        assert python not in out, out
    lines = out.splitlines()
    assert any("register" in line and "from run a-1" in line for line in lines), out
    assert any("alias" in line and "latest -> version 1 (by train.yaml)" in line for line in lines), out
    assert any("update" in line and "tags: {} -> {stage: dev}" in line for line in lines), out


# -- no detail that repeats the status ---------------------------------------------------

def test_lines_do_not_repeat_themselves() -> None:
    assert outcome_line(RunOutcome("forever", "forever-2", "canceled", detail="canceled")) == "! forever-2 canceled"
    assert outcome_line(RunOutcome("a", "a-2", "canceled", detail="superseded")) == "! a-2 canceled (superseded)"
    assert model_line(ModelOutcome("x", "skip", "up to date", 3, "up to date: version 3")) == \
        "= model:x version 3 up to date"
    assert model_line(ModelOutcome("x", "register", "registered", 2, "new content from a-2")) == \
        "✓ model:x version 2 registered (new content from a-2)"


def test_an_up_to_date_model_line_in_apply(project: ProjectDir) -> None:
    _model_project(project)
    project.commit()
    assert run_console("apply", "-C", project.root).returncode == 0
    (project / "src" / "a.py").write_text(WRITE.format(text="one") + "# same output\n")

    done = run_console("apply", "-C", project.root)

    assert done.returncode == 0, done.stderr
    assert "= model:m version 1 up to date" in done.stdout.splitlines(), done.stdout


# -- apply's summary names a model that failed -------------------------------------------

def test_the_summary_says_which_model_failed(project: ProjectDir) -> None:
    _model_project(project, model="  m: {job: a, path: outputs/nothere.txt}\n")
    project.commit()

    done = run_console("apply", "-C", project.root)

    assert done.returncode == 1
    summary = done.stdout.strip().splitlines()[-1]
    assert summary == "Apply: 1 completed; 1 model failed (m).", done.stdout
    assert "✗ model:m failed (model not touched: outputs/nothere.txt is not in the outputs of a-1" in done.stdout


def test_summary_text() -> None:
    runs = [RunOutcome("a", "a-1", "completed")]
    assert apply_summary(runs, [ModelOutcome("m", "register", "registered", 1)]) == "Apply: 1 completed."
    assert apply_summary(runs, [ModelOutcome("m", "register", "failed", None, "why")]) == \
        "Apply: 1 completed; 1 model failed (m)."
    two = [ModelOutcome("m", "register", "failed", None, "why"), ModelOutcome("n", "update", "failed", None, "why")]
    assert apply_summary([], two) == "Apply: 2 models failed (m, n)."


# -- plan says unarchive when a register brings an archived model back --------------------

def test_plan_says_unarchive(project: ProjectDir, cli: Any) -> None:
    _model_project(project)
    assert apply_json(cli, project)[0] == 0
    spec = (project / "train.yaml").read_text()
    _model_project(project, model="")
    assert apply_json(cli, project, "--prune")[0] == 0
    assert json.loads(cli("models", "show", "m", "-C", project.root, "--json").out)["status"] == "archived"

    (project / "train.yaml").write_text(spec)
    (project / "src" / "a.py").write_text(WRITE.format(text="two"))  # a new version, not an update
    plan = plan_json(cli, project)

    assert reasons(plan, "model:m") == ["after a", "back in train.yaml: unarchive"]
    code, result = apply_json(cli, project)
    assert code == 0 and result["models"][0]["status"] == "registered"
    assert json.loads(cli("models", "show", "m", "-C", project.root, "--json").out)["status"] == "active"


# -- with -j 2, a run's output never comes before its `▶ running` line ---------------------

def test_running_comes_before_the_runs_output(project: ProjectDir, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process prints at once; recording `running` is slow (a busy disk, simulated by a delay
    in the status write): `▶ c-1 running` must still come first."""
    import time

    from runner.runs.store import RunStore

    slow = RunStore.set_status

    def set_status(self: Any, run_id: str, status: str, **kw: Any) -> None:
        if status == "running":
            time.sleep(0.5)
        slow(self, run_id, status, **kw)

    monkeypatch.setattr(RunStore, "set_status", set_status)
    jobs = {name: {"code": "src", "command": f"python -c \"print('{name} done', flush=True)\""} for name in "cd"}
    project.gen({"src": {"x.py": ""}, "train.yaml": json.dumps({"version": 1, "jobs": jobs})})

    done = cli("apply", "-j", "2", "-C", project.root)

    assert done.code == 0, done.err
    lines = done.out.splitlines()
    for name in "cd":
        assert lines.index(f"▶ {name}-1 running") < lines.index(f"[{name}] {name} done"), done.out


# -- models show: the framework version the run's environment had -------------------------

def test_models_show_names_the_installed_framework_version(project: ProjectDir, cli: Any) -> None:
    import yaml

    _model_project(project, model="  m: {job: a, path: outputs/m.txt, framework: PyYAML, framework_version: '1.0'}\n")
    assert apply_json(cli, project)[0] == 0  # the default environment: the interpreter running runner

    shown = json.loads(cli("models", "show", "m", "-C", project.root, "--json").out)
    text = cli("models", "show", "m", "-C", project.root).out

    assert shown["framework_version"] == "1.0" and "framework_installed" not in shown["lineage"]
    assert f"framework   PyYAML 1.0 (the run used {yaml.__version__})" in text.splitlines()


def test_installed_version_in_a_cached_host_env(tmp_path: Path) -> None:
    import yaml

    from runner.envs.installed import installed_version
    from runner.state.layout import env_file

    digest = "ab" * 32
    folder = Path(env_file(digest)) / "bin"
    folder.mkdir(parents=True)
    (folder / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')  # this venv's python
    (folder / "python").chmod(0o755)
    env = {"name": "e", "digest": digest, "components": {"python": "3.11", "pip": "[]"}}

    assert installed_version(env, "pyyaml") == yaml.__version__
    assert installed_version(env, "no-such-package-here") is None
    assert installed_version({**env, "components": {"docker.base": "x"}}, "pyyaml") is None
    assert installed_version({"name": None, "digest": "cd" * 32, "components": {}}, "pyyaml") is None
