"""A tiny real project for registry tests: job `train` copies src/content.txt into its outputs.

`content.txt` steers it: "fail..." exits 3, "none..." writes no model; anything else is
written to outputs/model.bin and outputs/folder/{a,b}.txt, and a metric is logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from runner.project import find_project
from runner.reconcile.apply import apply
from runner.reconcile.results import ApplyResult
from runner.spec import load
from runner.state import State, open_state
from tests.conftest import CliResult, ProjectDir

MAKE = """
import pathlib
import sys

import runner.tracking as tracking

out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
text = pathlib.Path("content.txt").read_text()
if text.startswith("fail"):
    sys.exit(3)
tracking.log("accuracy", 0.5)
tracking.log("accuracy", 0.75, step=1)
if not text.startswith("none"):
    (out / "model.bin").write_text(text)
    (out / "folder").mkdir()
    (out / "folder" / "a.txt").write_text(text)
    (out / "folder" / "b.txt").write_text("b")
"""

JOB = """
  {name}:
    code: {code}
    script: make.py
    args: {{--out: "${{{{outputs}}}}"}}
"""

MODEL = """
  {name}:
    job: {job}
    path: {path}
    framework: scikit-learn
    framework_version: "1.5"
    tags: {tags}
    description: {description}
    aliases: [{aliases}]
"""


def spec_text(models: dict[str, dict[str, Any]] | None = None, jobs: tuple[str, ...] = ("train",)) -> str:
    """train.yaml with jobs reading src/ (or other/ for a second job) and the given models."""
    text = "version: 1\njobs:\n" + "".join(
        JOB.format(name=j, code="src" if j == "train" else "other").rstrip("\n") + "\n" for j in jobs)
    if models:
        text += "models:\n"
        for name, fields in models.items():
            values = {"job": "train", "path": "outputs/model.bin", "tags": "{stage: candidate}",
                      "description": "a test model", "aliases": "latest", **fields}
            text += MODEL.format(name=name, **values).lstrip("\n")
    return text


@dataclass
class RegistryProject:
    dir: ProjectDir

    @property
    def root(self) -> Any:
        return self.dir.root

    def write(self, models: dict[str, dict[str, Any]] | None = None, jobs: tuple[str, ...] = ("train",),
              content: str | None = None) -> None:
        files: dict[str, Any] = {"train.yaml": spec_text(models, jobs)}
        if content is not None:
            files["src"] = {"content.txt": content}
        self.dir.gen(files)

    def apply(self, **kwargs: Any) -> ApplyResult:
        proj = find_project(self.root)
        with open_state(proj) as state:
            return apply(proj, load(proj), state, **kwargs)

    def state(self) -> State:
        return open_state(find_project(self.root), create=False)


@pytest.fixture
def reg(project: ProjectDir) -> Iterator[RegistryProject]:
    made = RegistryProject(project)
    project.gen({"src": {"make.py": MAKE, "content.txt": "one"}, "other": {"make.py": MAKE, "content.txt": "x"},
                 ".gitignore": ".runner/\n"})
    made.write({"m": {}})
    project.commit("first")
    yield made


def as_json(result: CliResult) -> Any:
    assert result.code == 0, result.err
    return json.loads(result.out)


def model_actions(result: ApplyResult) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {a.target: (a.kind.value, a.texts) for a in result.plan.actions if a.target.startswith("model:")}
