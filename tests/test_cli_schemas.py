"""Every `--json` output has a JSON Schema in schemas/cli/, and real outputs match it.

One project is built once for the module: two jobs that really run, a model registered,
updated and archived, snapshots, a gc dry run, a hook-triggered apply, environments that
need no download. Every `--json` command is run on it, and each output is checked
against `schemas/cli/<command>.json` (`runs list` -> `runs-list.json`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import ProjectDir, isolate
from tests.runs.helpers import PREP, TRAIN

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "cli"
SCHEMA_NAMES = sorted(path.stem for path in SCHEMAS.glob("*.json"))

SPEC = """
version: 1
experiment: demo
environments:
  host: {user_managed: true}
  tiny: {requirements: requirements.txt}
datasets:
  d: {path: data/d.csv}
jobs:
  prep:
    code: src
    command: python prep.py ${{inputs.raw}} ${{outputs}}
    inputs: {raw: {dataset: d}}
    environment: host
  train:
    code: src
    script: train.py
    args: {--k: "${{params.k}}", --data: "${{inputs.data}}"}
    params: {k: linear}
    inputs: {data: {job: prep, path: outputs/clean.csv}}
models:
  clf:
    job: train
    path: outputs/model.txt
    framework: sklearn
    framework_version: "1.5"
    resources: {cpu: 1, gpu: 0}
    tags: {stage: candidate}
    properties: {owner: team-a}
    description: first
    aliases: [latest]
"""
# A sweep of three trials, one stopped early: `plan` shows a sweep action, `sweeps list|show` trials.
SWEEP_SPEC = """
version: 1
jobs:
  tune:
    code: src
    command: python tune.py ${{params.x}}
    params: {x: 1}
    sweep:
      sampling_algorithm: grid
      search_space: {x: {type: choice, values: [1, 2, 3]}}
      objective: {primary_metric: score, goal: maximize}
"""
TUNE = """
import sys
from runner import tracking
tracking.log("score", float(sys.argv[1]))
"""
# Docker jobs give `envs list|show` their image rows; never applied, and no daemon is asked.
DOCKER_SPEC = """
version: 1
environments:
  both: {requirements: requirements.txt}
computes:
  box: {type: docker}
jobs:
  a: {command: "python -c pass", environment: both}
  b: {command: "python -c pass", environment: both, compute: box}
"""


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


class Recorder:
    """Runs the CLI in-process on one project and keeps each `--json` output under its schema's name."""

    def __init__(self, project: ProjectDir) -> None:
        self.project = project
        self.outputs: dict[str, list[tuple[str, Any]]] = {}

    def __call__(self, name: str, *args: str, code: int = 0) -> Any:
        exit_code, out, err = self.run(*args, "--json")
        assert exit_code == code, f"runner {' '.join(args)} --json exited {exit_code}: {err}"
        data = json.loads(out)
        self.outputs.setdefault(name, []).append((" ".join(args), data))
        return data

    def run(self, *args: str) -> tuple[int, str, str]:
        from runner.cli import main

        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main([*args, "-C", str(self.project.root)])
        return code, out.getvalue(), err.getvalue()

    def text(self, *args: str) -> None:
        code, _out, err = self.run(*args)
        assert code == 0, f"runner {' '.join(args)} exited {code}: {err}"

    def edit(self, old: str, new: str) -> None:
        spec = self.project / "train.yaml"
        spec.write_text(spec.read_text().replace(old, new))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[tuple[str, Any]]]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp_path_factory)
        project = ProjectDir(tmp_path_factory.mktemp("schemas") / "proj")
        project.root.mkdir()
        project.gen({"train.yaml": SPEC, "docker.yaml": DOCKER_SPEC, "requirements.txt": "# nothing\n",
                     "bad.yaml": "version: 2\njobs: {a: {command: 1}}\n", "sweep.yaml": SWEEP_SPEC,
                     "data": {"d.csv": "1,2\n"}, "src": {"prep.py": PREP, "train.py": TRAIN, "tune.py": TUNE}})
        project.commit("first")
        record = Recorder(project)
        _spec_and_runs(record)
        _models(record)
        _state_and_envs(record, monkeypatch)
        _sweeps(record)
        yield record.outputs


def _spec_and_runs(record: Recorder) -> None:
    record("validate", "validate")
    record("validate", "validate", "-f", "bad.yaml", code=1)
    record("plan", "plan")
    record("apply", "apply")
    record.edit("k: linear", "k: rbf")
    record.project.commit("rbf")
    record("plan", "plan")
    record("apply", "apply")  # prep skipped, train-2 runs, model version 2
    record("plan", "plan")  # nothing to do
    record("apply", "apply")
    record("runs-list", "runs", "list")
    record("runs-list", "runs", "list", "--job", "nope")
    record("runs-show", "runs", "show", "train")
    record("runs-show", "runs", "show", "prep-1")
    record("runs-metrics", "runs", "metrics", "train-1")
    record("runs-diff", "runs", "diff", "train-1", "train-2")
    record("runs-diff", "runs", "diff", "prep-1", "train-2")


def _sweeps(record: Recorder) -> None:
    record("sweeps-list", "sweeps", "list")
    record("plan", "plan", "-f", "sweep.yaml")
    record("apply", "apply", "-f", "sweep.yaml")
    record("sweeps-list", "sweeps", "list")
    record("sweeps-show", "sweeps", "show", "tune")
    record("runs-show", "runs", "show", "tune-1")  # a trial: its sweep and trial number


