"""train.yaml is found in the current folder or the nearest folder above it, up to the git
repository's top (or `/`), and the command says which one when it is not here; -C/-f win."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ProjectDir, run_console

SPEC = "version: 1\njobs:\n  {name}: {{code: src, command: python t.py}}\n"


def _repo(project: ProjectDir) -> None:
    project.gen({"train.yaml": SPEC.format(name="top"), "src": {"t.py": "print(1)\n", "deep": {"x.py": ""}}})
    project.commit()


@pytest.mark.parametrize("below", ["src", "src/deep"])
def test_a_subfolder_uses_the_nearest_train_yaml_above(project: ProjectDir, below: str) -> None:
    _repo(project)
    up = "../" * len(below.split("/"))

    done = run_console("plan", cwd=project.root / below)

    assert done.returncode == 0, done.stderr
    assert "+ run top" in done.stdout
    assert done.stderr.splitlines() == [f"runner: using {up}train.yaml"]


def test_the_current_folder_says_nothing(project: ProjectDir) -> None:
    _repo(project)

    done = run_console("validate", cwd=project.root)

    assert done.returncode == 0 and done.stderr == ""


def test_a_nearer_train_yaml_wins(project: ProjectDir) -> None:
    _repo(project)
    project.gen({"src": {"train.yaml": SPEC.format(name="inner").replace("code: src", "code: .")}})

    done = run_console("plan", cwd=project.root / "src" / "deep")

    assert "+ run inner" in done.stdout and done.stderr.splitlines() == ["runner: using ../train.yaml"]


def test_the_search_stops_at_the_git_top(project: ProjectDir, tmp_path: Path) -> None:
    (tmp_path / "train.yaml").write_text(SPEC.format(name="outside"))  # above the repository
    project.gen({"src": {"t.py": ""}, "README": ""})
    project.commit()

    done = run_console("plan", cwd=project.root / "src")

    assert done.returncode != 0
    assert done.stderr.strip() == "train.yaml: no such file (run `runner init` to create one)"


def test_without_git_the_search_goes_up_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "p" / "src" / "a").mkdir(parents=True)
    (tmp_path / "p" / "train.yaml").write_text(SPEC.format(name="top"))

    done = run_console("validate", cwd=tmp_path / "p" / "src" / "a")

    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["runner: using ../../train.yaml"]


def test_project_and_file_options_win(project: ProjectDir) -> None:
    _repo(project)
    project.gen({"src": {"other.yaml": SPEC.format(name="other").replace("code: src", "code: .")}})

    no_spec_here = run_console("plan", "-C", ".", cwd=project.root / "src" / "deep")
    by_file = run_console("plan", "-f", "../other.yaml", cwd=project.root / "src" / "deep")

    assert no_spec_here.returncode != 0 and "train.yaml: no such file" in no_spec_here.stderr
    assert by_file.returncode == 0 and "+ run other" in by_file.stdout and "using" not in by_file.stderr


def test_the_hot_snapshot_command_finds_it_too(project: ProjectDir) -> None:
    _repo(project)

    done = run_console("snapshot", "top", "--json", cwd=project.root / "src")

    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["runner: using ../train.yaml"]
