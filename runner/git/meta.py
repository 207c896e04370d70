"""Git metadata recorded with each run, like Azure ML's `azureml.git.*` properties.

Best effort by design: a folder outside git, a repository with no commits, or a machine
without the git binary gives `None` fields, never an error. Only an explicit `commit=`
that names no commit is the user's mistake (`UnknownCommitError`).

`message` is the commit's first line (its subject): it is what `runs list` and diffs
show, and commit bodies can be long. `build_id`/`build_url` come from the CI's
environment variables and are filled whether or not the folder is in git.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import quote

from runner.errors import RunnerError
from runner.git.command import git_output

# Schemes whose user part is only ever a credential (ssh's `git@` is a login name).
_HTTP_SCHEMES = {"http", "https", "ftp", "ftps"}


class UnknownCommitError(RunnerError):
    """`commit=` names nothing the repository knows."""


@dataclass(frozen=True)
class GitMeta:
    repository: str | None = None  # remote URL (origin, else first remote), credentials removed
    branch: str | None = None  # None when HEAD is detached
    commit: str | None = None  # full hex sha
    dirty: bool | None = None  # tracked changes or non-ignored untracked files, minus .runner/
    message: str | None = None  # first line of the commit message
    author: str | None = None  # "Name <email>"
    build_id: str | None = None  # CI build id (GitHub Actions, GitLab, Azure, Jenkins, Buildkite, CircleCI)
    build_url: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def git_metadata(path: Path, *, commit: str | None = None) -> GitMeta:
    """Describe HEAD (or `commit`, then reported clean) of the repository holding `path`."""
    build_id, build_url = ci_build()
    ci = GitMeta(build_id=build_id, build_url=build_url)
    git = _Git(Path(path))
    if commit is not None:
        if git("rev-parse", "--show-toplevel") is None or git("rev-parse", "--verify", "--quiet", "HEAD^{commit}") is None:
            return ci
        sha, author, message = _commit_info(git, commit)
        return replace(ci, repository=_remote_url(git), branch=_branch(git, sha), commit=sha, dirty=False,
                       message=message, author=author)
    if git("rev-parse", "--show-toplevel") is None:
        return ci  # not in a work tree, or no git binary
    from concurrent.futures import ThreadPoolExecutor

    # HEAD's questions are independent: asked at once, they take as long as the slowest
    # (`git status` of the work tree), not the sum of four git processes.
    with ThreadPoolExecutor(max_workers=4) as pool:
        asked = [pool.submit(_head_info, git), pool.submit(_remote_url, git), pool.submit(_branch, git, None),
                 pool.submit(_is_dirty, git)]
        info, repository, branch, dirty = (question.result() for question in asked)
    if info is None:
        return ci  # no commit yet
    sha, author, message = info
    return replace(ci, repository=repository, branch=branch, commit=sha, dirty=dirty, message=message, author=author)


def _head_info(git: _Git) -> tuple[str, str, str] | None:
    try:
        return _commit_info(git, "HEAD")
    except UnknownCommitError:  # no commit yet
        return None


class _Git:
    """`git ARGS` run in one folder: its stdout without the final newline, or None when it fails."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str) -> str | None:
        return git_output(self.cwd, *args)


def _commit_info(git: _Git, rev: str) -> tuple[str, str, str]:
    out = None if rev.startswith("-") else git(  # a leading dash would reach git as an option
        "log", "-1", "-z", "--format=%H%x00%an <%ae>%x00%s", f"{rev}^{{commit}}", "--")
    if out is None:
        raise UnknownCommitError(
            f"git: no commit {rev!r} in {git.cwd}; pass a commit sha, branch or tag that exists there")
    sha, author, message = out.split("\0")[:3]
    return sha, author, message


def _branch(git: _Git, sha: str | None) -> str | None:
    """The checked-out branch (None when detached); for an explicit commit, only when it is that branch's tip."""
    branch = git("symbolic-ref", "--quiet", "--short", "HEAD")
    if not branch or (sha is not None and git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}") != sha):
        return None
    return branch


def _remote_url(git: _Git) -> str | None:
    """origin's URL, else the first remote's, as configured: `remote get-url` would apply
    insteadOf rewrites, which may add secrets."""
    out = git("config", "--get-regexp", r"^remote\..*\.url$")
    urls: dict[str, str] = {}
    for line in (out or "").splitlines():
        key, _, url = line.partition(" ")
        urls.setdefault(key[len("remote."):-len(".url")], url)
    url = urls.get("origin") or next(iter(urls.values()), None)
    return strip_credentials(url) if url else None


def _is_dirty(git: _Git) -> bool:
    """Changes anywhere in the work tree but in this folder's `.runner/` (a pathspec without
    `top` is relative to the folder git runs in)."""
    out = git("status", "--porcelain", "-z", "--untracked-files=normal", "--", ":(top)", ":(exclude).runner")
    return bool((out or "").strip("\0"))


def strip_credentials(url: str) -> str:
    """Remove user and password from an http(s) URL, the password from others; scp-style stays.

    String surgery rather than urlunsplit, which would re-case the scheme and re-quote.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url  # `git@host:org/x.git` or a local path: nothing secret in it
    end = next((i for i, ch in enumerate(rest) if ch in "/?#"), len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url
    user = userinfo.partition(":")[0]
    keep_user = scheme.lower() not in _HTTP_SCHEMES and user
    netloc = f"{user}@{host}" if keep_user else host
    return f"{scheme}://{netloc}{rest[end:]}"


def ci_build(env: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    """(build id, build URL) from the first CI service whose marker variable is set."""
    env = dict(os.environ) if env is None else env
    for marker, build in _CI_SERVICES:
        if env.get(marker):
            build_id, build_url = build(env)
            return build_id or None, build_url or None
    return None, None


def _github(env: dict[str, str]) -> tuple[str | None, str | None]:
    run_id = env.get("GITHUB_RUN_ID")
    server, repo = env.get("GITHUB_SERVER_URL", "https://github.com"), env.get("GITHUB_REPOSITORY")
    return run_id, f"{server}/{repo}/actions/runs/{run_id}" if run_id and repo else None


def _azure(env: dict[str, str]) -> tuple[str | None, str | None]:
    build_id = env.get("BUILD_BUILDID")
    collection, project = env.get("SYSTEM_COLLECTIONURI"), env.get("SYSTEM_TEAMPROJECT")
    if not (build_id and collection and project):
        return build_id, None
    return build_id, f"{collection.rstrip('/')}/{quote(project)}/_build/results?buildId={build_id}"


def _simple(id_var: str, url_var: str) -> Callable[[dict[str, str]], tuple[str | None, str | None]]:
    return lambda env: (env.get(id_var), env.get(url_var))


_CI_SERVICES: list[tuple[str, Callable[[dict[str, str]], tuple[str | None, str | None]]]] = [
    ("GITHUB_ACTIONS", _github),
    ("GITLAB_CI", _simple("CI_JOB_ID", "CI_JOB_URL")),
    ("TF_BUILD", _azure),
    ("BUILDKITE", _simple("BUILDKITE_BUILD_ID", "BUILDKITE_BUILD_URL")),
    ("CIRCLECI", _simple("CIRCLE_BUILD_NUM", "CIRCLE_BUILD_URL")),
    ("JENKINS_URL", _simple("BUILD_NUMBER", "BUILD_URL")),
]
