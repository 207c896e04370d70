"""Item 5 of issue 16: secret values are masked as `***` in everything runner prints or
stores from a run (terminal, stored logs, logged params/tags/metrics, errors, state.db);
outputs are the user's files and stay as written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.masking import MASK, Masker, looks_secret, secret_values
from tests.conftest import run_console

SECRET = "s3cr3t-Value-42"
TOKEN = "tok-7f9e2a"
OPTED_OUT = "public-key-id-1"
SHORT = "abc"
SPEC = """
version: 1
unmasked: [PUBLIC_KEY_ID]
environments:
  host:
    user_managed: true
    secrets: [MY_SECRET, SHORT_SECRET]
    variables: {API_TOKEN: %s, PUBLIC_KEY_ID: %s}
jobs:
  leak:
    code: src
    script: leak.py
    environment: host
""" % (TOKEN, OPTED_OUT)
LEAK = """
import os, sys
from runner import tracking
secret = os.environ["MY_SECRET"]
print("the secret is", secret, "and the token", os.environ["API_TOKEN"])
print("opted out:", os.environ["PUBLIC_KEY_ID"], "short:", os.environ["SHORT_SECRET"])
sys.stdout.write("half " + secret[:5]); sys.stdout.flush(); sys.stdout.write(secret[5:] + " done\\n")
tracking.log_params({"password": secret, "nested": {"k": "x" + secret}})
tracking.set_tags({"who": secret})
tracking.log("loss/" + secret, 0.5)
tracking.log_list("note", [1.0])
open(os.path.join(os.environ["RUNNER_OUTPUTS"], "out.txt"), "w").write(secret)
raise SystemExit("failing with " + secret)
"""


def _kept_files(project: Path) -> list[Path]:
    """Every file runner keeps of the project's runs but outputs (the user's, stored as written)."""
    with sqlite3.connect(project / ".runner" / "state.db") as db:
        outputs = {d for (d,) in db.execute("SELECT digest FROM run_files WHERE kind = 'outputs'")}
    return [path for path in sorted((project / ".runner").rglob("*"))
            if path.is_file() and "outputs" not in path.parts and path.parent.name + path.name not in outputs
            and not path.name.startswith("state.db")]


def _everything(project: Path) -> bytes:
    """state.db as SQL text, and every kept file."""
    db = sqlite3.connect(project / ".runner" / "state.db")
    data = "\n".join(db.iterdump()).encode()
    db.close()
    return data + b"".join(path.read_bytes() for path in _kept_files(project))


def test_secrets_are_masked_everywhere_runner_prints_or_stores(project, monkeypatch) -> None:
    monkeypatch.setenv("MY_SECRET", SECRET)
    monkeypatch.setenv("SHORT_SECRET", SHORT)
    project.gen({"train.yaml": SPEC, "src": {"leak.py": LEAK}})
    applied = run_console("apply", "-C", project.root)
    assert applied.returncode != 0
    printed = applied.stdout + applied.stderr
    assert "the secret is ***" in printed and "the token ***" in printed
    assert "half *** done" in printed
    assert f"opted out: {OPTED_OUT}" in printed and f"short: {SHORT}" in printed  # README: under 4 chars
    shown = [run_console(*args, "-C", project.root) for args in (
        ("runs", "show", "leak-1", "--json"), ("runs", "show", "leak-1"), ("runs", "logs", "leak-1"),
        ("runs", "list", "--json"), ("runs", "metrics", "leak-1", "--json"))]
    for done in shown:
        assert done.returncode == 0, done.stderr
    everything = "".join(d.stdout + d.stderr for d in shown).encode() + printed.encode()
    for done in shown:
        assert SECRET not in done.stdout + done.stderr, done.args
    assert SECRET not in printed
    for path in _kept_files(project.root):
        assert SECRET.encode() not in path.read_bytes(), path
    everything += _everything(project.root)
    assert SECRET.encode() not in everything
    assert TOKEN.encode() not in everything
    assert SECRET[:5].encode() + SECRET[5:].encode() not in everything
    details = json.loads(shown[0].stdout)
    assert "***" in json.dumps(details)
    log = (project / ".runner" / "runs" / "leak-1" / "logs" / "std_log.txt").read_text()
    assert "the secret is ***" in log and "failing with ***" in log
    # Outputs are the user's files.
    assert (project / ".runner" / "runs" / "leak-1" / "outputs" / "out.txt").read_text() == SECRET


def test_names_that_look_secret() -> None:
    assert all(looks_secret(n) for n in ("GITHUB_TOKEN", "db_password", "AWS_SECRET_ACCESS_KEY", "api_key"))
    assert not any(looks_secret(n) for n in ("HOME", "PATH", "RUNNER_OUTPUTS", "LANG"))
    values = secret_values({"A_TOKEN": "1234", "B": "zzzz", "C_KEY": "yyyy", "S": "xxxx"}, ["S"], ["C_KEY"])
    assert sorted(values) == ["1234", "xxxx"]


@settings(max_examples=200, deadline=None)
@given(secrets=st.lists(st.text(min_size=1, max_size=12).filter(lambda s: "\n" not in s), min_size=1, max_size=3),
       pieces=st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["\n", "SECRET", "xx"])), max_size=12),
       cuts=st.lists(st.integers(0, 400), max_size=8), use=st.integers(0, 2))
def test_a_stream_cut_anywhere_masks_as_the_whole(secrets, pieces, cuts, use) -> None:
    masker = Masker(secrets)
    text = "".join(p if p != "SECRET" else secrets[use % len(secrets)] for p in pieces).encode()
    stream = masker.stream()
    out, at = b"", 0
    for cut in sorted(c % (len(text) + 1) for c in cuts):
        out += stream.feed(text[at:cut])
        at = cut
    out += stream.feed(text[at:]) + stream.flush()
    assert out == masker.data(text)
    for secret in secrets:
        if len(secret) >= 4:
            assert secret.encode() not in out.replace(MASK.encode(), b"\0")


LIVE = """
import os, time
from runner import tracking
tracking.log("loss/" + os.environ["MY_SECRET"], 0.5)
open(os.path.join(os.environ["RUNNER_OUTPUTS"], "logged"), "w").close()
while not os.path.exists(os.environ["GO_FILE"]):
    time.sleep(0.1)
