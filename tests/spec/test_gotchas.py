"""YAML gotchas get messages that say what happened (issue 18, item 8)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import __version__
from runner.project import find_project
from runner.spec import check


@pytest.fixture
def make(project):
    project.gen({"src": {"t.py": "print(1)\n"}, "data": {"d.csv": "a\n"}})

    def write(text: str) -> list[tuple[int, int, str]]:
        (project / "train.yaml").write_text(text)
        return [(p.line, p.column, p.message) for p in check(find_project(project.root)).problems]

    return write


JOB_KEYS = {"code", "command", "script", "args", "params", "inputs", "environment", "compute", "needs", "timeout",
            "retries", "experiment", "tags", "description"}


# -- a comma in a flow mapping splits the value ------------------------------------------

def test_a_comma_in_a_flow_mapping_value(make) -> None:
    problems = make('version: 1\njobs:\n  a: {code: src, command: python -c "import a, b"}\n')
    assert problems == [(3, 48, "unknown key 'b\"': a comma inside a flow mapping {...} splits the value, so "
                                "command: ends at 'python -c \"import a'; quote the whole value: "
                                "command: 'python -c \"import a, b\"'")]


def test_every_piece_suggests_the_whole_value(make) -> None:
    problems = make("version: 1\njobs:\n  a: {code: src, command: echo 1, 2, 3}\n")
    assert [message.split(":", 1)[0] for _, _, message in problems] == ["unknown key '2'", "unknown key '3'"]
    assert all(message.endswith("quote the whole value: command: 'echo 1, 2, 3'") for _, _, message in problems)


def test_a_param_cut_by_a_comma(make) -> None:
    problems = make("version: 1\njobs:\n  a: {code: src, command: python t.py, params: {msg: hello, world}}\n")
    assert [m for _, _, m in problems] == [
        "no value for 'world': a comma inside a flow mapping {...} splits the value, so msg: ends at 'hello'; "
        "quote the whole value: msg: 'hello, world'"]


def test_a_quote_in_the_value_picks_the_other_quotes(make) -> None:
    problems = make("version: 1\njobs:\n  a: {code: src, command: echo it's, fine}\n")
    assert problems[0][2].endswith("""quote the whole value: command: "echo it's, fine\"""")


def test_block_style_and_real_keys_are_not_taken_for_a_split(make) -> None:
    assert make("version: 1\njobs:\n  a: {code: src, command: python t.py, colour: red}\n")[0][2].startswith(
        "unknown key 'colour'; expected one of:")
    assert make("version: 1\njobs:\n  a:\n    code: src\n    command: python t.py\n    b:\n")[0][2].startswith(
        "unknown key 'b'; expected one of:")


@settings(max_examples=40, deadline=None)
@given(words=st.lists(st.from_regex(r"[a-z][a-z0-9 ]{0,6}[a-z0-9]", fullmatch=True).filter(
    lambda w: w.split()[0] not in JOB_KEYS), min_size=2, max_size=4, unique=True))
def test_any_comma_split_command(tmp_path_factory, words: list[str]) -> None:
    root = tmp_path_factory.mktemp("p")
    (root / "src").mkdir()
    value = "echo " + ", ".join(words)
    (root / "train.yaml").write_text(f"version: 1\njobs:\n  a: {{code: src, command: {value}}}\n")
    messages = [p.message for p in check(find_project(root)).problems]
    assert [m.split(": a comma", 1)[0] for m in messages] == [f"unknown key '{w}'" for w in words[1:]]
    assert all(m.endswith(f"quote the whole value: command: '{value}'") for m in messages)


# -- empty sections ---------------------------------------------------------------------

@pytest.mark.parametrize("section,item", [("models", "a model"), ("environments", "an environment"),
                                          ("computes", "a compute"), ("datasets", "a dataset"), ("jobs", "a job")])
def test_an_empty_section(make, section: str, item: str) -> None:
    text = "version: 1\njobs:\n  a: {code: src, command: python t.py}\n"
    text = f"version: 1\njobs:\n" if section == "jobs" else f"{text}{section}:\n"
    line = text.count("\n")
    assert make(text) == [(line, 1, f"{section}: is empty; remove it or add {item}")]


def test_empty_fields_of_a_job(make) -> None:
    problems = make("version: 1\njobs:\n  a:\n    code: src\n    command: python t.py\n    params:\n    inputs:\n")
    assert [m for _, _, m in problems] == ["params: is empty; remove it or add a param",
                                           "inputs: is empty; remove it or add an input"]


# -- version ----------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["2", "0", "1.5"])
def test_a_version_this_runner_does_not_read(make, version: str) -> None:
    problems = make(f"version: {version}\njobs:\n  a: {{code: src, command: python t.py}}\n")
    assert problems == [(1, 10, f"version {version} is not one this runner reads: runner {__version__} reads "
                                f"train.yaml version 1 (upgrade runner, or write the file for version 1)")]


def test_a_quoted_version(make) -> None:
    problems = make('version: "1"\njobs:\n  a: {code: src, command: python t.py}\n')
    assert problems == [(1, 10, f"expected version 1 (runner {__version__} reads train.yaml version 1), "
                                f"got the string '1'")]


# -- a bad value is reported, not a binding to it ----------------------------------------

@pytest.mark.parametrize("params,message", [
    ("{epoch: [1, 2], lr: 0.1}", "expected a string, number or true/false, got a list"),
    ("{epoch: {a: 1}}", "expected a string, number or true/false, got a mapping"),
    ("{epoch: 2024-01-01}", "expected a string, number or true/false, got the date 2024-01-01"),
    ("{epoch: .nan}", "epoch must be a finite number, got the number nan"),
])
def test_a_bad_param_value_is_not_an_unknown_param(make, params: str, message: str) -> None:
    problems = make("version: 1\njobs:\n  a:\n    code: src\n    script: t.py\n"
                    f"    args: [--epoch, '${{{{params.epoch}}}}']\n    params: {params}\n")
    assert [m for _, _, m in problems] == [message]


@pytest.mark.parametrize("path,message", [
    ("/abs/x.csv", "path '/abs/x.csv' is absolute: use a path relative to the project"),
    ("../x.csv", "path '../x.csv' leaves the project ('..')"),
    ("data/nope.csv", "path 'data/nope.csv' does not exist in the project"),
])
def test_a_bad_input_path_is_not_an_unknown_input(make, path: str, message: str) -> None:
    problems = make("version: 1\njobs:\n  a:\n    code: src\n    command: python t.py ${{inputs.x}}\n"
                    f"    inputs: {{x: {{path: {path}}}}}\n")
    assert [m for _, _, m in problems] == [message]
