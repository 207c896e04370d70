"""The spec cache: an unchanged train.yaml is read back without pydantic, as the same class
with the same values as a fresh load, so it answers every question the same way."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.envs import env_fingerprint
from runner.project import find_project
from runner.reconcile.models import metadata_of
from runner.spec import cache, check, load
from runner.spec.normal import normalised_job
from runner.spec.types import Spec
from runner.state import open_state
from runner.state.cachefile import MAGIC, write_cache
from tests.example_copy import committed_example



def answers(spec: Any, root: Path) -> dict[str, Any]:
    """Everything plan, apply and the registry read from a spec, as plain data."""
    docker = {name for name, job in spec.jobs.items() if spec.compute_of(job).type == "docker"}
    return {
        "jobs": {name: normalised_job(spec, name) for name in spec.jobs},
        "experiments": {name: spec.experiment_of(name) for name in spec.jobs},
        "computes": {name: spec.compute_of(job).as_dict() for name, job in spec.jobs.items()},
        "scheduling": {name: (job.timeout, job.retries, list(job.needs), dict(job.tags)) for name, job in spec.jobs.items()},
        "models": {name: (model.job, model.path, metadata_of(model), list(model.aliases))
                   for name, model in spec.models.items()},
        "envs": {name: env_fingerprint(spec, name, root, docker=False).digest
                 for name in [None, *spec.environments] if name is None or not spec.environments[name].docker},
        "docker_envs": {job: env_fingerprint(spec, spec.jobs[job].environment, root, docker=True).components
                        for job in docker},
        "snapshot": spec.snapshot.as_dict(),
    }


def both(project_dir: Path, spec_file: str = "train.yaml") -> tuple[Any, Any]:
    """(the freshly validated spec, the cached one) of a project whose .runner/ exists."""
    project = find_project(project_dir, spec_file)
    open_state(project).close()
    raw = project.spec_file.read_bytes()
    full = check(project).spec
    cache.store(project, raw, full)
    cached = cache.lookup(project, raw)
    assert type(cached) is type(full) is Spec  # one Spec type, whichever path read it
    assert cached == full
    return full, cached


def test_example_specs_read_back_the_same(tmp_path: Path) -> None:
    committed_example(tmp_path / "ex")
    for spec_file in ("train.yaml", "train.docker.yaml"):
        full, cached = both(tmp_path / "ex", spec_file)
        assert answers(cached, tmp_path / "ex") == answers(full, tmp_path / "ex"), spec_file


printable = st.characters(blacklist_categories=("Cs", "Cc"))  # what a YAML file may hold
values = st.one_of(st.text(printable, max_size=12), st.integers(-10**6, 10**6), st.booleans(),
                   st.floats(allow_nan=False, allow_infinity=False, width=32))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), values, max_size=4),
       bare=st.booleans(), tags=st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.text(printable, max_size=6),
                                                max_size=3))
def test_any_spec_reads_back_the_same(tmp_path: Path, params: dict[str, Any], bare: bool,
                                      tags: dict[str, str]) -> None:
    root = tmp_path / "p"
    shutil.rmtree(root, ignore_errors=True)
    (root / "src").mkdir(parents=True)
    (root / "src" / "t.py").write_text("")
    args = {"--flag": None} if bare else {"--k": "${{params.a}}"}
    doc = {"version": 1, "experiment": "e",
           "environments": {"env": {"pip": ["six", "a"], "variables": {"A": "1"}}},
           "computes": {"box": {"type": "docker", "cpus": 1.5, "memory": "1g"}},
           "jobs": {"a": {"code": "src", "script": "t.py", "args": args, "params": {"a": 1, **params},
                          "tags": tags, "environment": "env", "timeout": "1h30m"},
                    "b": {"command": "echo ${{inputs.x}}", "inputs": {"x": {"job": "a", "path": "outputs/m"}},
                          "needs": ["a"], "compute": "box", "retries": 2}},
           "models": {"m": {"job": "a", "path": "outputs/m", "tags": tags, "resources": {"cpu": 1},
                            "aliases": ["latest"]}}}
    (root / "train.yaml").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    full, cached = both(root)
    assert answers(cached, root) == answers(full, root)


def test_a_cache_hit_needs_neither_pydantic_nor_the_yaml_parser(tmp_path: Path) -> None:
    committed_example(tmp_path / "ex")
    both(tmp_path / "ex")
    code = ("import sys\nfrom runner.project import find_project\nfrom runner.spec import load\n"
            f"spec = load(find_project({str(tmp_path / 'ex')!r}))\n"
            "print(type(spec).__name__, 'pydantic' in sys.modules, 'ruamel.yaml' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["Spec", "False", "False"]


def test_an_edit_or_a_vanished_path_goes_through_the_full_load(project: Any, cli: Any) -> None:
    project.gen({"train.yaml": "version: 1\njobs:\n  a:\n    code: src\n    command: echo\n", "src": {"x": ""}})
    assert cli("apply", "-C", project.root).code == 0  # .runner/ is made after the spec is read:
    assert cli("plan", "-C", project.root).code == 0  # the cache is filled from the second command on
    assert type(load(find_project(project.root))) is Spec
    (project / "src" / "x").unlink()
    (project / "src").rmdir()
    gone = cli("plan", "-C", project.root)
    assert gone.code == 1 and gone.err.strip().endswith("train.yaml:4:11: path 'src' does not exist in the project")
    (project / "src").mkdir()
    (project / "train.yaml").write_text("version: 1\njobs:\n  a:\n    code: src\n    comand: echo\n")
    typo = cli("plan", "-C", project.root)
    assert typo.code == 1 and "unknown key 'comand'" in typo.err


def test_a_damaged_cache_file_is_ignored(project: Any, cli: Any) -> None:
    project.gen({"train.yaml": "version: 1\njobs:\n  a:\n    command: echo\n"})
    assert cli("apply", "-C", project.root).code == 0
    assert cli("plan", "-C", project.root).code == 0  # fills the cache
    (cached,) = (project / ".runner" / "cache").glob("spec-*.marshal")
    data = cached.read_bytes()
    cached.write_bytes(data[:-3])  # cut short
    assert cli("plan", "-C", project.root, "--detailed-exitcode").code == 0


def test_a_cache_file_with_the_right_key_and_damaged_contents_is_ignored(project: Any, cli: Any) -> None:
    """Valid marshal data under the right key and checksum, but not a Spec's: a full load."""
    project.gen({"train.yaml": "version: 1\njobs:\n  a:\n    command: echo\n"})
    assert cli("apply", "-C", project.root).code == 0
    assert cli("plan", "-C", project.root).code == 0  # fills the cache
    (cached,) = (project / ".runner" / "cache").glob("spec-*.marshal")
    key = cached.read_bytes()[len(MAGIC):len(MAGIC) + 40].decode()
    for payload in ({"$": "Spec", "version": 1, "jobs": {"$map": {"a": {"$": "Nope"}}}}, ["not", "a", "spec"]):
        write_cache(str(cached), key, payload)
        assert cli("plan", "-C", project.root, "--detailed-exitcode").code == 0

