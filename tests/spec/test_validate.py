"""Every class of bad train.yaml gives located problems (1-based line:col), never a traceback."""

from __future__ import annotations

import json
import os

import pytest

from runner.project import find_project
from runner.spec import check, load
from runner.errors import SpecError

GOOD = """\
version: 1
experiment: iris
environments:
  sklearn:
    python: "3.11"
    pip: ["scikit-learn>=1.3", joblib]
computes:
  box: {type: docker, cpus: 2, memory: 4g}
datasets:
  iris-csv: {path: data/iris.csv}
jobs:
  prep:
    code: src
    command: python prep.py --in ${{inputs.raw}} --out ${{outputs}}
    inputs: {raw: {dataset: iris-csv}}
    environment: sklearn
  train:
    code: src
    script: train.py
    args: {--kernel: "${{params.kernel}}", --data: "${{inputs.data}}", --verbose: ""}
    params: {kernel: linear, penalty: 1.0}
    inputs:
      data: {job: prep, path: outputs/iris.csv}
    environment: sklearn
    compute: box
    timeout: 30m
models:
  iris-svm: {job: train, path: outputs/model.joblib, aliases: [latest]}
"""


@pytest.fixture
def make(project):
    project.gen({"src": {"train.py": "print(1)\n", "prep.py": "print(1)\n"}, "data": {"iris.csv": "a,b\n"}})

    def write(text: str | bytes) -> list:
        path = project / "train.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return list(check(find_project(project.root)).problems)

    return write


def only(problems: list) -> tuple[int, int, str]:
    assert len(problems) == 1, problems
    p = problems[0]
    return p.line, p.column, p.message


def test_good_file_is_valid(make) -> None:
    assert make(GOOD) == []


def test_summary_line(project, make, cli) -> None:
    make(GOOD)
    result = cli("validate", "-C", project.root)
    assert result.code == 0
    assert result.out.strip().endswith("train.yaml: 2 jobs, 1 environment, 1 model: valid")


def test_yaml_syntax_error_is_located(make) -> None:
    line, col, msg = only(make("version: 1\njobs:\n  a: [1, 2\n  b: 3\n"))
    assert (line, msg.startswith("YAML syntax error")) == (4, True)
    assert col >= 1


def test_tab_indentation_is_a_syntax_error(make) -> None:
    problems = make("version: 1\njobs:\n\ttrain: {}\n")
    assert problems and problems[0].message.startswith("YAML syntax error")


def test_every_duplicate_key_is_reported(make) -> None:
    problems = make("version: 1\njobs: {}\njobs: {}\nmodels: {}\nmodels: {}\n")
    assert [(p.line, p.column) for p in problems] == [(3, 1), (5, 1)]
    assert "duplicate key 'jobs' (first defined at line 2)" == problems[0].message


def test_unknown_key_suggests_the_close_one(make) -> None:
    text = GOOD.replace("    script: train.py\n", "    script: train.py\n    comand: x\n")
    line, col, msg = only(make(text))
    assert (line, col) == (20, 5)
    assert msg == "unknown key 'comand' (did you mean 'command'?)"


def test_unknown_top_level_key_lists_choices(make) -> None:
    line, col, msg = only(make("version: 1\nzzz: 1\n"))
    assert (line, col) == (2, 1) and "expected one of" in msg and "jobs" in msg


@pytest.mark.parametrize("old,new,expect", [
    ("cpus: 2", "cpus: [2]", "expected a number, got a list"),
    ("cpus: 2", "cpus: -1", "greater than 0"),
    ("type: docker", "type: k8s", "'local', 'docker' or 'ray'"),
    ('python: "3.11"', "python: 3.10", 'quoted string'),
    ("timeout: 30m", "timeout: 30 minutes", "bad duration '30 minutes'"),
    ("memory: 4g", "memory: lots", "invalid value 'lots'"),
])
def test_wrong_types_and_values(make, old, new, expect) -> None:
    problems = make(GOOD.replace(old, new))
    assert len(problems) == 1 and expect in problems[0].message, problems
    assert problems[0].line == GOOD[:GOOD.index(old)].count("\n") + 1


def test_missing_required_fields(make) -> None:
    problems = make("jobs: {}\nmodels:\n  m: {job: x}\n")
    messages = {p.message: (p.line, p.column) for p in problems}
    assert messages["missing required field 'version'"] == (1, 1)
    assert messages["missing required field 'path'"] == (3, 3)


