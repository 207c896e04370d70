"""`runner ci init`: the written workflow is valid YAML and does what the issue lists."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ProjectDir

SPEC = "version: 1\njobs: {}\n"


def _steps_text(workflow: dict[str, Any]) -> str:
    return "\n".join(str(step) for step in workflow["jobs"]["apply"]["steps"])


def test_github_workflow(project: ProjectDir, cli: Any) -> None:
    project.gen({"ml": {"train.yaml": SPEC}})
    project.commit()

    done = cli("ci", "init", "-C", project.root / "ml")

    assert done.code == 0, done.err
    workflow = yaml.safe_load((project.root / ".github" / "workflows" / "runner.yml").read_text())
    steps = workflow["jobs"]["apply"]["steps"]
    text = _steps_text(workflow)
    assert "runner apply -C ml --ref ${{ github.sha }}" in text
    assert any("pip install" in str(step.get("run", "")) for step in steps)
    cache = next(step for step in steps if str(step.get("uses", "")).startswith("actions/cache"))
    assert cache["with"]["path"].split() == ["ml/.runner", ".runner-cache"]
    assert workflow["jobs"]["apply"]["env"]["RUNNER_CACHE_DIR"].endswith(".runner-cache")
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert "ml/.runner/runs" in upload["with"]["path"].split()
    assert upload["if"] == "always()"


def test_gitlab_pipeline(project: ProjectDir, cli: Any) -> None:
    project.gen({"train.yaml": SPEC})
    project.commit()

    done = cli("ci", "init", "--provider", "gitlab", "-C", project.root)

    assert done.code == 0, done.err
    job = yaml.safe_load((project.root / ".gitlab-ci.yml").read_text())["runner-apply"]
    assert 'runner apply -C "." --ref "$CI_COMMIT_SHA"' in job["script"]
    assert job["cache"]["paths"] == [".runner/", ".runner-cache/"]
    assert job["variables"]["RUNNER_CACHE_DIR"] == "$CI_PROJECT_DIR/.runner-cache"
    assert ".runner/runs/" in job["artifacts"]["paths"] and job["artifacts"]["when"] == "always"


@pytest.mark.parametrize("provider,path", [("github", ".github/workflows/runner.yml"), ("gitlab", ".gitlab-ci.yml")])
def test_refuses_to_overwrite_without_force(project: ProjectDir, cli: Any, provider: str, path: str) -> None:
    project.gen({"train.yaml": SPEC, path: "mine: true\n"})

    refused = cli("ci", "init", "--provider", provider, "-C", project.root)
    forced = cli("ci", "init", "--provider", provider, "--force", "-C", project.root)

    assert refused.code == 1 and "--force" in refused.err
    assert forced.code == 0, forced.err
    assert "runner apply" in Path(project.root, path).read_text()


def test_unknown_provider(project: ProjectDir, cli: Any) -> None:
    project.gen({"train.yaml": SPEC})

    done = cli("ci", "init", "--provider", "jenkins", "-C", project.root)

    assert done.code == 1 and "choose one of github, gitlab" in done.err


# The distribution is train-runner (`runner` on the index is an unrelated 2013 project): each
# template installs it at runner's own version, through one variable a git URL or a wheel can replace.
@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_template_installs_train_runner_at_this_version(project: ProjectDir, cli: Any, provider: str) -> None:
    from runner import __version__

    project.gen({"train.yaml": SPEC})
    assert cli("ci", "init", "--provider", provider, "-C", project.root).code == 0
    path = ".github/workflows/runner.yml" if provider == "github" else ".gitlab-ci.yml"
    text = (project.root / path).read_text()

    doc = yaml.safe_load(text)
    if provider == "github":
        steps = doc["jobs"]["apply"]["steps"]
        installs = [step for step in steps if "pip install" in str(step.get("run", ""))]
        assert len(installs) == 1 and installs[0]["env"] == {"RUNNER_INSTALL": "${{ vars.RUNNER_INSTALL }}"}
        commands = [installs[0]["run"]]
    else:
        commands = [line for line in doc["runner-apply"]["before_script"] if "pip install" in line]
    assert commands == [f'python -m pip install "${{RUNNER_INSTALL:-train-runner=={__version__}}}"']
    assert "runner==" not in text.replace("train-runner==", "")
    assert "RUNNER_INSTALL" in text and "git+https://" in text and ".whl" in text  # the documented override
    # What the shell hands pip, with and without the variable (GitHub passes an unset one as empty).
    echo = commands[0].replace("python -m pip install", "printf %s")
    for value, installed in (("", f"train-runner=={__version__}"), ("./w/train_runner.whl", "./w/train_runner.whl")):
        done = subprocess.run(["sh", "-c", echo], env={"PATH": os.environ["PATH"], "RUNNER_INSTALL": value},
                              capture_output=True, text=True, check=True)
        assert done.stdout == installed


def test_distribution_is_train_runner() -> None:
    import tomllib

    meta = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert meta["name"] == "train-runner"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for line in ("pip install train-runner", "pipx install train-runner", "uv tool install train-runner"):
        assert line in readme
