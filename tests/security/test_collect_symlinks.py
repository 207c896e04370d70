"""Item 1 of issue 16: collecting outputs/ and logs/ never follows a symbolic link out of the run folder."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.runs.helpers import apply_json

SPEC = """
version: 1
jobs:
  evil:
    code: src
    script: evil.py
"""


def _project(project, host: Path, body: str) -> None:
    script = f"import os\nHOST = {str(host)!r}\n" + body
    project.gen({"train.yaml": SPEC, "src": {"evil.py": script}})


@pytest.fixture
def host(tmp_path: Path) -> Path:
    folder = tmp_path / "host"
    (folder / "deep").mkdir(parents=True)
    (folder / "shadow").write_text("root:secret-hash\n")
    (folder / "deep" / "key").write_text("private\n")
    return folder


def _stored(cli, project) -> list[str]:
    done = cli("runs", "show", "evil-1", "-C", project.root, "--json")
    return [f["path"] for f in json.loads(done.out).get("files", [])]


@pytest.mark.parametrize("folder", ["outputs", "logs"])
def test_a_symlinked_folder_fails_the_run_and_stores_nothing_of_the_host(project, cli, host, folder) -> None:
    _project(project, host, f"""
import shutil
target = os.environ["RUNNER_{folder.upper()}"]
shutil.rmtree(target)
os.symlink(HOST, target)
print("swapped")
""")
    code, result = apply_json(cli, project)
    assert code != 0
    run = result["runs"][0]
    assert run["status"] == "failed"
    assert f"{folder}/ is a symbolic link" in run["detail"]
    assert "\n" not in run["detail"]
    objects = project / ".runner" / "objects"
    contents = {p.read_bytes() for p in objects.rglob("*") if p.is_file()}
    assert b"root:secret-hash\n" not in contents and b"private\n" not in contents


def test_links_inside_are_skipped_with_a_warning(project, cli, host) -> None:
    _project(project, host, """
out = os.environ["RUNNER_OUTPUTS"]
os.symlink(os.path.join(HOST, "shadow"), os.path.join(out, "shadow"))
os.symlink(os.path.join(HOST, "deep"), os.path.join(out, "deep"))
os.makedirs(os.path.join(out, "real", "sub"))
open(os.path.join(out, "real", "sub", "a.txt"), "w").write("mine\\n")
os.symlink(HOST, os.path.join(out, "real", "sub", "up"))
""")
    result = cli("apply", "-C", project.root)
    assert result.code == 0, result.err
    text = result.out + result.err
    assert "outputs/shadow" in text and "symbolic link" in text
    objects = project / ".runner" / "objects"
    contents = {p.read_bytes() for p in objects.rglob("*") if p.is_file()}
    assert b"root:secret-hash\n" not in contents and b"private\n" not in contents
    assert b"mine\n" in contents


def test_a_linked_metrics_file_is_not_read(project, cli, host) -> None:
    (host / "m.jsonl").write_text('{"type": "metric", "name": "stolen", "value": 1.0, "step": 0}\n')
    _project(project, host, """
os.symlink(os.path.join(HOST, "m.jsonl"), os.path.join(os.environ["RUNNER_LOGS"], "metrics.jsonl"))
""")
    assert cli("apply", "-C", project.root).code == 0
    shown = json.loads(cli("runs", "show", "evil-1", "-C", project.root, "--json").out)
    assert "stolen" not in json.dumps(shown)


# What the script links to, at each level of a run-local MLflow store (logs/mlflow/<exp>/<run>/...).
MLFLOW_LINKS = {
    "store": 'os.symlink(HOST + "/store", STORE)',
    "experiment": 'real("2/real"); os.symlink(HOST + "/store/1", STORE + "/1")',
    "run": 'real("2/real"); os.makedirs(STORE + "/1"); os.symlink(HOST + "/store/1/r", STORE + "/1/r")',
    "folders": 'real("2/real"); meta("1/r"); [os.symlink(HOST + "/store/1/r/" + k, STORE + "/1/r/" + k) for k in KINDS]',
    "files": 'real("2/real"); meta("1/r"); [os.makedirs(STORE + "/1/r/" + k, exist_ok=True) for k in KINDS];'
             ' [os.symlink(HOST + "/store/1/r/" + k + "/stolen", STORE + "/1/r/" + k + "/stolen") for k in KINDS]',
}


@pytest.mark.parametrize("level", sorted(MLFLOW_LINKS))
def test_an_mlflow_store_that_links_out_is_not_read(project, cli, host, level) -> None:
    """Every run's logs/mlflow is read back as tracking records (capture or not): a link at any
    level of it must not bring a host file's text into params, tags or metrics."""
    for kind, text in {"params": "topsecret", "tags": "topsecret", "metrics": "1700000000000 42.5 0"}.items():
        (host / "store" / "1" / "r" / kind).mkdir(parents=True)
        (host / "store" / "1" / "r" / kind / "stolen").write_text(text)
    (host / "store" / "1" / "r" / "meta.yaml").write_text("run_id: r\n")
    (host / "store" / ".runner-run-id").write_text("r")
    _project(project, host, f"""
STORE = os.path.join(os.environ["RUNNER_LOGS"], "mlflow")
KINDS = ("params", "tags", "metrics")
def meta(run):
    os.makedirs(os.path.join(STORE, run), exist_ok=True)
    open(os.path.join(STORE, run, "meta.yaml"), "w").write("run_id: x\\n")
def real(run):
    meta(run)
    os.makedirs(os.path.join(STORE, run, "params"))
    open(os.path.join(STORE, run, "params", "mine"), "w").write("ok")
    open(os.path.join(STORE, ".runner-run-id"), "w").write("r")
{MLFLOW_LINKS[level]}
""")
    assert cli("apply", "-C", project.root).code == 0
    shown = cli("runs", "show", "evil-1", "-C", project.root, "--json").out
    metrics = cli("runs", "metrics", "evil-1", "-C", project.root, "--json").out
    assert "topsecret" not in shown and "stolen" not in shown + metrics
    if level != "store":  # the script's own, real files are still read
        assert '"ok"' in shown
    dump = "\n".join(sqlite3.connect(project / ".runner" / "state.db").iterdump())
    assert "topsecret" not in dump and "42.5" not in dump
