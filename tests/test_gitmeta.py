"""Git metadata of runs, read from real git repositories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.git.meta import (
    GitMeta,
    UnknownCommitError,
    ci_build,
    git_metadata,
    strip_credentials,
)

CI_VARS = [
    "GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
    "GITLAB_CI", "CI_JOB_ID", "CI_JOB_URL",
    "TF_BUILD", "BUILD_BUILDID", "SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT",
    "BUILDKITE", "BUILDKITE_BUILD_ID", "BUILDKITE_BUILD_URL",
    "CIRCLECI", "CIRCLE_BUILD_NUM", "CIRCLE_BUILD_URL",
    "JENKINS_URL", "BUILD_NUMBER", "BUILD_URL",
]  # fmt: skip
EMPTY = GitMeta()


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite itself may run on one of these CI services."""
    for name in CI_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(project):  # type: ignore[no-untyped-def]
    project.gen({"train.py": "print(1)\n", ".gitignore": "*.log\n"})
    project.commit("first line\n\nbody text")
    return project


def test_clean_repo(repo) -> None:  # type: ignore[no-untyped-def]
    meta = git_metadata(repo.root)
    assert meta.commit == repo.git("rev-parse", "HEAD")
    assert (meta.branch, meta.dirty, meta.repository) == ("main", False, None)
    assert meta.message == "first line"
    assert meta.author == "Test User <test@example.com>"
    assert set(meta.as_dict()) == {
        "repository", "branch", "commit", "dirty", "message", "author", "build_id", "build_url"
    }  # fmt: skip
    assert meta.as_dict()["commit"] == meta.commit


def test_modified_tracked_file_is_dirty(repo) -> None:  # type: ignore[no-untyped-def]
    (repo / "train.py").write_text("print(2)\n")
    assert git_metadata(repo.root).dirty is True


def test_staged_change_is_dirty(repo) -> None:  # type: ignore[no-untyped-def]
    (repo / "train.py").write_text("print(2)\n")
    repo.git("add", "train.py")
    assert git_metadata(repo.root).dirty is True


def test_untracked_file_is_dirty_ignored_one_is_not(repo) -> None:  # type: ignore[no-untyped-def]
    (repo / "run.log").write_text("ignored\n")
    assert git_metadata(repo.root).dirty is False
    (repo / "new.py").write_text("x = 1\n")
    assert git_metadata(repo.root).dirty is True


def test_runner_state_folder_is_not_dirty(repo) -> None:  # type: ignore[no-untyped-def]
    repo.gen({".runner": {"state.db": b"\0", "objects": {"ab": {"cd": "blob"}}}})
    assert git_metadata(repo.root).dirty is False


def test_runner_folder_of_subfolder_project(project) -> None:  # type: ignore[no-untyped-def]
    project.gen({"README.md": "top\n", "ml": {"train.yaml": "jobs: {}\n"}})
    project.commit()
    project.gen({"ml": {".runner": {"state.db": "x"}}})
    meta = git_metadata(project / "ml")
    assert (meta.commit, meta.branch, meta.dirty) == (project.git("rev-parse", "HEAD"), "main", False)
    # Another folder's .runner/ is not this project's state: it counts.
    project.gen({"other": {".runner": {"state.db": "x"}}})
    assert git_metadata(project / "ml").dirty is True


def test_non_git_folder(tmp_path: Path) -> None:
    assert git_metadata(tmp_path) == EMPTY
    assert git_metadata(tmp_path, commit="HEAD") == EMPTY


def test_missing_folder(tmp_path: Path) -> None:
    assert git_metadata(tmp_path / "nope") == EMPTY


def test_repo_without_commits(project) -> None:  # type: ignore[no-untyped-def]
    project.init_git()
    project.gen({"train.py": "x\n"})
    project.git("remote", "add", "origin", "https://host/x.git")
    assert git_metadata(project.root) == EMPTY


def test_detached_head(repo) -> None:  # type: ignore[no-untyped-def]
    first = repo.git("rev-parse", "HEAD")
    repo.commit("second")
    repo.git("checkout", "-q", "--detach", first)
    meta = git_metadata(repo.root)
    assert (meta.branch, meta.commit, meta.dirty, meta.message) == (None, first, False, "first line")


def test_commit_argument_describes_that_commit_as_clean(repo) -> None:  # type: ignore[no-untyped-def]
    first = repo.git("rev-parse", "HEAD")
    second = repo.commit("second")
    (repo / "train.py").write_text("dirty\n")
    meta = git_metadata(repo.root, commit=first[:8])
    assert (meta.commit, meta.message, meta.dirty, meta.branch) == (first, "first line", False, None)
    tip = git_metadata(repo.root, commit="main")
    assert (tip.commit, tip.message, tip.dirty, tip.branch) == (second, "second", False, "main")
    assert git_metadata(repo.root).dirty is True


