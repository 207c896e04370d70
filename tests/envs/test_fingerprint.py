"""Fingerprints change with exactly the components that decide an env's contents."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.envs import changed_components, env_fingerprint
from runner.envs.errors import EnvError
from runner.spec import from_data
from runner.spec.types import Spec

MakeSpec = Callable[..., Spec]


def fp_of(make_spec: MakeSpec, root: Path, **env: Any) -> Any:
    return env_fingerprint(make_spec(e=env), "e", root)


def test_digest_is_sha256_of_sorted_key_json(make_spec: MakeSpec, tmp_path: Path) -> None:
    fp = fp_of(make_spec, tmp_path, python="3.11", pip=["six"])
    payload = {"version": 1, "kind": "venv", "components": {"python": "3.11", "pip": '["six"]'}}
    expected = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert (fp.name, fp.kind, fp.digest) == ("e", "venv", expected)


def test_python_version_changes_it(make_spec: MakeSpec, tmp_path: Path) -> None:
    a, b = fp_of(make_spec, tmp_path, python="3.11"), fp_of(make_spec, tmp_path, python="3.12")
    assert a.digest != b.digest
    assert changed_components(a.components, b.components) == ["python"]


def test_default_python_is_the_running_interpreter(make_spec: MakeSpec, tmp_path: Path) -> None:
    fp = fp_of(make_spec, tmp_path, pip=["six"])
    assert fp.components["python"] == "{}.{}.{}".format(*sys.version_info[:3])


def test_pip_order_does_not_matter_but_spelling_does(make_spec: MakeSpec, tmp_path: Path) -> None:
    a = fp_of(make_spec, tmp_path, pip=["scikit-learn>=1.3", "joblib"])
    b = fp_of(make_spec, tmp_path, pip=["joblib", "scikit-learn>=1.3"])
    c = fp_of(make_spec, tmp_path, pip=["joblib", "scikit-learn>=1.4"])
    assert a.digest == b.digest
    assert c.digest != a.digest and changed_components(a.components, c.components) == ["pip"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,8}(==1\.[0-9])?", fullmatch=True), min_size=1,
                max_size=6, unique=True), st.randoms())
def test_pip_any_permutation_same_digest(packages: list[str], rnd: Any) -> None:
    spec = from_data({"version": 1, "environments": {"e": {"pip": packages}}})
    shuffled = packages[:]
    rnd.shuffle(shuffled)
    other = from_data({"version": 1, "environments": {"e": {"pip": shuffled}}})
    root = Path(".")
    assert env_fingerprint(spec, "e", root).digest == env_fingerprint(other, "e", root).digest


def test_requirements_content_not_path_decides(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"six\n")
    (tmp_path / "b.txt").write_bytes(b"six\n")
    a = fp_of(make_spec, tmp_path, requirements="a.txt")
    assert fp_of(make_spec, tmp_path, requirements="b.txt").digest == a.digest
    (tmp_path / "a.txt").write_bytes(b"six\r\n")  # raw bytes: no normalisation before hashing
    changed = fp_of(make_spec, tmp_path, requirements="a.txt")
    assert changed.digest != a.digest and changed_components(a.components, changed.components) == ["requirements"]


def test_conda_file_content_decides(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text("dependencies: [python=3.11]\n")
    a = fp_of(make_spec, tmp_path, conda="env.yml")
    (tmp_path / "env.yml").write_text("dependencies: [python=3.12]\n")
    b = fp_of(make_spec, tmp_path, conda="env.yml")
    assert a.kind == "conda" and changed_components(a.components, b.components) == ["conda"]


def test_variables_and_secrets_do_not_change_it(make_spec: MakeSpec, tmp_path: Path) -> None:
    plain = fp_of(make_spec, tmp_path, pip=["six"])
    runtime = fp_of(make_spec, tmp_path, pip=["six"], variables={"OMP_NUM_THREADS": "4"}, secrets=["TOKEN"])
    assert runtime == plain


def test_missing_requirements_file_is_a_clear_error(make_spec: MakeSpec, tmp_path: Path) -> None:
    with pytest.raises(EnvError, match="reqs.txt: the requirements file .* does not exist"):
        fp_of(make_spec, tmp_path, requirements="reqs.txt")


def test_unknown_environment_names_the_defined_ones(make_spec: MakeSpec, tmp_path: Path) -> None:
    with pytest.raises(EnvError, match=r"'nope' is not defined .*defined: e\)"):
        env_fingerprint(make_spec(e={}), "nope", tmp_path)


def test_default_environment_is_user_managed_current_interpreter(make_spec: MakeSpec, tmp_path: Path) -> None:
    fp = env_fingerprint(make_spec(), None, tmp_path)
    assert fp.kind == "user_managed" and fp.name is None
    assert fp.components == {"interpreter": sys.executable,
                             "python": "{}.{}.{}".format(*sys.version_info[:3])}


def test_user_managed_interpreter_is_probed_once(make_spec: MakeSpec, tmp_path: Path) -> None:
    fp = fp_of(make_spec, tmp_path, user_managed=True, interpreter=sys.executable)
    assert fp.components["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert fp_of(make_spec, tmp_path, user_managed=True, interpreter=sys.executable) == fp


def test_docker_parts(make_spec: MakeSpec, tmp_path: Path) -> None:
    base = {"pip": ["six"], "docker": {"image": "python:3.11-slim", "apt": ["b", "a"]}}
    spec = make_spec(e=base)
    fp = env_fingerprint(spec, "e", tmp_path, docker=True, docker_base_id=lambda name: f"sha256:{name}!")
    assert fp.kind == "docker" and fp.components["docker.apt"] == '["a", "b"]'
    assert fp.components["docker.base"] == "python:3.11-slim"
    assert fp.components["docker.base_id"] == "sha256:python:3.11-slim!"
    assert fp.components["python"] == "image"  # the host's python never enters an image's fingerprint
    bare = env_fingerprint(make_spec(e={"pip": ["six"], "python": "3.12"}), "e", tmp_path, docker=True,
                           docker_base_id=lambda name: f"id-of-{name}")
    # No base image named: the default one (python:X.Y-slim) and its id are part of the fingerprint.
    assert (bare.components["docker.base"], bare.components["docker.base_id"]) == (
        "python:3.12-slim", "id-of-python:3.12-slim")
    args = make_spec(e={**base, "docker": {**base["docker"], "build_args": {"X": "1"}}})
    other = env_fingerprint(args, "e", tmp_path, docker=True, docker_base_id=lambda name: f"sha256:{name}!")
    assert changed_components(fp.components, other.components) == ["docker.build_args"]
    assert env_fingerprint(spec, "e", tmp_path).digest != fp.digest  # the host env is another thing


def test_dockerfile_context_content_decides(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "docker" / "extra.txt").write_text("one")
    spec = make_spec(e={"docker": {"dockerfile": "docker/Dockerfile"}})
    a = env_fingerprint(spec, "e", tmp_path, docker=True)
    (tmp_path / "docker" / "extra.txt").write_text("two")
    b = env_fingerprint(spec, "e", tmp_path, docker=True)
    assert changed_components(a.components, b.components) == ["docker.dockerfile"]


def test_changed_components_reports_added_and_removed() -> None:
    assert changed_components({"python": "3.11", "pip": "x"}, {"python": "3.11", "requirements": "y"}) \
        == ["pip", "requirements"]
    assert changed_components({"a": "1"}, {"a": "1"}) == []


def test_included_requirements_and_local_packages_decide(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "requirements.txt").write_text("-r base.txt\n--constraint=pins.txt\nattrs==23.2.0\n")
    (tmp_path / "reqs" / "base.txt").write_text("six==1.16.0\n")
    (tmp_path / "reqs" / "pins.txt").write_text("")
    (tmp_path / "pkgs" / "mylib" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkgs" / "mylib" / "__init__.py").write_text("X = 1\n")
    first = fp_of(make_spec, tmp_path, requirements="reqs/requirements.txt", pip=["./pkgs/mylib"])
    (tmp_path / "pkgs" / "mylib" / "__pycache__" / "x.pyc").write_bytes(b"noise")  # written by builds
    assert fp_of(make_spec, tmp_path, requirements="reqs/requirements.txt", pip=["./pkgs/mylib"]) == first
    (tmp_path / "reqs" / "base.txt").write_text("six==1.15.0\n")
    second = fp_of(make_spec, tmp_path, requirements="reqs/requirements.txt", pip=["./pkgs/mylib"])
    assert changed_components(first.components, second.components) == ["requirements"]
    (tmp_path / "pkgs" / "mylib" / "__init__.py").write_text("X = 2\n")
    third = fp_of(make_spec, tmp_path, requirements="reqs/requirements.txt", pip=["./pkgs/mylib"])
    assert changed_components(second.components, third.components) == ["local:./pkgs/mylib"]
    (tmp_path / "reqs" / "base.txt").unlink()
    with pytest.raises(EnvError, match="reqs/base.txt: .* does not exist \\(included from reqs/requirements.txt\\)"):
        fp_of(make_spec, tmp_path, requirements="reqs/requirements.txt")


def test_every_spelling_of_a_local_package_is_fingerprinted(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "pkgs" / "mylib").mkdir(parents=True)
    (tmp_path / "pkgs" / "mylib" / "__init__.py").write_text("X = 1\n")
    (tmp_path / "reqs.txt").write_text("mylib @ ./pkgs/mylib\n--editable=./pkgs/mylib\n-c https://example.com/c.txt\n")
    spellings = ["./pkgs/mylib[extra]", "-e ./pkgs/mylib", "mylib @ file:./pkgs/mylib"]
    before = fp_of(make_spec, tmp_path, pip=spellings, requirements="reqs.txt")
    (tmp_path / "pkgs" / "mylib" / "__init__.py").write_text("X = 2\n")
    after = fp_of(make_spec, tmp_path, pip=spellings, requirements="reqs.txt")
    assert changed_components(before.components, after.components) == sorted(
        f"local:{s}" for s in [*spellings, "mylib @ ./pkgs/mylib", "--editable=./pkgs/mylib"])
    with pytest.raises(EnvError, match=r"\./gone: the local package of an environment does not exist"):
        fp_of(make_spec, tmp_path, pip=["./gone"])


def test_an_include_error_names_the_file_that_includes_it(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "top.txt").write_text("-r a.txt\n-r b.txt\n")
    (tmp_path / "reqs" / "a.txt").write_text("six\n")
    (tmp_path / "reqs" / "b.txt").write_text("-r ../../outside.txt\n")
    with pytest.raises(EnvError, match=r"^\.\./outside\.txt: a requirements file \(included from reqs/b\.txt\) "
                                       r"leaves the project$"):
        fp_of(make_spec, tmp_path, requirements="reqs/top.txt")
