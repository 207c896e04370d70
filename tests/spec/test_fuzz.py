"""The loader never raises anything but SpecError, and every problem carries a line and column."""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import runner
from runner.errors import SpecError
from runner.project import find_project
from runner.spec import load
from tests.spec.test_validate import GOOD

KEYS = ["version", "jobs", "command", "script", "args", "params", "inputs", "environment", "compute",
        "needs", "timeout", "models", "job", "path", "datasets", "environments", "computes", "type",
        "pip", "python", "docker", "image", "aliases", "code", "train", "prep", "${{params.k}}", "<<"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(KEYS))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)),
    max_leaves=25)
SETTINGS = settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(project, data: bytes) -> None:
    (project / "train.yaml").write_bytes(data)
    try:
        load(find_project(project.root))
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message
            assert "\n" not in problem.message, problem.message


@SETTINGS
@given(doc=documents)
def test_random_documents(project, doc) -> None:
    import yaml

    _load(project, yaml.safe_dump(doc, allow_unicode=True).encode())


@SETTINGS
@given(cut=st.integers(0, len(GOOD)), junk=st.text(alphabet=string.printable + "\t{}[]:&*!|>'\"%@`", max_size=8),
       where=st.integers(0, len(GOOD)))
def test_mutated_good_file(project, cut, junk, where) -> None:
    text = GOOD[:cut] + GOOD[cut + 1:]
    _load(project, (text[:where] + junk + text[where:]).encode())


@SETTINGS
@given(data=st.binary(max_size=64))
def test_random_bytes(project, data) -> None:
    _load(project, data)


# Hostile shapes (issue 17): alias bombs, deep nesting, null documents, merge chains. Each is
# validated by `runner validate` in a worker process, which reports its time and peak memory.

PLACES = {  # where the generated definitions go: (text before, indentation, mapping or list entries)
    "top": ("version: 1\n", "", "map"),
    "unknown key": ("version: 1\nx:\n", "  ", "map"),
    "params": ("version: 1\njobs:\n  a:\n    command: echo\n    params:\n", "      ", "map"),
    "jobs": ("version: 1\njobs:\n", "  ", "map"),
    "list": ("version: 1\nenvironments:\n  e:\n    pip:\n", "      ", "list"),
}
places = st.sampled_from(sorted(PLACES))
leaves = st.sampled_from(["x", "1", "~", "command", "'${{params.k}}'", "y" * 2000])


def _entries(bodies: list[str], place: str) -> str:
    head, indent, kind = PLACES[place]
    entry = (lambda i: f"{indent}b{i}: ") if kind == "map" else (lambda i: f"{indent}- ")
    return head + "".join(entry(i) + body.replace("\n", "\n" + indent) + "\n" for i, body in enumerate(bodies))


def _body(i: int, items: list[str], style: str) -> str:
    """Level i of a bomb: a collection of `items`, anchored &bi, written in `style`."""
    if style == "flow list":
        return f"&b{i} [{', '.join(items)}]"
    if style == "flow map":
        return f"&b{i} {{{', '.join(f'k{j}: {item}' for j, item in enumerate(items))}}}"
    if style == "block list":
        return f"&b{i}\n" + "\n".join(f"  - {item}" for item in items)
    if style == "flow merge":
        return f"&b{i} {{<<: [{', '.join(items)}], k{i}: 1}}"
    return f"&b{i}\n  <<:\n" + "\n".join(f"    - {item}" for item in items) + f"\n  k{i}: 1"  # block merge


@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    levels, width = draw(st.integers(1, 14)), draw(st.integers(1, 12))
    style, leaf = draw(st.sampled_from(["flow list", "flow map", "block list", "flow merge", "block merge"])), draw(leaves)
    first = f"&b0 {{k: {leaf}}}" if "merge" in style else _body(0, [leaf] * width, style)
    bodies = [first, *(_body(i, [f"*b{i - 1}"] * width, style) for i in range(1, levels))]
    return _entries(bodies, draw(places))