def _models(record: Recorder) -> None:
    record.edit("description: first", "description: second")
    record("plan", "plan")  # update model:clf
    record("apply", "apply")
    spec = (record.project / "train.yaml").read_text()
    (record.project / "train.yaml").write_text(spec[:spec.index("models:")])
    record("plan", "plan")  # archive model:clf
    record("apply", "apply")  # not archived: no --prune
    record("apply", "apply", "--prune")
    record("models-list", "models", "list")
    record("models-list", "models", "list", "--all")
    record("models-show", "models", "show", "clf")
    record("models-show", "models", "show", "clf:1")
    record("models-versions", "models", "versions", "clf")
    record("models-history", "models", "history", "clf")
    (record.project / "train.yaml").write_text(spec)


def _state_and_envs(record: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    record("snapshot-take", "snapshot", "prep")  # the Typer-free path (runner.cli.hot)
    record("snapshot-take", "snapshot", "take", "train")
    (record.project / "src" / "new.py").write_text("x = 1\n")
    record("snapshot-diff", "snapshot", "diff", "prep")
    record("gc", "gc", "--dry-run")
    record("doctor", "doctor")
    record("doctor", "doctor", "--repair")
    record("hook-status", "hook", "status")
    record.text("hook", "install")
    record.text("hook", "run", "--foreground")  # applies HEAD: the model is back (unarchived)
    record("hook-status", "hook", "status")
    record("models-history", "models", "history", "clf")
    record("envs-build", "envs", "build", "tiny", "host")  # a venv without packages; host builds nothing
    record("envs-list", "envs", "list")
    record("envs-show", "envs", "show", "host")
    record("envs-show", "envs", "show", "tiny")
    record("envs-prune", "envs", "prune", "--older-than", "0s", "--dry-run")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{record.project.root}/no-docker.sock")
    record("envs-list", "envs", "list", "-f", "docker.yaml")
    record("envs-show", "envs", "show", "both", "-f", "docker.yaml")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_real_outputs_match_their_schema(name: str, outputs: dict[str, list[tuple[str, Any]]]) -> None:
    assert outputs.get(name), f"no real output is checked against schemas/cli/{name}.json"
    check = validator(name)
    for command, data in outputs[name]:
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in check.iter_errors(data)]
        assert not problems, f"runner {command} --json does not match schemas/cli/{name}.json:\n" + "\n".join(problems)


def test_the_outputs_cover_every_value_worth_a_schema(outputs: dict[str, list[tuple[str, Any]]]) -> None:
    """The fixture reached the states it means to (else the test above checks less than it says)."""
    plans = [data for _, data in outputs["plan"]]
    assert {a["action"] for p in plans for a in p["actions"]} == {"run", "sweep", "skip", "register", "update",
                                                                  "archive"}
    assert {p["changes"] for p in plans} == {True, False}
    applied = [data for _, data in outputs["apply"]]
    assert {m["status"] for a in applied for m in a["models"]} >= {"registered", "updated", "not archived", "archived"}
    events = {e["action"] for e in outputs["models-history"][-1][1]}
    assert events == {"register", "update", "alias", "archive", "unarchive"}
    assert [len(data["applies"]) for _, data in outputs["hook-status"]] == [0, 1]
    assert outputs["envs-build"][0][1] and outputs["envs-show"][-1][1]["docker"]["kind"] == "docker"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_each_schema_is_a_valid_open_draft_2020_12_schema(name: str) -> None:
    body = schema(name)
    Draft202012Validator.check_schema(body)
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["$id"] == f"urn:runner:cli:{name}" and body["title"] and body["description"]
    for path, node in _subschemas(body, ""):
        # Fields may be added to an output, never taken away: no object closes itself.
        assert node.get("additionalProperties") is not False, f"{name}.json{path} forbids new fields"
        missing = set(node.get("required", ())) - set(node.get("properties", {}))
        assert not missing, f"{name}.json{path} requires fields it does not describe: {sorted(missing)}"


def _subschemas(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _subschemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _subschemas(value, f"{path}/{index}")


def test_every_command_with_json_has_a_schema() -> None:
    assert json_commands() == set(SCHEMA_NAMES), "add schemas/cli/NAME.json for each new --json command"


def json_commands() -> set[str]:
    """`runs-list`, `snapshot-take`, ...: every command of the Typer app that has a --json option."""
    import importlib

    import typer.main

    from runner.cli.app import COMMAND_MODULES, app

    for module in set(COMMAND_MODULES.values()):
        importlib.import_module(f"runner.cli.{module}")
    return set(_with_json(typer.main.get_command(app), ()))


def _with_json(command: Any, path: tuple[str, ...]) -> Iterator[str]:
    for name, sub in getattr(command, "commands", {}).items():
        yield from _with_json(sub, (*path, name))
    if any("--json" in getattr(param, "opts", ()) for param in command.params):
        yield "-".join(path)


def test_a_broken_output_fails_its_schema(outputs: dict[str, list[tuple[str, Any]]]) -> None:
    run = outputs["runs-show"][0][1]
    check = validator("runs-show")
    assert check.is_valid(run) and check.is_valid({**run, "a_field_added_later": 1})
    assert not check.is_valid({key: value for key, value in run.items() if key != "status"})  # removed
    assert not check.is_valid({**run, "status": "done"})  # not a run status
    assert not check.is_valid({**run, "outputs": [{"path": "outputs/m", "digest": "x", "size": 1}]})
    plan = outputs["plan"][0][1]
    assert not validator("plan").is_valid({**plan, "changes": not plan["changes"]})
