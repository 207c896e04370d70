"""What uv is given: the host CA bundle, pip's settings as uv's, never a Python download."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.envs.ca_bundle import ca_bundle
from runner.envs.errors import EnvError
from runner.envs.uvcmd import uv_environ


def test_ca_bundle_from_any_known_variable(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "RUNNER_CA_BUNDLE"):
        env = uv_environ({name: str(bundle)})
        assert env["SSL_CERT_FILE"] == str(bundle), name


def test_runner_ca_bundle_wins_and_missing_files_are_ignored(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.pem", tmp_path / "theirs.pem"
    ours.write_text("x")
    theirs.write_text("y")
    assert ca_bundle({"RUNNER_CA_BUNDLE": str(ours), "SSL_CERT_FILE": str(theirs)}) == ours
    assert "SSL_CERT_FILE" not in uv_environ({"PIP_CERT": str(tmp_path / "gone")})
    # The bundle the user named is not silently replaced by another one: venv, conda and
    # image builds all stop with the same error.
    with pytest.raises(EnvError, match="RUNNER_CA_BUNDLE"):
        uv_environ({"RUNNER_CA_BUNDLE": str(tmp_path / "gone"), "PIP_CERT": str(theirs)})


def test_pip_settings_map_to_uv_unless_uv_ones_are_set() -> None:
    env = uv_environ({"PIP_INDEX_URL": "https://mirror/simple", "PIP_FIND_LINKS": "/opt/wheels /srv/w",
                      "PIP_EXTRA_INDEX_URL": "https://a https://b"})
    assert env["UV_INDEX_URL"] == "https://mirror/simple"
    assert env["UV_FIND_LINKS"] == "/opt/wheels,/srv/w"
    assert env["UV_EXTRA_INDEX_URL"] == "https://a https://b"
    kept = uv_environ({"PIP_INDEX_URL": "https://mirror/simple", "UV_INDEX_URL": "https://uv/simple"})
    assert kept["UV_INDEX_URL"] == "https://uv/simple"


def test_never_downloads_python_and_ignores_active_envs() -> None:
    env = uv_environ({"UV_PYTHON_DOWNLOADS": "automatic", "VIRTUAL_ENV": "/x", "CONDA_PREFIX": "/y"})
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert "VIRTUAL_ENV" not in env and "CONDA_PREFIX" not in env
