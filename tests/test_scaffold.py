"""`runner init` scaffolds, and the example project: what they write validates and runs."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import tracking
from runner.project import find_project
from runner.scaffold import (
    ScaffoldError,
    init_project,
    project_name,
    template_names,
    templates_dir,
)
from runner.spec import check
from runner.spec.models import NAME_PATTERN
from runner.spec.schema import schema_text
from tests.example_copy import committed_example

TEMPLATES = ["minimal", "pytorch", "sklearn"]


def _valid(root: Path) -> Any:
    result = check(find_project(root))
    assert [p.format() for p in result.problems] == []
    return result.spec


def _run_env(logs: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    return {**clean, "RUNNER_RUN_ID": "train-1", "RUNNER_LOGS": str(logs)}


def test_templates_are_found() -> None:
    assert template_names() == TEMPLATES
    assert (templates_dir() / "init" / "_common").is_dir()


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_writes_a_valid_project(tmp_path: Path, template: str) -> None:
    dest = tmp_path / "deep" / "My Project"  # created, parents too
    written = init_project(dest, template=template, force=False)
    ddp = ["src/train_ddp.py"] if template == "pytorch" else []
    assert sorted(p.relative_to(dest).as_posix() for p in written) == [
        ".gitignore", ".runnerignore", "src/train.py", *ddp, "train.schema.json", "train.yaml"]
    spec = _valid(dest)
    assert spec.experiment == "my-project" and list(spec.jobs) == ["train"] + (["train-ddp"] if ddp else [])
    text = (dest / "train.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=train.schema.json"
    assert (dest / "train.schema.json").read_text() == schema_text()
    assert ".runner/" in (dest / ".gitignore").read_text().splitlines()
    assert "outputs/" in (dest / ".runnerignore").read_text().splitlines()
    script = (dest / "src" / "train.py").read_text()
    compile(script, "train.py", "exec")
    assert "from runner import tracking" in script and "tracking.log(" in script and '"outputs"' in script


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        init_project(tmp_path, template="minimal", force=False)
    finally:
        os.umask(old)
    assert (tmp_path / "train.yaml").stat().st_mode & 0o777 == 0o644


def test_minimal_script_logs_and_writes_outputs_in_a_run(tmp_path: Path) -> None:
    init_project(tmp_path, template="minimal", force=False)
    run = tmp_path / "run"
    shutil.copytree(tmp_path / "src", run)  # what a run folder holds: the snapshot of code
    subprocess.run([sys.executable, "train.py", "--epochs", "5", "--lr", "0.5"], cwd=run,
                   env=_run_env(run / "logs"), check=True, capture_output=True, timeout=60)
    losses = [r for r in tracking.read_metrics(run / "logs" / "metrics.jsonl") if r["type"] == "metric"]
    assert [r["step"] for r in losses] == [0, 1, 2, 3, 4] and losses[-1]["value"] < losses[0]["value"]
    assert set(json.loads((run / "outputs" / "model.json").read_text())) == {"a", "b"}


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "train.yaml").write_text("mine\n")
    with pytest.raises(ScaffoldError, match=r"train\.yaml.*--force") as caught:
        init_project(tmp_path, template="sklearn", force=False)
    assert ".gitignore" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.yaml"]
    assert (tmp_path / "train.yaml").read_text() == "mine\n"


def test_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "train.yaml").write_text("mine\n")
    (tmp_path / "keep.txt").write_text("untouched\n")
    init_project(tmp_path, template="sklearn", force=True)
    assert "iris-svm" in (tmp_path / "train.yaml").read_text()
    assert (tmp_path / "keep.txt").read_text() == "untouched\n"
    _valid(tmp_path)


def test_unknown_template_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="'tensorflow': choose one of minimal, pytorch, sklearn"):
        init_project(tmp_path / "p", template="tensorflow", force=False)
    assert not (tmp_path / "p").exists()


def test_things_in_the_way_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "src").write_text("a file where a folder goes\n")
    with pytest.raises(ScaffoldError, match="in the way: .*src"):
        init_project(tmp_path, template="minimal", force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScaffoldError, match="not a folder"):
        init_project(tmp_path / "file", template="minimal", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "src"]


def test_cli_init(tmp_path: Path, cli: Any) -> None:
    dest = tmp_path / "proj"
    first = cli("init", dest, "--template", "pytorch")
    assert first.code == 0 and f"wrote {dest / 'train.yaml'}" in first.out
    again = cli("init", dest)
    assert again.code == 1 and "not overwriting existing files" in again.err and "Traceback" not in again.err
    assert cli("validate", "-C", dest).code == 0


@given(st.text(min_size=0, max_size=40))
def test_project_name_is_always_a_valid_name(folder: str) -> None:
    name = project_name(Path("/tmp") / folder.replace("/", "").replace("\0", ""))
    assert re.match(NAME_PATTERN, name)


# -- example-project -------------------------------------------------------------------

def test_example_project_validates(tmp_path: Path) -> None:
    example = committed_example(tmp_path / "example-project")
    spec = _valid(example)
    assert list(spec.jobs) == ["prep", "train"] and list(spec.models) == ["iris-svm"]
    assert spec.jobs["train"].inputs["data"].job == "prep"
    assert (example / "train.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../schemas/train.schema.json\n")


def test_example_data_is_the_whole_iris_table(tmp_path: Path) -> None:
    with (committed_example(tmp_path / "ex") / "data" / "iris.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                       "petal width (cm)", "species"]
    assert len(rows) == 151 and {r[4] for r in rows[1:]} == {"setosa", "versicolor", "virginica"}


# -- any folder name round-trips through train.yaml -----------------------------------

YAML_LOOKALIKES = ["2024", "true", "false", "1.10", "0x1f", "0o17", "null", "yes", "no", "on", "off",
                   "1e3", ".inf", ".nan", "2024-01-01", "12:30", "1_000", "-1", "0", "0.0", "y", "n"]


def _folder_names() -> st.SearchStrategy[str]:
    usable = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), max_size=30)
    return (st.sampled_from(YAML_LOOKALIKES) | st.from_regex(NAME_PATTERN, fullmatch=True) | usable).filter(
        lambda s: s not in ("", ".", "..") and len(s.encode()) < 200)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("folder", ["2024", "true", "1.10", "0x1f", "null", "yes", "2024-01-01", "1e3"])
def test_folder_names_that_look_like_yaml_values(tmp_path: Path, template: str, folder: str) -> None:
    dest = tmp_path / folder
    init_project(dest, template=template, force=False)
    assert _valid(dest).experiment == folder


@settings(max_examples=60, deadline=None)
@given(folder=_folder_names(), template=st.sampled_from(TEMPLATES))
def test_any_folder_name_validates_and_keeps_its_name(folder: str, template: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / folder
        init_project(dest, template=template, force=False)
        assert _valid(dest).experiment == project_name(dest)


def test_cli_init_in_the_current_folder(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init")
    assert result.code == 0
    lines = result.out.splitlines()
    assert "  wrote train.yaml" in lines
    assert lines[-2:] == ["Initialised a minimal project in .", "Next: runner validate"]


def test_cli_init_names_the_folder_as_given_and_quotes_it(tmp_path: Path, cli: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init", "my [bold]project", "-t", "sklearn")
    assert result.code == 0
    lines = result.out.splitlines()
    assert "  wrote my [bold]project/train.yaml" in lines
    assert lines[-2:] == ["Initialised a sklearn project in 'my [bold]project'",
                          "Next: runner validate -C 'my [bold]project'"]
    assert cli("validate", "-C", "my [bold]project").code == 0
    plain = cli("init", "./plain", "-t", "minimal")
    assert plain.out.splitlines()[-2:] == ["Initialised a minimal project in plain",
                                           "Next: runner validate -C plain"]
