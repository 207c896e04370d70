"""`runner ci init`: write a CI workflow that applies each pushed commit (`runner apply --ref`).

The workflow goes to the repository's top folder (where GitHub and GitLab look for it),
with `-C` pointing at the project when it is a subfolder. It installs runner, restores
`.runner/` and the environment cache (`$RUNNER_CACHE_DIR`) with the provider's cache,
runs `runner apply --ref <the commit's sha>`, and uploads `runner runs list --json` and
`.runner/runs` as an artifact. Templates live in `templates/ci/` and use `[[ ]]` for
their values so the providers' own `${{ }}` expressions pass through jinja untouched.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from runner.atomic import atomic_write
from runner.errors import RunnerError
from runner.project import Project

# runner's name on the package index (`runner` there is an unrelated project).
DISTRIBUTION = "train-runner"

PROVIDERS = {"github": ".github/workflows/runner.yml", "gitlab": ".gitlab-ci.yml"}


class CiError(RunnerError):
    """The workflow cannot be written as asked."""


def init_ci(project: Project, *, provider: str = "github", force: bool = False) -> Path:
    """Write the provider's workflow file; refuses to overwrite one unless `force`."""
    if provider not in PROVIDERS:
        raise CiError(f"unknown CI provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
    top = _top(project.root)
    target = top / PROVIDERS[provider]
    if target.exists() and not force:
        raise CiError(f"{target} exists already: rerun with --force to overwrite it "
                      f"(for GitLab, merge the `runner-apply` job into your own file instead)")
    atomic_write(target, render_ci(project, provider, top), mode=0o644)
    return target


def render_ci(project: Project, provider: str, top: Path) -> str:
    import jinja2

    from runner import __version__
    from runner.resources import templates_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "ci")),
                             variable_start_string="[[", variable_end_string="]]",
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["q"] = shlex.quote
    inside = project.root.resolve().relative_to(top).as_posix()
    state = (project.state_dir.resolve().relative_to(top).as_posix()
             if project.state_dir.resolve().is_relative_to(top) else f"{inside}/.runner")
    return env.get_template(f"{provider}.yml.j2").render(
        version=__version__, python=f"{sys.version_info.major}.{sys.version_info.minor}",
        install=f"{DISTRIBUTION}=={__version__}", project_dir=inside, state_dir=_clean(state))


def _clean(path: str) -> str:
    return path.removeprefix("./")


def _top(root: Path) -> Path:
    """The repository's top folder; the project folder itself when it is not in git (yet)."""
    from runner.git.repo import RefError, repository_top

    try:
        return repository_top(root)
    except RefError:
        return root.resolve()
