"""Finding the project a command works on, without Typer (the hot path uses it too)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from os import PathLike
    from typing import Any

    from runner.project import Project

    Hold = Callable[[AbstractContextManager[Any]], Any]  # enters a resource the command's end closes


def project_of(project: str | PathLike[str] | None, file: str | PathLike[str] | None) -> Project:
    from runner.project import find_project

    found = find_project(project, file)
    if project is None and file is None:
        say_where(found)
    return found


def say_where(found: Project) -> None:
    """One line on stderr when train.yaml came from a folder above the current one (no -C/-f)."""
    import sys

    from runner.project import where_note

    note = where_note(found)
    if note:
        print(note, file=sys.stderr)


def open_for_runs(project: Any, file: Any, *, create: bool, ref: str | None, hold: Hold) -> tuple[Any, Any, Any, Any]:
    """(project, spec, state, git metadata or None) for plan and apply; with `ref`, the project is that
    commit's export, which `hold` keeps until the command ends (on errors and Ctrl-C too)."""
    from runner.errors import RunnerError, SpecError
    from runner.spec import load
    from runner.state import open_state

    proj, git = project_of(project, file), None
    if ref is not None and not ref.strip():  # `--ref $SHA` with SHA unset in a CI script
        raise RunnerError("--ref was given an empty value: pass a commit sha, branch or tag")
    if ref is not None:
        from runner.git.reftree import ref_tree

        tree = hold(ref_tree(proj, ref))
        proj, git = tree.project, tree.git
    try:
        spec = load(proj)
    except SpecError as exc:
        if ref is None or not any("does not exist" in p.message for p in exc.problems):
            raise
        raise RunnerError(f"{exc}\n(--ref {ref} reads only the files that commit tracks: git-ignored and "
                          f"uncommitted files are not part of it)") from None
    return proj, spec, hold(open_state(proj, create=create)), git  # closed when the command ends
