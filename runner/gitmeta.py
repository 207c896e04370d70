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
from typing import TYPE_CHECKING
from urllib.parse import quote

from runner.errors import RunnerError

if TYPE_CHECKING:
    from git import Repo

# Never let `git status` take index.lock: a commit hook may be running git beside us.
_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0"}
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
    try:
        import git
    except ImportError:  # GitPython refuses to import when no git binary is found
        return ci
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return ci
    with repo:
        try:
            return _describe(repo, Path(path), commit, ci)
        except git.GitCommandNotFound:
            return ci


def _describe(repo: Repo, path: Path, commit: str | None, ci: GitMeta) -> GitMeta:
    if repo.bare or not repo.head.is_valid():  # no commits yet
        return ci
    sha, author, message = _commit_info(repo, commit or "HEAD")
    return replace(
        ci,
        repository=_remote_url(repo),
        branch=_branch(repo, sha if commit else None),
        commit=sha,
        dirty=False if commit else _is_dirty(repo, path),
        message=message,
        author=author,
    )


def _commit_info(repo: Repo, rev: str) -> tuple[str, str, str]:
    import git

    unknown = UnknownCommitError(
        f"git: no commit {rev!r} in {repo.working_dir}; pass a commit sha, branch or tag that exists there"
    )
    if rev.startswith("-"):  # would reach git as an option
        raise unknown
    try:
        out = repo.git.log("-1", "-z", "--format=%H%x00%an <%ae>%x00%s", f"{rev}^{{commit}}", "--", env=_GIT_ENV)
    except git.GitCommandError as exc:
        raise unknown from exc
    sha, author, message = out.split("\0")[:3]
    return sha, author, message


def _branch(repo: Repo, sha: str | None) -> str | None:
    """The checked-out branch; for an explicit commit, only when it is that branch's tip."""
    if repo.head.is_detached:
        return None
    branch = repo.head.reference
    if sha is not None and repo.git.rev_parse(branch.path, env=_GIT_ENV) != sha:
        return None
    return branch.name


def _remote_url(repo: Repo) -> str | None:
    remotes = {remote.name: remote for remote in repo.remotes}
    if not remotes:
        return None
    remote = remotes.get("origin") or next(iter(remotes.values()))
    # The config value, not `remote.urls`: that spawns git, and insteadOf rewrites may add secrets.
    url = remote.config_reader.get_value("url", "")
    return strip_credentials(str(url)) if url else None


def _is_dirty(repo: Repo, path: Path) -> bool:
    top = Path(repo.working_dir).resolve()
    try:
        state_dir = (path.resolve() / ".runner").relative_to(top).as_posix()
    except ValueError:  # `path` reached through a link outside the work tree
        state_dir = ".runner"
    out = repo.git.status(
        "--porcelain", "-z", "--untracked-files=normal", "--", ".", f":(exclude){state_dir}", env=_GIT_ENV
    )
    return bool(out.strip("\0"))


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
