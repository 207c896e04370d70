"""`runner models ...`, and models in `runner plan/apply`: exit codes and the JSON contracts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runner.state.objects import ObjectStore
from tests.registry.conftest import RegistryProject, as_json

LIST_KEYS = ["name", "version", "digest", "run_id", "status", "aliases", "tags"]
SHOW_KEYS = [*LIST_KEYS, "framework", "framework_version", "resources", "properties", "description",
             "created_at", "lineage"]


def test_plan_and_apply_json_list_model_actions_beside_runs(reg: RegistryProject, cli: Any) -> None:
    planned = as_json(cli("plan", "-C", reg.root, "--json"))
    assert planned["actions"] == [
        {"action": "run", "target": "train", "reasons": ["no previous run"]},
        {"action": "register", "target": "model:m", "reasons": ["after train"]}]
    assert cli("plan", "-C", reg.root, "--detailed-exitcode").code == 2
    applied = as_json(cli("apply", "-C", reg.root, "--json"))
    assert applied["ok"] is True and applied["models"] == [
        {"model": "m", "action": "register", "status": "registered", "version": 1, "detail": "new model"}]
    assert cli("plan", "-C", reg.root, "--detailed-exitcode").code == 0
    reg.write({"m": {"tags": "{stage: production}"}})
    assert cli("plan", "-C", reg.root, "--detailed-exitcode").code == 2


def test_plan_text_shows_archive_with_the_prune_hint(reg: RegistryProject, cli: Any) -> None:
    cli("apply", "-C", reg.root)
    reg.write(None)
    text = cli("plan", "-C", reg.root)
    assert "- archive model:m" in text.out and "(not in train.yaml; run apply --prune)" in text.out
    assert "1 to archive" in text.out
    assert cli("plan", "-C", reg.root, "--detailed-exitcode").code == 2
    assert cli("apply", "-C", reg.root).code == 0
    pruned = cli("apply", "-C", reg.root, "--prune")
    assert pruned.code == 0 and "model:m archived" in pruned.out
    assert cli("plan", "-C", reg.root, "--detailed-exitcode", "--prune").code == 0


def test_list_show_versions_history_json_contracts(reg: RegistryProject, cli: Any) -> None:
    cli("apply", "-C", reg.root)
    listed = as_json(cli("models", "list", "-C", reg.root, "--json"))
    assert [list(e) for e in listed] == [LIST_KEYS]
    assert (listed[0]["status"], listed[0]["aliases"], listed[0]["tags"]) == ("active", ["latest"], {"stage": "candidate"})
    for ref in ("m", "m:1", "m@latest"):
        shown = as_json(cli("models", "show", ref, "-C", reg.root, "--json"))
        assert list(shown) == SHOW_KEYS and shown["version"] == 1
    assert shown["resources"] is None and shown["properties"] == {}
    assert set(shown["lineage"]) == {"run_id", "job", "fingerprint", "snapshot", "environment", "git", "metrics"}
    assert [v["version"] for v in as_json(cli("models", "versions", "m", "-C", reg.root, "--json"))] == [1]
    events = as_json(cli("models", "history", "m", "-C", reg.root, "--json"))
    assert [(e["action"], e["version"]) for e in events] == [("register", 1), ("alias", 1)]
    assert all(set(e) == {"at", "action", "version", "commit", "detail"} and e["commit"] for e in events)


def test_list_all_shows_archived_models(reg: RegistryProject, cli: Any) -> None:
    cli("apply", "-C", reg.root)
    reg.write(None)
    cli("apply", "-C", reg.root, "--prune")
    assert as_json(cli("models", "list", "-C", reg.root, "--json")) == []
    archived = as_json(cli("models", "list", "--all", "-C", reg.root, "--json"))
    assert [(e["name"], e["status"]) for e in archived] == [("m", "archived")]


def test_alias_command_moves_by_hand_and_warns_about_declared_ones(reg: RegistryProject, cli: Any) -> None:
    cli("apply", "-C", reg.root)
    done = cli("models", "alias", "m", "production", "1", "-C", reg.root)
    assert done.code == 0 and "m@production -> version 1" in done.out and done.err == ""
    declared = cli("models", "alias", "m", "latest", "1", "-C", reg.root)
    assert declared.code == 0 and "moves it back" in declared.err
    missing = cli("models", "alias", "m", "production", "7", "-C", reg.root)
    assert missing.code == 1 and "has no version 7" in missing.err
    bad = cli("models", "alias", "m", "Not OK", "1", "-C", reg.root)
    assert bad.code == 1 and "alias 'Not OK'" in bad.err
    assert as_json(cli("models", "show", "m@production", "-C", reg.root, "--json"))["version"] == 1


def test_failed_model_makes_apply_exit_1_with_one_clear_line(reg: RegistryProject, cli: Any) -> None:
    reg.write({"m": {"path": "outputs/nothing.bin"}})
    result = cli("apply", "-C", reg.root)
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if "model:m" in line and "failed" in line]
    assert len(lines) == 1 and "outputs/nothing.bin is not in the outputs of train-1" in lines[0]


def test_download_writes_verified_files(reg: RegistryProject, cli: Any, tmp_path: Path) -> None:
    reg.write({"m": {}, "f": {"path": "outputs/folder"}})
    cli("apply", "-C", reg.root)
    got = cli("models", "download", "m@latest", "-C", reg.root, "--to", tmp_path / "one")
    assert got.code == 0 and (tmp_path / "one" / "model.bin").read_text() == "one"
    assert cli("models", "download", "f:1", "-C", reg.root, "--to", tmp_path / "two").code == 0
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["a.txt", "b.txt"]


def test_download_of_a_tampered_object_is_a_one_line_error_naming_it(reg: RegistryProject, cli: Any,
                                                                     tmp_path: Path) -> None:
    cli("apply", "-C", reg.root)
    digest = as_json(cli("models", "show", "m", "-C", reg.root, "--json"))["digest"]
    path = ObjectStore(reg.root / ".runner" / "objects").path(digest)
    os.chmod(path, 0o644)
    path.write_text("evil")
    result = cli("models", "download", "m", "-C", reg.root, "--to", tmp_path / "out")
    assert result.code == 1 and result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and f"sha256:{digest}" in result.err
    assert "does not match its digest" in result.err
    assert not (tmp_path / "out" / "model.bin").exists()


def test_read_only_commands_create_nothing_and_explain_unknown_models(reg: RegistryProject, cli: Any) -> None:
    listed = cli("models", "list", "-C", reg.root)
    assert listed.code == 0 and "no active models" in listed.out
    assert as_json(cli("models", "list", "-C", reg.root, "--json")) == []
    shown = cli("models", "show", "nope", "-C", reg.root)
    assert shown.code == 1 and "no model named 'nope'" in shown.err and "Traceback" not in shown.err
    assert cli("models", "history", "nope", "-C", reg.root).code == 1
    assert cli("models", "alias", "nope", "prod", "1", "-C", reg.root).code == 1
    assert not (reg.root / ".runner").exists()


def test_plan_limited_to_a_job_only_shows_its_models(reg: RegistryProject, cli: Any) -> None:
    reg.write({"m": {}, "n": {"job": "other"}}, jobs=("train", "other"))
    planned = as_json(cli("plan", "other", "-C", reg.root, "--json"))
    assert [a["target"] for a in planned["actions"]] == ["other", "model:n"]