"""


def test_a_run_still_going_shows_its_metrics_masked(project, monkeypatch, tmp_path) -> None:
    """Until a run is collected its metrics are read from the file its script writes: masked on the way out."""
    from tests.runs.helpers import start_apply, wait_for

    monkeypatch.setenv("MY_SECRET", SECRET)
    monkeypatch.setenv("SHORT_SECRET", SHORT)
    monkeypatch.setenv("GO_FILE", str(tmp_path / "go"))
    project.gen({"train.yaml": SPEC.replace("script: leak.py", "script: live.py"), "src": {"live.py": LIVE}})
    apply = start_apply(project)
    try:
        logged = project / ".runner" / "runs" / "leak-1" / "outputs" / "logged"
        wait_for(logged.exists, 60, "the metric to be logged")
        shown = [run_console(*args, "-C", project.root) for args in (
            ("runs", "metrics", "leak-1", "--json"), ("runs", "metrics", "leak-1"), ("runs", "show", "leak-1", "--json"),
            ("runs", "metrics", "leak-1", "--all-ranks"))]
    finally:
        (tmp_path / "go").write_text("")
        apply.communicate(timeout=60)
    for done in shown:
        assert done.returncode == 0, done.stderr
        assert SECRET not in done.stdout + done.stderr, done.args
    assert "loss/***" in json.loads(shown[0].stdout)
    assert json.loads(shown[2].stdout)["status"] == "running" and "loss/***" in json.loads(shown[2].stdout)["metrics"]