@pytest.mark.parametrize("body", ["command: a\n    script: train.py", "code: src"])
def test_both_or_neither_command_and_script(make, body) -> None:
    line, col, msg = only(make(f"version: 1\njobs:\n  j:\n    {body}\n"))
    assert (line, col) == (3, 3) and "exactly one of `command:` or `script:`" in msg


@pytest.mark.parametrize("old,new,expect", [
    ("    environment: sklearn\n  train", "    environment: sklaern\n  train", "unknown environment 'sklaern' (did you mean 'sklearn'?)"),
    ("compute: box", "compute: gpu", "unknown compute 'gpu'"),
    ("dataset: iris-csv", "dataset: iris", "unknown dataset 'iris'"),
    ("{job: prep, path", "{job: prp, path", "unknown job 'prp' (did you mean 'prep'?)"),
    ("iris-svm: {job: train", "iris-svm: {job: tarin", "unknown job 'tarin'"),
])
def test_unknown_references(make, old, new, expect) -> None:
    line, col, msg = only(make(GOOD.replace(old, new)))
    assert msg == expect or msg.startswith(expect)
    text = GOOD.replace(old, new)
    bad = new.split(": ")[-1].split(",")[0].strip()
    assert text.splitlines()[line - 1][col - 1:].startswith(bad.split()[0].lstrip("{"))


def test_model_reference_to_unknown_model_alias_name(make) -> None:
    problems = make(GOOD.replace("aliases: [latest]", "aliases: [Latest]"))
    assert len(problems) == 1 and "invalid name 'Latest'" in problems[0].message


def test_cycles_in_needs_and_inputs(make) -> None:
    text = GOOD.replace("    inputs: {raw: {dataset: iris-csv}}\n", "    inputs: {raw: {dataset: iris-csv}}\n    needs: [train]\n")
    line, col, msg = only(make(text))
    assert msg == "dependency cycle: prep -> train -> prep" or msg == "dependency cycle: train -> prep -> train"
    assert line in (16, 24)


def test_self_cycle(make) -> None:
    line, col, msg = only(make("version: 1\njobs:\n  a: {command: x, needs: [a]}\n"))
    assert msg == "dependency cycle: a -> a" and (line, col) == (3, 27)


@pytest.mark.parametrize("old,new,expect", [
    ("code: src\n    script", "code: ../src\n    script", "leaves the project ('..')"),
    ("code: src\n    script", "code: /etc\n    script", "is absolute"),
    ("path: data/iris.csv", "path: data/nope.csv", "does not exist"),
    ("script: train.py", "script: nope.py", "does not exist"),
    ("code: src\n    script", "code: data/iris.csv\n    script", "is not a folder"),
])
def test_paths(make, old, new, expect) -> None:
    problems = make(GOOD.replace(old, new))
    assert any(expect in p.message for p in problems), problems