@st.composite
def nestings(draw: st.DrawFn) -> str:
    style = draw(st.sampled_from(["flow list", "flow map", "mixed flow", "unclosed", "block map", "block list",
                                  "compact list", "block then flow"]))
    depth = draw(st.integers(1, 300 if style.startswith("block") else 5000))  # block: n² bytes
    if style == "flow list":
        inner = "[" * depth + "]" * depth
    elif style == "flow map":
        inner = "{a: " * depth + "1" + "}" * depth
    elif style == "mixed flow":
        opens = ["[" if i % 2 else "{a: " for i in range(depth)]
        inner = "".join(opens) + "1" + "".join("]" if o == "[" else "}" for o in reversed(opens))
    elif style == "unclosed":
        inner = draw(st.sampled_from(["[", "{", "{a: ", "[{a: "])) * depth
    elif style == "compact list":
        inner = "\n" + "- " * depth + "v"
    elif style == "block list":
        inner = "\n" + "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "v"
    elif style == "block map":
        inner = "\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(depth)) + " " * (depth + 1) + "v"
    else:
        inner = "\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(depth)) + " " * (depth + 1) + "[" * depth
    return draw(st.sampled_from(["version: 1\nx: ", "version: 1\njobs:\n  a:\n    command: e\n    params:\n      p: ",
                                 ""])) + inner + "\n"


NULLS = ["~", "null", "Null", "NULL", "", "!!null ''", "--- ~", "---\n~", "--- !!null\n...", "%YAML 1.2\n--- ~",
         "# a comment\n~ # another", "--- null\n...\n", "---", "...", "--- |\n", "version: 1\njobs: ~",
         "version: 1\njobs:\n  a: ~", "version:\njobs:", "version: 1\njobs:\n  a:\n    command: ~\n    needs: [~]",
         "version: 1\nmodels: {m: ~}\ncomputes: {c: {type: ~}}", "~: 1", "version: 1\n~: ~", "[~]", "{~: ~}"]


@st.composite
def null_documents(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(NULLS))
    before = draw(st.sampled_from(["", "\n", "# c\n", "\ufeff"]))
    after = draw(st.sampled_from(["", "\n", "\n...\n", "\n# c\n", "\n--- ~\n"]))
    return before + text + after


@st.composite
def merge_chains(draw: st.DrawFn) -> str:
    """Mappings m0..mN, each merging earlier ones (or itself, a list anchor, a scalar) and adding keys."""
    count = draw(st.integers(1, 30))
    lines = ["version: 1"]
    for i in range(count):
        earlier = [f"*m{j}" for j in range(i)] + [f"*m{i}"]  # the last one is itself: a recursive alias
        sources = draw(st.lists(st.sampled_from(earlier + ["*s", "1", "[1]", "{z: 1}"]), min_size=1, max_size=4))
        merge = sources[0] if len(sources) == 1 and draw(st.booleans()) else f"[{', '.join(sources)}]"
        own = draw(st.dictionaries(st.sampled_from(KEYS[:12]), st.sampled_from(["echo", "1", "[a]", "*m0" if i else "x"]),
                                   max_size=3))
        pairs = [f"<<: {merge}", *(f"{k}: {v}" for k, v in own.items())]
        lines.append(f"m{i}: &m{i} {{{', '.join(pairs)}}}")
        if i == 0:
            lines.append("s: &s [*m0, *m0]")
    lines.append(f"jobs: {{a: *m{count - 1}, b: {{<<: [*m{count - 1}, *s], command: echo}}}}")
    return "\n".join(lines) + "\n"


WORKER = r"""
import contextlib, io, json, re, resource, sys, time
from runner.cli import main
line = re.compile(r"^.+:\d+:\d+: \S.*$")
for folder in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", "-C", folder.strip()])
    seconds = time.perf_counter() - start
    lines = out.getvalue().splitlines()
    print(json.dumps({"code": code, "seconds": seconds, "err": err.getvalue()[-300:],
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "bad": [l for l in lines if code == 1 and not line.match(l)][:3]}), flush=True)
"""
MEMORY_MB = 200  # growth over the benign file of the same size (the bound for a whole process)


class Validator:
    """`runner validate` in one long-lived process: its exit code, seconds and peak memory per file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        source = str(Path(runner.__file__).resolve().parents[1])  # the runner under test, not another install
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, cwd=folder, env=env)
        benign = "version: 1\njobs:\n" + "".join(f"  j{i}:\n    command: echo {i}\n    needs: [j{i - 1}]\n"
                                                 for i in range(1, 2500))  # 100 KB
        runs = [self.run(benign) for _ in range(2)]
        self.limit = 2.0 + 2 * min(r["seconds"] for r in runs)  # this machine, now
        # Peak memory is the worker's high-water mark: a hostile file may not raise it much
        # above what a legitimate 100 KB file (and this venv's imports) already needed.
        self.memory_limit = max(r["rss_mb"] for r in runs) + MEMORY_MB

    def run(self, text: str) -> dict[str, Any]:
        (self.folder / "train.yaml").write_text(text, encoding="utf-8")
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{self.folder}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def check(self, text: str) -> None:
        """Exit 0 or 1, never 3; located lines only; time and memory bounded."""
        assert len(text.encode()) < 100_000
        result = self.run(text)
        if result["seconds"] > self.limit:  # once more, in case the machine was busy
            result["seconds"] = min(result["seconds"], self.run(text)["seconds"])
        assert result["code"] in (0, 1), (result, text[:300])
        assert not result["bad"] and not result["err"], (result, text[:300])
        assert result["seconds"] < self.limit, (result, self.limit, text[:300])
        assert result["rss_mb"] < self.memory_limit, (result, self.memory_limit, text[:300])

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Validator]:
    worker = Validator(tmp_path_factory.mktemp("hostile"))
    yield worker
    worker.close()


HOSTILE = settings(SETTINGS, max_examples=max(10, SETTINGS.max_examples // 5))


@HOSTILE
@given(text=alias_bombs())
@example(text="version: 1\n" + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'x'] * 10)}]\n"
                                       for i in range(12)))
def test_alias_bombs(validator: Validator, text: str) -> None:
    validator.check(text)


@HOSTILE
@given(text=nestings())
@example(text="version: 1\nx: " + "[" * 99_000)
def test_deep_nesting(validator: Validator, text: str) -> None:
    validator.check(text)


@HOSTILE
@given(text=null_documents())
def test_null_documents(validator: Validator, text: str) -> None:
    validator.check(text)


@HOSTILE
@given(text=merge_chains())
@example(text="version: 1\nm0: &m0 {k0: 1}\n" + "".join(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}\n"
                                                        for i in range(1, 40)))
def test_merge_chains(validator: Validator, text: str) -> None:
    validator.check(text)
