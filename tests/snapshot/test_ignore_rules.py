"""Ignore rules: Azure ML's precedence per folder, nested files, negations, git's semantics."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runner.errors import RunnerError
from runner.project import find_project
from runner.snapshot.walk import walk
from runner.state.cachefile import cache_key, write_cache
from tests.conftest import ProjectDir


def files(root: Path, code: str = ".") -> set[str]:
    return {entry[0] for entry in walk(root, code).files}


def test_runnerignore_wins_over_amlignore_wins_over_gitignore(project: ProjectDir) -> None:
    tree = {"a.txt": "", "b.txt": "", "c.txt": ""}
    project.gen({**tree, ".gitignore": "a.txt\n", ".amlignore": "b.txt\n", ".runnerignore": "c.txt\n"})
    assert files(project.root) == {"a.txt", "b.txt", ".gitignore", ".amlignore", ".runnerignore"}
    (project / ".runnerignore").unlink()
    assert files(project.root) == {"a.txt", "c.txt", ".gitignore", ".amlignore"}
    (project / ".amlignore").unlink()
    assert files(project.root) == {"b.txt", "c.txt", ".gitignore"}


def test_precedence_is_chosen_per_folder(project: ProjectDir) -> None:
    project.gen({".runnerignore": "*.log\n", "x.log": "", "sub": {".gitignore": "*.tmp\n", "y.log": "", "y.tmp": "",
                                                                  "y.py": ""}})
    assert files(project.root) == {".runnerignore", "sub/.gitignore", "sub/y.py"}


def test_nested_files_apply_to_their_subtree_relative_to_their_folder(project: ProjectDir) -> None:
    project.gen({
        ".gitignore": "*.log\n/top.txt\n",
        "top.txt": "", "x.log": "",
        "sub": {".gitignore": "/top.txt\n!keep.log\n", "top.txt": "", "keep.log": "", "other.log": "",
                "deeper": {"top.txt": "", "keep.log": ""}},
        "other": {"top.txt": "", "keep.log": ""},
    })
    assert files(project.root) == {".gitignore", "sub/.gitignore", "sub/keep.log", "sub/deeper/top.txt",
                                   "sub/deeper/keep.log", "other/top.txt"}


@pytest.mark.parametrize(("rules", "kept"), [
    ("*.csv\n!keep.csv\n", {"keep.csv", "data/keep.csv", "run.py"}),
    ("data/\n!data/keep.csv\n", {"keep.csv", "x.csv", "run.py"}),  # git: a file in an excluded folder stays out
    ("data/*\n!data/keep.csv\n", {"keep.csv", "x.csv", "run.py", "data/keep.csv"}),
    ("*\n!*/\n!*.py\n", {"run.py"}),  # the whitelist idiom
    ("data/**\n!data/keep.csv\n", {"keep.csv", "x.csv", "run.py", "data/keep.csv"}),
])
def test_negation_patterns(project: ProjectDir, rules: str, kept: set[str]) -> None:
    project.gen({".runnerignore": rules, "keep.csv": "", "x.csv": "", "run.py": "",
                 "data": {"keep.csv": "", "x.csv": ""}})
    assert files(project.root) - {".runnerignore"} == kept


def test_git_and_runner_folders_are_always_excluded(project: ProjectDir) -> None:
    project.gen({".runnerignore": "!.git\n!.runner/\n", "a.py": "", ".runner": {"state.db": ""}, "sub": {".git": "x"}})
    project.commit()
    found = walk(project.root, ".")
    assert {st[0] for st in found.files} == {".runnerignore", "a.py"}
    assert sorted(found.excluded) == [".git", ".runner"]


def test_excluded_lists_top_level_entries_only(project: ProjectDir) -> None:
    project.gen({"src": {".amlignore": "data\n*.bin\n", "a.py": "", "m.bin": "", "data": {"x": ""},
                         "pkg": {"n.bin": "", "b.py": ""}}})
    found = walk(project.root, "src")
    assert sorted(found.excluded) == ["data", "m.bin"]
    assert {st[0] for st in found.files} == {"src/.amlignore", "src/a.py", "src/pkg/b.py"}


def test_rules_files_above_the_code_folder_apply(project: ProjectDir) -> None:
    project.gen({".gitignore": "*.log\nsrc/cache/\n", "src": {"a.py": "", "b.log": "", "cache": {"c": ""}}})
    assert files(project.root, "src") == {"src/a.py"}


def test_a_missing_code_folder_is_an_error(project: ProjectDir) -> None:
    with pytest.raises(RunnerError, match="code folder 'nope' does not exist"):
        walk(project.root, "nope")


def test_a_bad_pattern_names_its_file(project: ProjectDir) -> None:
    project.gen({"sub": {".runnerignore": "*.log\n!\n", "x": ""}})
    with pytest.raises(RunnerError, match=r"^sub/\.runnerignore:2: "):
        walk(project.root, ".")


# -- differential: the walk keeps exactly what git keeps ------------------------------------

PATTERNS = ["*.log", "!keep.log", "data/", "data/*", "!data/keep.csv", "/top.txt", "sub/", "!sub/", "*", "!*/",
            "!*.py", "**/deep", "a/**/b.txt", "!a/", "*.csv", "!*.csv", "sub/*.txt", "deep/", "**/*.txt",
            "!important.txt", "x/", "!x/y/", "a/x", "*/", "b.txt", "!b.txt", "/a/", "deep/**", "!deep/z.txt",
            "**", "a/**/", "/*.txt", "sub/**/*.py", "!/sub/deep/", "[dx]*", "?.log", "!**/keep.*", "data", "!data", "", "# a comment"]
TREE = ["top.txt", "keep.log", "x.log", "run.py", "data/keep.csv", "data/x.csv", "sub/top.txt", "sub/x.log",
        "sub/keep.log", "sub/deep/f.py", "sub/deep/important.txt", "a/b.txt", "a/x/b.txt", "a/x/y/b.txt",
        "deep/z.txt", "deep/w.txt", "x/y/z.py", "x/q.txt", "sub/data/keep.csv"]
rules = st.lists(st.sampled_from(PATTERNS), max_size=6)


def _git_keeps(root: Path) -> set[str]:
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    out = subprocess.run(["git", "-c", "core.excludesFile=/dev/null", "ls-files", "-o", "--exclude-standard"],
                         cwd=root, check=True, capture_output=True, text=True).stdout
    return set(out.split())


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=rules, nested=rules)
def test_same_result_as_git(top: list[str], nested: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel in TREE:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("")
        (root / ".gitignore").write_text("\n".join(top) + "\n")
        (root / "sub" / ".gitignore").write_text("\n".join(nested) + "\n")
        assert files(root) == _git_keeps(root)


# -- the per-folder prefilter never drops a path a pattern decides --------------------------

NAME = st.one_of(st.sampled_from(sorted({rel.rsplit("/", 1)[-1] for rel in TREE} | {"data", "sub", "deep"})),
                 st.text(alphabet="ab.x*?[]\\!_\n-", min_size=1, max_size=6).filter(lambda n: n not in (".", "..")))


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")) * 3, deadline=None)
@given(patterns=st.lists(st.one_of(st.sampled_from(PATTERNS), st.text(alphabet="ab.x*?/![]\\# ", max_size=7)), max_size=6),
       names=st.lists(st.tuples(NAME, st.booleans()), min_size=1, max_size=12),
       below=st.sampled_from(["", "sub/", "a/x/"]))
@example(patterns=["*x", "?"], names=[("ax", False), ("bx", False)], below="")  # a match spilling into the next line
@example(patterns=["**/x"], names=[("x", False)], below="")  # `**/` matches no slash
@example(patterns=["/a"], names=[("a", False)], below="")  # nor does the anchoring `/`
@example(patterns=["[ab]x"], names=[("ax", False)], below="")  # a character class is not a literal
@example(patterns=["*.log"], names=[("a\nb.log", False), ("c", False)], below="")  # a newline in a name
def test_candidates_hold_every_path_a_pattern_matches(patterns: list[str], names: list[tuple[str, bool]],
                                                     below: str) -> None:
    from runner.snapshot.ignore import RulesFile, _compile

    compiled = []
    for pattern in patterns:
        try:
            compiled.append(_compile(pattern, "test"))
        except RunnerError:
            continue  # not a valid pattern (`!` alone): load_rules_file reports it
    compiled = [c for c in compiled if c is not None]
    rules_file = RulesFile("", compiled)
    subs = [below + name + ("/" if is_dir else "") for name, is_dir in names]
    candidates = rules_file.candidates(subs)
    for i, (name, is_dir) in enumerate(names):
        if rules_file.decide(below + name, is_dir) is not None:
            assert i in candidates, (subs[i], patterns)


# -- pathspec's translations kept in .runner/cache ---------------------------------------------

def test_kept_translations_are_used_only_under_their_key_and_only_if_well_formed(
        project: ProjectDir, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.snapshot import ignore
    from runner.snapshot.take import take_snapshot
    from runner.state import open_state

    project.gen({"train.yaml": "version: 1\njobs: {}\n", ".gitignore": "*.log\n", "a.py": "", "b.log": ""})
    cache = project / ".runner" / "cache" / "ignore-patterns.marshal"
    key, kept = ignore._translation_key(), {"*.log": [True, "^never$", False]}
    for write, expected in (
            (lambda: write_cache(str(cache), key, kept), {"a.py", "b.log", ".gitignore"}),  # used: it is read
            (lambda: write_cache(str(cache), cache_key("another runner or pathspec"), kept), {"a.py", ".gitignore"}),
            (lambda: write_cache(str(cache), key, {"*.log": [True]}), {"a.py", ".gitignore"}),  # damaged entry
            (lambda: cache.write_bytes(cache.read_bytes()[:-5]), {"a.py", ".gitignore"})):  # cut short
        monkeypatch.setattr(ignore, "_TRANSLATED", {})
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_cache(str(cache), key, kept)
        write()
        with open_state(find_project(project.root)) as state:
            found = take_snapshot(project.root, ".", state, record=False, omit=frozenset({"train.yaml"}))
        assert {f.path for f in found.files} == expected