def test_path_through_symlink_out_of_project(make, project, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.csv").write_text("1")
    os.symlink(outside, project / "data" / "ext")
    line, col, msg = only(make(GOOD.replace("path: data/iris.csv", "path: data/ext/x.csv")))
    assert "leaves the project through a symlink" in msg and (line, col) == (10, 20)


@pytest.mark.parametrize("binding,expect,col_offset", [
    ("${{params.nope}}", "unknown param 'nope'", 0),
    ("${{inputs.nope}}", "unknown input 'nope'", 0),
    ("${{ secrets.x }}", "unknown binding", 0),
    ("${{params.kernel", "malformed binding", 0),
])
def test_bindings(make, binding, expect, col_offset) -> None:
    text = GOOD.replace("--out ${{outputs}}", f"--out {binding}")
    line, col, msg = only(make(text))
    assert expect in msg
    assert text.splitlines()[line - 1][col - 1:].startswith(binding[:5])


def test_binding_inside_folded_command_points_at_the_binding(make) -> None:
    text = "version: 1\njobs:\n  a:\n    command: >-\n      python x.py\n      --k ${{params.k}}\n"
    assert only(make(text)) == (6, 11, "unknown param 'k' (no params are defined) in `${{ params.k }}`")


@pytest.mark.parametrize("name", ["Train", "_x", "a b", "-x"])
def test_bad_names(make, name) -> None:
    line, col, msg = only(make(f"version: 1\njobs:\n  '{name}': {{command: x}}\n"))
    assert (line, col) == (3, 3) and msg.startswith(f"invalid name '{name}'")


def test_empty_file(make) -> None:
    assert only(make(""))[:2] == (1, 1)
    assert "empty" in only(make("# just a comment\n"))[2]


def test_root_not_a_mapping(make) -> None:
    line, col, msg = only(make("- a\n- b\n"))
    assert (line, col) == (1, 1) and "top level must be a mapping" in msg


def test_not_utf8(make) -> None:
    line, col, msg = only(make(b"version: 1\nexperiment: caf\xe9\n"))
    assert (line, col, msg) == (2, 16, "file is not valid UTF-8 text")


def test_every_problem_at_once(make) -> None:
    text = GOOD.replace("comand", "").replace("    script: train.py\n", "    script: train.py\n    comand: x\n")
    text = text.replace("compute: box", "compute: boxx").replace("timeout: 30m", "timeout: soon")
    assert len(make(text)) == 3


def test_cli_output_format_and_exit_code(project, make, cli) -> None:
    make(GOOD.replace("compute: box", "compute: boxx"))
    result = cli("validate", "-C", project.root)
    assert result.code == 1
    assert result.out.strip() == f"{project.root / 'train.yaml'}:25:14: unknown compute 'boxx' (did you mean 'box'?)"


def test_cli_json(project, make, cli) -> None:
    make(GOOD.replace("compute: box", "compute: boxx"))
    result = cli("validate", "-C", project.root, "--json")
    assert result.code == 1
    assert json.loads(result.out) == {"valid": False, "errors": [
        {"line": 25, "column": 14, "path": "jobs.train.compute", "message": "unknown compute 'boxx' (did you mean 'box'?)"}]}


def test_cli_relative_path_in_messages(project, make, cli, monkeypatch) -> None:
    make("version: 1\nzzz: 1\n")
    monkeypatch.chdir(project.root.parent)
    result = cli("validate", "-C", "proj")
    assert result.out.startswith("proj/train.yaml:2:1: unknown key 'zzz'")


def test_load_raises_spec_error(project, make) -> None:
    make("version: 2\n")
    with pytest.raises(SpecError) as err:
        load(find_project(project.root))
    assert "train.yaml:1:10:" in str(err.value)


def test_missing_train_yaml_is_one_line(tmp_path, cli) -> None:
    result = cli("validate", "-C", tmp_path)
    assert result.code == 1 and "no such file" in result.err and "runner init" in result.err


def test_dash_f_reads_another_file(project, make, cli) -> None:
    make(GOOD)
    (project / "other.yaml").write_text("version: 1\n")
    assert cli("validate", "-C", project.root, "-f", "other.yaml").code == 0
    assert "other.yaml: 0 jobs" in cli("validate", "-f", project / "other.yaml").out


# -- unions: one message per location, describing every allowed kind -------------------

SCRIPT_JOB = "version: 1\njobs:\n  a:\n    code: src\n    script: train.py\n"
COMMAND_JOB = "version: 1\njobs:\n  a:\n    command: python x.py\n"
GPUS = "version: 1\ncomputes:\n  c:\n    type: docker\n"


@pytest.mark.parametrize("head,line_text,expect", [
    (COMMAND_JOB, "    params: {x: {y: 1}}", (5, 17, "expected a string, number or true/false, got a mapping")),
    (COMMAND_JOB, "    params: {x: [1, 2]}", (5, 17, "expected a string, number or true/false, got a list")),
    (COMMAND_JOB, "    params: {str: {y: 1}}", (5, 19, "expected a string, number or true/false, got a mapping")),
    (COMMAND_JOB, "    params: {x: 2024-01-01}", (5, 17,
                                                  "expected a string, number or true/false, got the date 2024-01-01")),
    (SCRIPT_JOB, "    args: {--x: {y: 1}}", (6, 17, "expected a string, number or true/false, got a mapping")),
    (SCRIPT_JOB, "    args: {--x: [1]}", (6, 17, "expected a string, number or true/false, got a list")),
    (SCRIPT_JOB, "    args: [1, [2]]", (6, 15, "expected a string, number or true/false, got a list")),
    (SCRIPT_JOB, "    args: [{a: 1}]", (6, 12, "expected a string, number or true/false, got a mapping")),
    (SCRIPT_JOB, "    args: 3", (6, 11, "expected a mapping or list, got the number 3")),
    (GPUS, "    gpus: {a: 1}", (5, 11, "expected a whole number, list or 'all', got a mapping")),
    (GPUS, "    gpus: some", (5, 11, "expected a whole number, list or 'all', got the string 'some'")),
    (GPUS, "    gpus: [0, x]", (5, 15, "expected a whole number, got the string 'x'")),
    (GPUS, "    gpus: [0, -1]", (5, 15, "gpus[1] must be 0 or more")),
    (GPUS, "    gpus: -1", (5, 11, "gpus must be 0 or more")),
    (GPUS, "    gpus: true", (5, 11, "expected a whole number, list or 'all', got the boolean true")),
])
def test_union_errors_collapse_into_one_message(make, head, line_text, expect) -> None:
    assert only(make(head + line_text + "\n")) == expect


def test_a_list_where_a_scalar_goes(make) -> None:
    assert only(make(COMMAND_JOB + "    experiment: [a]\n")) == (5, 17, "expected a string, got a list")
    assert only(make(COMMAND_JOB + "    tags: {a: {b: 1}}\n")) == (5, 15, "expected a string, got a mapping")


def test_a_wrong_type_on_a_mapping_points_at_the_value(make) -> None:
    text = "version: 1\nenvironments:\n  e:\n    pip: {a: 1}\njobs: {}\n"
    assert only(make(text)) == (4, 10, "expected a list, got a mapping")


# -- YAML errors: one line, located -----------------------------------------------------

@pytest.mark.parametrize("text,where", [
    (b"version: 1\njobs:\n  a:\n    command: python x\n\x00", (5, 1)),
    (b"version: 1\njobs:\n  a:\n    command: python \x07x\n", (4, 21)),
    ("version: 1\nexperiment: caf\u00e9\x00\n".encode(), (2, 17)),
    (b"\xef\xbb\xbfversion: 1\n\x01", (2, 1)),
])
def test_unprintable_character_is_one_located_line(make, text, where) -> None:
    line, col, msg = only(make(text))
    assert (line, col) == where
    assert msg.startswith("YAML syntax error: unacceptable character #x00") and "\n" not in msg
    assert "position" not in msg and "<unicode string>" not in msg


def test_cli_prints_one_line_per_yaml_error(project, make, cli) -> None:
    make(b"version: 1\njobs:\n  a:\n    command: python x\n\x00")
    result = cli("validate", "-C", project.root)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out.strip().splitlines() == [
        (f"{project.root / 'train.yaml'}:5:1: YAML syntax error: unacceptable character #x0000: "
         "special characters are not allowed")]


# -- numbers: zero timeouts, negative counts, booleans are not numbers -----------------

@pytest.mark.parametrize("field,expect", [
    ("timeout: 0s", "timeout must be greater than 0"),
    ("timeout: 0", "timeout must be greater than 0"),
    ("timeout: 0h0m", "timeout must be greater than 0"),
    ("timeout: -5", "timeout must be greater than 0"),
    ("timeout: true", "bad duration true"),
    ("timeout: 1.5", "expected a whole number, got the number 1.5"),
    ("retries: -1", "retries must be 0 or more"),
    ("retries: true", "expected a whole number, got the boolean true"),
    ("retries: 1.5", "expected a whole number, got the number 1.5"),
])
def test_job_numbers(make, field, expect) -> None:
    line, col, msg = only(make(COMMAND_JOB + f"    {field}\n"))
    assert (line, col) == (5, 5 + len(field.split(": ")[0]) + 2)
    assert msg == expect or msg.startswith(expect), msg


@pytest.mark.parametrize("field,expect", [
    ("cpus: true", "expected a number, got the boolean true"),
    ("cpus: 0", "cpus must be greater than 0"),
    ("memory: true", "expected a string, got the boolean true"),
])
def test_compute_numbers(make, field, expect) -> None:
    line, _, msg = only(make(GPUS + f"    {field}\n"))
    assert (line, msg) == (5, expect)


def test_smallest_valid_numbers(make) -> None:
    assert make(COMMAND_JOB + "    timeout: 1s\n    retries: 0\n") == []
    assert make(COMMAND_JOB + "    timeout: 1\n") == []


def test_run_variables_cannot_be_redefined(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "train.yaml").write_text(
        "version: 1\nenvironments:\n  e:\n    variables: {RUNNER_OUTPUTS: /tmp/x, A: '1'}\n"
        "    secrets: [RUNNER_RUN_ID]\njobs:\n  a: {command: echo, environment: e}\n")
    done = cli("validate", "-C", tmp_path)
    assert done.code == 1
    assert done.out.splitlines() == [
        f"{tmp_path / 'train.yaml'}:4:17: invalid key 'RUNNER_OUTPUTS': RUNNER_OUTPUTS is set by runner in every "
        "run; choose another name",
        f"{tmp_path / 'train.yaml'}:5:15: RUNNER_RUN_ID is set by runner in every run; choose another name"]
