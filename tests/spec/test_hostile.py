"""Hostile train.yaml files (issue 17): each costs little and says one located line per problem."""

from __future__ import annotations

import time

import pytest

from runner.reconcile import graph
from runner.spec.models import Spec
from tests.spec.test_validate import GOOD, make, only  # noqa: F401 (make is a fixture)

BOMB_VALUES = "aliases expand to more than 100,000 values; train.yaml does not need this many"
TOO_DEEP = "more than 64 levels of nesting; train.yaml does not need this many"
TOO_DEEP_ALIASED = "more than 64 levels of nesting (counting aliases and merges); train.yaml does not need this many"


def at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """Line and column (1-based) of the nth occurrence of `needle` in `text`."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def timed(make, text: str) -> tuple[list, float]:  # noqa: ANN001
    start = time.perf_counter()
    problems = make(text)
    return problems, time.perf_counter() - start


# 1. Alias bombs


def sequence_bomb(levels: int = 9, under: str = "") -> str:
    lines = ["version: 1", f"{under}l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{under}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_bound(make) -> None:
    text = sequence_bomb()
    problems, seconds = timed(make, text)
    line, col, msg = only(problems)
    assert msg == BOMB_VALUES
    # l1..l3 add 12,330 values, each *l3 11,111 more: the 8th in l4 crosses 100,000
    assert (line, col) == at(text, "*l3", 8)
    assert seconds < 5


def test_an_alias_bomb_in_block_style_under_a_job_is_refused(make) -> None:
    lines = ["version: 1", "jobs:", "  a:", "    command: echo", "    params:", "      b0: &b0", "        - x"]
    for i in range(1, 8):
        lines += [f"      b{i}: &b{i}", *[f"        - *b{i - 1}" for _ in range(10)]]
    problems, seconds = timed(make, "\n".join(lines) + "\n")
    assert [p.message for p in problems] == [BOMB_VALUES]
    assert seconds < 5


def test_a_merge_key_bomb_is_refused(make) -> None:
    lines = ["version: 1", "m0: &m0 {k0: 1}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, 25)]
    problems, seconds = timed(make, "\n".join(lines) + "\n")
    assert BOMB_VALUES in [p.message for p in problems]
    assert seconds < 5


def test_a_long_string_used_by_many_aliases_is_bounded_by_characters(make) -> None:
    text = f"version: 1\ns: &s {'x' * 50_000}\nuse: [{', '.join(['*s'] * 40)}]\n"
    line, col, msg = only(make(text))
    assert msg == "aliases expand to more than 1,000,000 characters; train.yaml does not need this many"
    assert (line, col) == at(text, "*s", 21)  # the 21st copy crosses a million characters


@pytest.mark.parametrize("shape", ["seq", "merge"])
def test_nesting_through_aliases_and_merges_is_bounded(make, shape) -> None:
    if shape == "seq":
        lines = ["l0: &l0 x", *[f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, 200)]]
    else:
        lines = ["l0: &l0 {k: 1}", *[f"l{i}: &l{i} {{<<: *l{i - 1}}}" for i in range(1, 200)]]
    text = "version: 1\n" + "\n".join(lines) + "\n"
    messages = [p.message for p in make(text)]
    assert TOO_DEEP_ALIASED in messages


def test_aliases_and_merges_within_bounds_still_work_and_locate(make) -> None:
    text = GOOD.replace("jobs:\n", "jobs:\n  base: &base {code: src, environment: sklearn, command: x}\n"
                                   "  other:\n    <<: *base\n    environment: sklaern\n    needs: &deps [prep]\n"
                                   "  third: {<<: *base, needs: *deps}\n")
    line, col, msg = only(make(text))
    assert msg.startswith("unknown environment 'sklaern'")
    assert (line, col) == at(text, "sklaern")  # the key written here, not the merged one


def test_a_reused_anchor_is_fine_and_warns_nothing(make, recwarn) -> None:
    """ruamel warned (on stderr, over several lines) for each anchor name used twice."""
    assert [p.message[:14] for p in make(GOOD + "x: &a 1\ny: &a 2\n")] == ["unknown key 'x", "unknown key 'y"]
    assert [str(w.message) for w in recwarn] == []


# 2. Deep nesting


@pytest.mark.parametrize("name,text", [
    ("flow lists", "x: " + "[" * 500 + "]" * 500),
    ("unclosed lists", "x: " + "[" * 1000),
    ("flow maps", "x: " + "{a: " * 500 + "1" + "}" * 500),
    ("block maps", "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v"),
    ("block lists", "x:\n" + "".join(" " * (2 * i) + "-\n" for i in range(1000)) + " " * 2000 + "v"),
    ("compact block lists", "x:\n" + "- " * 1000 + "v"),
])
def test_deep_nesting_is_refused_before_the_parser_recurses(make, name, text) -> None:
    problems = make("version: 1\n" + text + "\n")
    assert [p.message for p in problems] == [TOO_DEEP], problems
    assert problems[0].line >= 2


def test_nesting_is_refused_where_level_65_starts_and_64_levels_are_fine(make) -> None:
    # the top-level mapping is the first level
    assert not [p for p in make("version: 1\nx: " + "[" * 63 + "]" * 63 + "\n") if "nesting" in p.message]
    line, col, msg = only(make("version: 1\nx: " + "[" * 64 + "]" * 64 + "\n"))
    assert (line, col, msg) == (2, 4 + 63, TOO_DEEP)


# 3. Long needs chains


def chain(n: int, *, backwards: bool = False, cycle: bool = False) -> str:
    jobs = []
    for i in range(n):
        need = (i - 1) % n if not backwards else (i + 1) % n
        has = cycle or (0 <= (i - 1 if not backwards else i + 1) < n)
        jobs.append(f"  j{i}:\n    command: echo\n" + (f"    needs: [j{need}]\n" if has else ""))
    return "version: 1\njobs:\n" + "".join(jobs)


@pytest.mark.parametrize("backwards", [False, True])
def test_a_long_needs_chain_validates(make, backwards) -> None:
    assert make(chain(10_000, backwards=backwards)) == []  # the 10,000 jobs


def test_a_long_cycle_is_one_shortened_line(make) -> None:
    line, col, msg = only(make(chain(10_000, cycle=True)))
    assert msg.startswith("dependency cycle: j0 -> j9999 -> j9998 -> ")
    assert " -> j9991 -> ... (9,980 more) -> j10 -> " in msg and msg.endswith("-> j1 -> j0")
    assert len(msg) < 400


def test_graph_walks_do_not_recurse() -> None:
    n = 5000
    spec = Spec.model_validate({"version": 1, "jobs": {
        f"j{i}": {"command": "echo", "needs": [f"j{i + 1}"] if i + 1 < n else []} for i in range(n)}})
    assert graph.topological(spec) == [f"j{i}" for i in reversed(range(n))]
    assert graph.topological(spec, ["j4998", "j0"]) == ["j4998", "j0"]
    assert len(graph.with_upstream(spec, ["j0"])) == n


# 4. Null and self-merging documents


@pytest.mark.parametrize("text", ["~\n", "null\n", "--- ~\n", "Null\n", "# nothing\n--- !!null\n...\n"])
def test_a_null_document_is_one_located_line(make, project, cli, text) -> None:
    line, col, msg = only(make(text))
    assert msg == "the top level must be a mapping (version:, jobs:, ...), not nothing (null)"
    assert line >= 1 and col >= 1
    for command in ("validate", "plan"):
        result = cli(command, "-C", project.root)
        assert result.code == 1 and "internal error" not in result.err


@pytest.mark.parametrize("merge", ["*a", "[*a]", "[*b, *a]"])
def test_a_self_merging_mapping_is_a_recursive_alias(make, merge) -> None:
    text = f"version: 1\nb: &b {{x: 1}}\njobs:\n  a: &a {{<<: {merge}, command: echo}}\n"
    messages = {p.message: (p.line, p.column) for p in make(text)}
    assert messages.pop("recursive YAML alias") == at(text, "*a")
    assert all(m.startswith(("unknown key 'b'", "unknown key 'x'")) for m in messages), messages


@pytest.mark.parametrize("merge", ["1", "[1, 2]", "*s", "[[{x: 1}]]"])
def test_merging_something_else_than_mappings_is_located(make, merge) -> None:
    text = f"version: 1\ns: &s x\njobs:\n  a: {{<<: {merge}, command: echo}}\n"
    problems = [p for p in make(text) if p.message == "`<<` merges a mapping or a list of mappings"]
    assert problems and all(p.line == 4 for p in problems)


def test_a_merged_list_of_mappings_from_an_alias_works(make) -> None:
    text = "version: 1\nx: &parts [{command: echo}, {code: src}]\njobs:\n  a: {<<: *parts}\n"
    assert [p.message for p in make(text)] == [
        "unknown key 'x'; expected one of: version, experiment, environments, computes, datasets, jobs, models, "
        "snapshot, unmasked"]


# 5. Quadratic errors


def test_one_problem_repeated_16000_times_is_one_line_with_a_count(make) -> None:
    text = "version: 1\njobs:\n  a:\n    command: echo " + " ".join(["${{params.nope}}"] * 16000) + "\n"
    problems, seconds = timed(make, text)
    line, col, msg = only(problems)
    assert msg == "unknown param 'nope' (no params are defined) in `${{ params.nope }}` (16,000 times)"
    assert (line, col) == at(text, "${{")
    assert seconds < 10


def test_many_different_binding_problems_are_each_located_in_linear_time(make) -> None:
    text = "version: 1\njobs:\n  a:\n    command: echo " + " ".join(f"${{{{params.n{i}}}}}" for i in range(16000))
    problems, seconds = timed(make, text + "\n")
    assert len(problems) == 16000
    assert (problems[-1].line, problems[-1].column) == at(text, "${{params.n15999}}")
    assert seconds < 10


def test_unclosed_bindings_are_one_line(make) -> None:
    line, col, msg = only(make("version: 1\njobs:\n  a:\n    command: echo " + "${{" * 30000 + "\n"))
    assert msg == "malformed binding: `${{` without a closing `}}` (30,000 times)" and (line, col) == (4, 19)


def test_a_problem_inside_an_alias_used_often_is_reported_once(make) -> None:
    uses = "".join(f"  j{i}: *t\n" for i in range(50))
    text = f"version: 1\njobs:\n  t: &t {{command: echo, comand: x}}\n{uses}"
    assert [(p.line, p.message) for p in make(text)] == [
        (3, "unknown key 'comand' (did you mean 'command'?) (51 times)")]


def test_many_unknown_names_do_not_compare_each_with_every_job(make) -> None:
    jobs = "".join(f"  job{i}: {{command: e}}\n" for i in range(3000))
    text = "version: 1\njobs:\n" + jobs + "  x:\n    command: e\n    needs: [" + ", ".join(
        f"zz{i}" for i in range(3000)) + "]\n"
    problems, seconds = timed(make, text)
    assert len(problems) == 3000 and seconds < 20
    assert problems[0].message.startswith("unknown job 'zz0' (defined: job0, job1,")
    assert problems[0].message.endswith("job9 and 2,991 more)")  # x too


# 6. Every problem at once


def test_a_typo_and_a_dangling_reference_come_in_one_run(make) -> None:
    text = "version: 1\njobs:\n  a:\n    comand: echo\n    environment: nope\n    needs: [zz]\n"
    assert [p.message for p in make(text)] == [
        "unknown key 'comand' (did you mean 'command'?)",
        "unknown environment 'nope' (no environments are defined)",
        "unknown job 'zz' (defined: a)"]


def test_rules_over_a_whole_item_do_not_hide_its_references(make) -> None:
    text = ("version: 1\njobs:\n  a:\n    command: echo ${{params.x}}\n    script: a.py\n    environment: nope\n"
            "    needs: [a]\nmodels:\n  m: {job: zz, path: /abs}\n")
    messages = [p.message for p in make(text)]
    assert messages == ["a job needs exactly one of `command:` or `script:`",
                        "unknown param 'x' (no params are defined) in `${{ params.x }}`",
                        "unknown environment 'nope' (no environments are defined)",
                        "dependency cycle: a -> a",
                        "unknown job 'zz' (defined: a)",
                        "path '/abs' is absolute: use a path relative to the project"]


def test_a_param_that_fails_is_not_also_unknown_in_a_binding(make) -> None:
    text = "version: 1\njobs:\n  a:\n    command: echo ${{params.lr}}\n    params: {lr: [1]}\n"
    assert [p.message for p in make(text)] == ["expected a string, number or true/false, got a list"]


# 7. Numbers


@pytest.mark.parametrize("old,new,expect", [
    ("cpus: 2", "cpus: 1e400", "cpus must be a finite number, got the number inf"),
    ("cpus: 2", "cpus: .nan", "cpus must be a finite number, got the number nan"),
    ("cpus: 2", "cpus: 5000", "cpus must be 4096 or less"),
    ("memory: 4g", "memory: " + "9" * 5000, "a number of 5,000 digits is not a sane value here"),
    ("memory: 4g", 'memory: "' + "9" * 5000 + '"', "is more than 1 PiB (1048576g)"),
    ("memory: 4g", "memory: 2000000g", "size '2000000g' is more than 1 PiB (1048576g)"),
    ("cpus: 2", "cpus: 2, gpus: [0, 100000]", "gpus[1] must be 1024 or less"),
    ("timeout: 30m", "timeout: 99999h", "timeout must be 31536000 or less"),
    ("timeout: 30m", "timeout: " + "9" * 3000 + "h", "bad duration '99999"),
    ("timeout: 30m", "retries: 1000000", "retries must be 100 or less"),
    ("penalty: 1.0", "penalty: .inf", "penalty must be a finite number, got the number inf"),
    ("aliases: [latest]", "resources: {memory_gb: 1e300}", "memory_gb must be 1048576 or less"),
])
def test_numbers_are_finite_and_sane(make, old, new, expect) -> None:
    text = GOOD.replace(old, new)
    line, col, msg = only(make(text))
    assert expect in msg and line == text[:text.index(new)].count("\n") + 1


def test_numbers_at_their_bounds_are_fine(make) -> None:
    text = GOOD.replace("cpus: 2", "cpus: 4096, gpus: [0, 1024]").replace("timeout: 30m", "timeout: 8760h\n    retries: 100")
    assert make(text.replace("memory: 4g", "memory: 1048576g")) == []


def test_tags_are_reported_never_constructed(make) -> None:
    text = "version: 1\njobs: !!python/object:os.system {a: {command: x}}\nx: !foo [1]\n"
    messages = [p.message for p in make(text)]
    assert "cannot read this value: the tag !!python/object:os.system is not allowed in train.yaml" in messages
    assert "cannot read this value: the tag !foo is not allowed in train.yaml" in messages
