"""Environment images: one per fingerprint, cache hit/miss, registry push/pull, CA bundle, failures.

Real builds on the local base image (see tests/docker_support.py); every test image gets a
unique build arg, so its tag is new, and is removed at the end.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.envs.ca_bundle import IN_IMAGE, ca_bundle, set_ca_bundle
from runner.envs.docker import docker_fingerprint, ensure_image, image_cached, image_tag
from runner.envs.docker_build import render_dockerfile
from runner.envs.errors import EnvBuildFailed, EnvError
from runner.envs.fingerprint import changed_components, env_fingerprint
from runner.spec import from_data
from runner.spec.types import Spec
from tests.docker_support import Images, base_image, client, registry, unique


@pytest.fixture
def docker_base() -> str:
    return base_image()


@pytest.fixture
def images() -> Iterator[Images]:
    made = Images()
    yield made
    made.remove_all()


def make_spec(**env: Any) -> Spec:
    return from_data({"version": 1, "environments": {"e": env}})


def boxed(base: str, **env: Any) -> dict[str, Any]:
    """An env on `base` whose fingerprint no other test shares."""
    docker = {"image": base, "build_args": {"RUNNER_TEST": unique()}, **env.pop("docker", {})}
    return {**env, "docker": docker}


def run_in(image: str, *command: str) -> str:
    out = client().containers.run(image, list(command), remove=True)
    return out.decode().strip()


def fake_base_id(name: str) -> str:
    return f"sha256:{name}"


# -- fingerprints: every component decides the tag (no daemon needed) --------------------

@pytest.mark.parametrize("change", [
    {"pip": ["six", "attrs"]}, {"python": "3.12"}, {"docker": {"image": "other:1"}},
    {"docker": {"image": "base:1", "apt": ["curl"]}}, {"docker": {"image": "base:1", "build_args": {"A": "2"}}},
])
def test_each_component_changes_the_image_tag(change: dict[str, Any], tmp_path: Path) -> None:
    first = {"pip": ["six"], "docker": {"image": "base:1"}}
    fp = env_fingerprint(make_spec(**first), "e", tmp_path, docker=True, docker_base_id=fake_base_id)
    other = env_fingerprint(make_spec(**{**first, **change}), "e", tmp_path, docker=True,
                            docker_base_id=fake_base_id)
    assert image_tag(fp) != image_tag(other) and changed_components(fp.components, other.components)


def test_requirements_content_and_variables(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("six\n")
    spec = make_spec(requirements="req.txt", docker={"image": "base:1"})
    fp = env_fingerprint(spec, "e", tmp_path, docker=True, docker_base_id=fake_base_id)
    (tmp_path / "req.txt").write_text("six==1.16.0\n")
    assert env_fingerprint(spec, "e", tmp_path, docker=True, docker_base_id=fake_base_id).digest != fp.digest
    runtime = make_spec(requirements="req.txt", docker={"image": "base:1"}, variables={"A": "1"})
    again = env_fingerprint(runtime, "e", tmp_path, docker=True, docker_base_id=fake_base_id)
    assert env_fingerprint(spec, "e", tmp_path, docker=True, docker_base_id=fake_base_id).digest == again.digest


def test_a_moved_base_tag_changes_the_fingerprint(docker_base: str, images: Images, tmp_path: Path) -> None:
    tag = images.add(f"runner-test-base:{unique()}")
    client().images.get(docker_base).tag(tag)
    spec = make_spec(docker={"image": tag})
    before = docker_fingerprint(spec, "e", tmp_path)
    assert before.components["docker.base_id"] == client().images.get(docker_base).id
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {docker_base}\nLABEL moved={unique()}\n")
    client().images.build(path=str(context), tag=tag, rm=True)
    after = docker_fingerprint(spec, "e", tmp_path)
    assert changed_components(before.components, after.components) == ["docker.base_id"]


# -- builds ------------------------------------------------------------------------------

def test_built_once_then_a_hit(docker_base: str, images: Images, tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("six\n")
    (tmp_path / "requirements.txt").write_text("-r reqs/base.txt\n")  # an include reaches the build too
    spec = make_spec(**boxed(docker_base, requirements="requirements.txt"))
    fp = docker_fingerprint(spec, "e", tmp_path)
    assert not image_cached(fp)
    steps: list[str] = []
    first = ensure_image(spec, "e", tmp_path, log=steps.append)
    images.add(first.image)
    assert first.cache == "built" and first.image == image_tag(fp) and image_cached(fp)
    assert any(step.startswith("Step ") for step in steps)
    assert ensure_image(spec, "e", tmp_path).cache == "hit"
    labels = client().images.get(first.image).labels
    assert labels["runner.env.fingerprint"] == fp.digest and labels["runner.env.name"] == "e"
    assert run_in(first.image, "python", "-c", "import six, sys; print(sys.prefix)") == "/opt/runner-env"


def test_a_changed_component_builds_a_new_image(docker_base: str, images: Images, tmp_path: Path) -> None:
    env = boxed(docker_base)
    first = ensure_image(make_spec(**env), "e", tmp_path)
    images.add(first.image)
    changed = {**env, "docker": {**env["docker"], "build_args": {**env["docker"]["build_args"], "B": "1"}}}
    second = ensure_image(make_spec(**changed), "e", tmp_path)
    images.add(second.image)
    assert second.cache == "built" and second.image != first.image
    assert ensure_image(make_spec(**env), "e", tmp_path).cache == "hit"


def test_registry_push_then_pull(docker_base: str, images: Images, tmp_path: Path) -> None:
    where = f"{registry()}/runner-test-{unique()}"
    spec = make_spec(**boxed(docker_base))
    built = ensure_image(spec, "e", tmp_path, registry=where)
    assert built.cache == "built"
    with urllib.request.urlopen(f"http://{where.split('/')[0]}/v2/{where.split('/', 1)[1]}/runner-env/tags/list") as r:
        assert json.load(r)["tags"] == [built.image.split(":")[1]]
    client().images.remove(built.image, force=True)  # another machine: only the registry has it
    pulled = ensure_image(spec, "e", tmp_path, registry=where)
    images.add(pulled.image)
    assert pulled.cache == "hit" and pulled.location == f"{where}/{built.image}"
    assert client().images.get(pulled.image).labels["runner.env.fingerprint"] == docker_fingerprint(
        spec, "e", tmp_path).digest


def test_ca_bundle_is_copied_in_and_trusted(docker_base: str, images: Images, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_text(f"# a test bundle {unique()}\n")
    monkeypatch.setenv("RUNNER_CA_BUNDLE", str(bundle))
    built = ensure_image(make_spec(**boxed(docker_base)), "e", tmp_path)
    images.add(built.image)
    assert run_in(built.image, "cat", IN_IMAGE) == bundle.read_text().strip()
    env = client().images.get(built.image).attrs["Config"]["Env"]
    assert {f"SSL_CERT_FILE={IN_IMAGE}", f"PIP_CERT={IN_IMAGE}", f"REQUESTS_CA_BUNDLE={IN_IMAGE}"} <= set(env)
    assert IN_IMAGE in run_in(built.image, "cat", "/etc/apt/apt.conf.d/99runner-ca")


def test_user_dockerfile_is_the_base(docker_base: str, images: Images, tmp_path: Path) -> None:
    mark = unique()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text(f"FROM {docker_base}\nARG MARK\nCOPY note.txt /note.txt\n"
                                                    "RUN echo \"$MARK\" > /mark.txt\n")
    (tmp_path / "docker" / "note.txt").write_text("from the context\n")
    spec = make_spec(docker={"dockerfile": "docker/Dockerfile", "build_args": {"MARK": mark}})
    built = ensure_image(spec, "e", tmp_path)
    images.add(built.image)
    images.add(f"runner-env-base:{built.image.split(':')[1]}")
    assert run_in(built.image, "cat", "/note.txt", "/mark.txt").split() == ["from", "the", "context", mark]
    (tmp_path / "docker" / "note.txt").write_text("changed\n")
    assert not image_cached(docker_fingerprint(spec, "e", tmp_path))


def test_a_failed_build_is_clear_and_leaves_no_image(docker_base: str, tmp_path: Path) -> None:
    spec = make_spec(**boxed(docker_base, python="3.9"))
    dangling = {image.id for image in client().images.list(filters={"dangling": True})}
    with pytest.raises(EnvBuildFailed) as caught:
        ensure_image(spec, "e", tmp_path)
    for image in client().images.list(filters={"dangling": True}):  # the failed build's last layer
        if image.id not in dangling:
            client().images.remove(image.id, force=True)
    message = str(caught.value)
    assert "environment e" in message and "wants 3.9" in message and "build log:" in message
    assert Path(message.rsplit("build log: ", 1)[1].strip()).is_file()
    assert not image_cached(docker_fingerprint(spec, "e", tmp_path))


def test_envs_cli_reports_docker_images(docker_base: str, images: Images, project: Any, cli: Any) -> None:
    env = boxed(docker_base)
    project.gen({"train.yaml": f"""
        version: 1
        environments:
          e: {json.dumps(env)}
        computes:
          box: {{type: docker}}
        jobs:
          j: {{command: "true", environment: e, compute: box}}
        """})
    listed = json.loads(cli("envs", "list", "-C", project.root, "--json").out)
    assert [(r["kind"], r["cached"]) for r in listed] == [("docker", False)]
    built = cli("envs", "build", "-C", project.root, "--json")
    rows = json.loads(built.out)
    images.add(listed[0]["location"])
    assert built.code == 0 and [(r["name"], r["cache"]) for r in rows] == [("e", "built")]
    assert json.loads(cli("envs", "build", "-C", project.root, "--json").out)[0]["cache"] == "hit"
    assert json.loads(cli("envs", "list", "-C", project.root, "--json").out)[0]["cached"] is True


# -- the Dockerfile and the CA bundle lookup (no daemon needed) ---------------------------

def test_dockerfile_quotes_packages_and_trusts_the_bundle_only_when_given(tmp_path: Path) -> None:
    spec = make_spec(pip=["scikit-learn>=1.3", "joblib"], docker={"image": "base:1", "apt": ["libgomp1"]})
    fp = env_fingerprint(spec, "e", tmp_path, docker=True, docker_base_id=fake_base_id)
    text = render_dockerfile(spec.environments["e"], fp, "base:1", ca=True)
    assert text.splitlines()[2] == "FROM base:1"
    assert "pip install --no-cache-dir --disable-pip-version-check 'scikit-learn>=1.3' joblib" in text
    assert "apt-get install -y --no-install-recommends libgomp1" in text
    assert f"ENV SSL_CERT_FILE={IN_IMAGE}" in text and f'runner.env.fingerprint="{fp.digest}"' in text
    assert "ca-bundle" not in render_dockerfile(spec.environments["e"], fp, "base:1", ca=False)


def test_ca_bundle_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNNER_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"):
        monkeypatch.setenv(name, "")  # recorded, so teardown also undoes set_ca_bundle's write below:
        monkeypatch.delenv(name)  # a fake bundle left behind made later image builds fail to reach PyPI
    assert ca_bundle() is None
    implicit, explicit = tmp_path / "a.pem", tmp_path / "b.pem"
    implicit.write_text("a")
    explicit.write_text("b")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))  # skipped: not a file
    monkeypatch.setenv("PIP_CERT", str(implicit))
    assert ca_bundle() == implicit
    set_ca_bundle(explicit)
    assert ca_bundle() == explicit
    monkeypatch.setenv("RUNNER_CA_BUNDLE", str(tmp_path / "nope.pem"))
    with pytest.raises(EnvError, match="is not a file"):
        ca_bundle()
    with pytest.raises(EnvError, match="no such file"):
        set_ca_bundle(tmp_path / "nope.pem")
