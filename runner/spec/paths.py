"""The checks of train.yaml that depend on the disk: every path it names exists in the project.

Apart from the other whole-file checks (runner.spec.checks) because a cached spec
(runner.spec.cache) runs these again on every load, and that must not import the rest
(difflib, dataclasses, the bindings parser).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from os import PathLike

    from runner.spec.source import Path_
    from runner.spec.types import Spec


def path_problems(spec: Spec, root: str | PathLike[str]) -> Iterator[tuple[Path_, str]]:
    """The checks that depend on the disk: every path named in train.yaml exists in the project."""
    for name, job in spec.jobs.items():
        yield from _check_path(root, ("jobs", name, "code"), job.code, want_dir=True)
        if job.script is not None:
            yield from _check_path(root, ("jobs", name, "script"), f"{job.code}/{job.script}", want_dir=False)
        for key, item in job.inputs.items():
            if item.path is not None and item.job is None:
                yield from _check_path(root, ("jobs", name, "inputs", key, "path"), item.path)
    for name, dataset in spec.datasets.items():
        yield from _check_path(root, ("datasets", name, "path"), dataset.path)
    for name, env in spec.environments.items():
        for field in ("requirements", "conda"):
            if getattr(env, field):
                yield from _check_path(root, ("environments", name, field), getattr(env, field), want_dir=False)
        if env.docker is not None:
            for field, want in (("dockerfile", False), ("context", True)):
                if getattr(env.docker, field):
                    yield from _check_path(root, ("environments", name, "docker", field),
                                           getattr(env.docker, field), want_dir=want)


def _check_path(root: str | PathLike[str], where: Path_, rel: str,
                want_dir: bool | None = None) -> Iterator[tuple[Path_, str]]:
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, rel))
    if os.path.commonpath([real_root, real]) != real_root:
        yield where, f"path '{rel}' leaves the project through a symlink (to {real})"
    elif not os.path.exists(real):
        yield where, f"path '{rel}' does not exist in the project"
    elif want_dir is True and not os.path.isdir(real):
        yield where, f"path '{rel}' is not a folder"
    elif want_dir is False and not os.path.isfile(real):
        yield where, f"path '{rel}' is not a file"