def test_unknown_commit_argument_is_a_user_error(repo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownCommitError, match="no commit 'nosuchref'"):
        git_metadata(repo.root, commit="nosuchref")
    with pytest.raises(UnknownCommitError):
        git_metadata(repo.root, commit="--output=pwned")
    assert not list(repo.root.glob("pwned*"))


def test_origin_is_preferred_and_credentials_are_stripped(repo) -> None:  # type: ignore[no-untyped-def]
    repo.git("remote", "add", "backup", "https://other/y.git")
    assert git_metadata(repo.root).repository == "https://other/y.git"
    repo.git("remote", "add", "origin", "https://user:s3cret@github.com/org/x.git")
    meta = git_metadata(repo.root)
    assert meta.repository == "https://github.com/org/x.git"
    assert "s3cret" not in str(meta.as_dict())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@host/x.git", "https://host/x.git"),
        ("https://ghp_token123@github.com/org/x.git", "https://github.com/org/x.git"),
        ("https://oauth2:tok@gitlab.example.com:8443/g/x.git", "https://gitlab.example.com:8443/g/x.git"),
        ("http://u:p%40ss@host/x", "http://host/x"),
        ("https://host/x.git", "https://host/x.git"),
        ("git@github.com:org/x.git", "git@github.com:org/x.git"),
        ("ssh://git@host:22/org/x.git", "ssh://git@host:22/org/x.git"),
        ("ssh://git:secret@host/org/x.git", "ssh://git@host/org/x.git"),
        ("/srv/git/x.git", "/srv/git/x.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.~", min_size=1, max_size=20)


@given(user=_word, secret=_word, host=st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True),
       path=st.lists(_word, max_size=4), scheme=st.sampled_from(["http", "https", "HTTPS"]))
def test_http_credentials_never_survive(user: str, secret: str, host: str, path: list[str], scheme: str) -> None:
    tail = "/".join(path)
    clean = strip_credentials(f"{scheme}://{user}:{secret}@{host}/{tail}")
    assert clean == f"{scheme}://{host}/{tail}"
    assert strip_credentials(f"{scheme}://{secret}@{host}/{tail}") == clean


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com",
          "GITHUB_REPOSITORY": "org/x"}, ("42", "https://github.com/org/x/actions/runs/42")),
        ({"GITLAB_CI": "true", "CI_JOB_ID": "7", "CI_JOB_URL": "https://gl/org/x/-/jobs/7"},
         ("7", "https://gl/org/x/-/jobs/7")),
        ({"TF_BUILD": "True", "BUILD_BUILDID": "9", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/org/",
          "SYSTEM_TEAMPROJECT": "My Proj"}, ("9", "https://dev.azure.com/org/My%20Proj/_build/results?buildId=9")),
        ({"JENKINS_URL": "https://j/", "BUILD_NUMBER": "3", "BUILD_URL": "https://j/job/x/3/"},
         ("3", "https://j/job/x/3/")),
        ({"BUILDKITE": "true", "BUILDKITE_BUILD_ID": "uuid-1", "BUILDKITE_BUILD_URL": "https://bk/b/1"},
         ("uuid-1", "https://bk/b/1")),
        ({"CIRCLECI": "true", "CIRCLE_BUILD_NUM": "5", "CIRCLE_BUILD_URL": "https://circle/5"},
         ("5", "https://circle/5")),
        ({"CI": "true"}, (None, None)),
        ({"GITHUB_ACTIONS": "true"}, (None, None)),
    ],
)
def test_ci_build(env: dict[str, str], expected: tuple[str | None, str | None]) -> None:
    assert ci_build(env) == expected


def test_ci_fields_filled_in_and_out_of_git(repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_JOB_ID", "77")
    monkeypatch.setenv("CI_JOB_URL", "https://gl/jobs/77")
    meta = git_metadata(repo.root)
    assert (meta.build_id, meta.build_url, meta.branch) == ("77", "https://gl/jobs/77", "main")
    outside = git_metadata(tmp_path / "elsewhere")
    assert outside == GitMeta(build_id="77", build_url="https://gl/jobs/77")


def test_git_binary_missing(repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    assert shutil.which("git", path=os.environ["PATH"]) is None
    assert git_metadata(repo.root) == EMPTY
