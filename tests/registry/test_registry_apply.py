"""Reconcile the registry with train.yaml through real `apply` calls on a real project."""

from __future__ import annotations

import json

from runner.registry.store import ModelStore
from runner.registry.views import history, list_models, show, versions
from runner.runs.store import RunStore
from tests.registry.conftest import RegistryProject, model_actions, spec_text


def _versions(reg: RegistryProject, name: str = "m") -> list[int]:
    with reg.state() as state:
        return [v["version"] for v in ModelStore(state.db).versions(name)]


def _runs(reg: RegistryProject) -> int:
    with reg.state() as state:
        return int(state.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def test_first_registration_records_the_version_and_its_lineage(reg: RegistryProject) -> None:
    commit = reg.dir.git("rev-parse", "HEAD")
    result = reg.apply()
    assert model_actions(result) == {"model:m": ("register", ("after train",))}
    assert result.ok and [(m.status, m.version) for m in result.models] == [("registered", 1)]
    with reg.state() as state:
        entry = show(state, "m")
        run = RunStore(state.db).latest("train")
    assert (entry["version"], entry["run_id"], entry["status"], entry["aliases"]) == (1, "train-1", "active", ["latest"])
    assert entry["tags"] == {"stage": "candidate"} and entry["framework_version"] == "1.5"
    assert entry["lineage"] == {
        "run_id": "train-1", "job": "train", "fingerprint": run["fingerprint"], "snapshot": run["snapshot"],
        "environment": run["environment"], "git": {"commit": commit, "branch": "main", "dirty": False},
        "metrics": {"accuracy": 0.75}}
    assert entry["digest"] == _file_digest(reg, "train-1", "outputs/model.bin")


def _file_digest(reg: RegistryProject, run_id: str, path: str) -> str:
    with reg.state() as state:
        return next(d for p, d, _ in RunStore(state.db).files(run_id) if p == path)


def test_rerun_with_identical_output_makes_no_new_version(reg: RegistryProject) -> None:
    reg.apply()
    again = reg.apply(force=["train"])
    assert [o.run_id for o in again.outcomes] == ["train-2"]
    assert [(m.status, m.version) for m in again.models] == [("up to date", 1)]
    assert _versions(reg) == [1]
    quiet = reg.apply()
    assert model_actions(quiet) == {"model:m": ("skip", ("up to date: version 1",))}
    assert not quiet.plan.changes and quiet.models == ()


def test_changed_output_makes_a_new_version_and_keeps_the_old(reg: RegistryProject) -> None:
    reg.apply()
    first = _file_digest(reg, "train-1", "outputs/model.bin")
    reg.dir.gen({"src": {"content.txt": "two"}})
    result = reg.apply()
    assert [(m.status, m.version, m.detail) for m in result.models] == [
        ("registered", 2, "new content from train-2")]
    assert _versions(reg) == [1, 2]
    with reg.state() as state:
        assert show(state, "m:1")["digest"] == first and show(state, "m:1")["aliases"] == []
        assert show(state, "m")["aliases"] == ["latest"] and show(state, "m@latest")["version"] == 2


def test_metadata_only_change_updates_in_place_without_a_rerun(reg: RegistryProject) -> None:
    reg.apply()
    reg.write({"m": {"tags": "{stage: production}", "description": "better words"}})
    result = reg.apply()
    assert model_actions(result) == {"model:m": ("update", ("metadata changed: tags, description",))}
    assert result.outcomes == () and _runs(reg) == 1 and _versions(reg) == [1]
    with reg.state() as state:
        entry = show(state, "m")
        events = history(state, "m")
    assert entry["tags"] == {"stage": "production"} and entry["description"] == "better words"
    assert events[-1]["action"] == "update" and events[-1]["detail"]["changed"]["tags"] == [
        {"stage": "candidate"}, {"stage": "production"}]
    assert events[-1]["commit"] == reg.dir.git("rev-parse", "HEAD")


def test_declared_alias_follows_and_a_hand_set_one_is_never_moved_silently(reg: RegistryProject) -> None:
    from runner.registry.alias import set_alias

    reg.apply()
    reg.dir.gen({"src": {"content.txt": "two"}})
    reg.apply()
    with reg.state() as state:
        assert set_alias(state, "m", "production", 1).previous is None
        assert set_alias(state, "m", "latest", 1).previous == 2
    plan = reg.apply()
    assert model_actions(plan) == {"model:m": ("update", (
        "alias latest set by hand to version 1: moves to version 2 (declared in train.yaml)",))}
    reg.dir.gen({"src": {"content.txt": "three"}})
    with reg.state() as state:
        set_alias(state, "m", "latest", 2)
    third = reg.apply()
    assert model_actions(third)["model:m"] == ("register", (
        "after train", "alias latest set by hand to version 2: moves to the new version (declared in train.yaml)"))
    with reg.state() as state:
        aliases = ModelStore(state.db).aliases("m")
        moves = [e["detail"] for e in history(state, "m") if e["action"] == "alias"]
    assert aliases == {"latest": (3, "declared"), "production": (1, "manual")}
    assert {"alias": "production", "from": None, "to": 1, "by": "hand"} in moves
    assert moves[-1] == {"alias": "latest", "from": 2, "to": 3, "by": "train.yaml", "was_hand_set": True}


def test_alias_dropped_from_train_yaml_is_removed_but_hand_set_ones_stay(reg: RegistryProject) -> None:
    from runner.registry.alias import set_alias

    reg.write({"m": {"aliases": "latest, best"}})
    reg.apply()
    with reg.state() as state:
        set_alias(state, "m", "production", 1)
    reg.write({"m": {"aliases": "best"}})
    result = reg.apply()
    assert model_actions(result)["model:m"] == ("update", ("alias latest removed (no longer in train.yaml)",))
    with reg.state() as state:
        assert ModelStore(state.db).aliases("m") == {"best": (1, "declared"), "production": (1, "manual")}


def test_removed_model_is_archived_only_with_prune_and_never_deleted(reg: RegistryProject) -> None:
    reg.apply()
    reg.write(None)
    without = reg.apply()
    assert model_actions(without) == {"model:m": ("archive", ("not in train.yaml", "run apply --prune"))}
    assert without.ok and [m.status for m in without.models] == ["not archived"]
    with reg.state() as state:
        assert [m["name"] for m in list_models(state)] == ["m"]
    pruned = reg.apply(prune=True)
    assert model_actions(pruned) == {"model:m": ("archive", ("not in train.yaml",))}
    with reg.state() as state:
        assert list_models(state) == []
        assert [(m["name"], m["status"]) for m in list_models(state, include_archived=True)] == [("m", "archived")]
        assert [v["version"] for v in versions(state, "m")] == [1]
    assert model_actions(reg.apply(prune=True)) == {}
    reg.write({"m": {}})
    back = reg.apply()
    assert model_actions(back) == {"model:m": ("update", ("back in train.yaml: unarchive",))}
    with reg.state() as state:
        assert show(state, "m")["status"] == "active"
        assert [e["action"] for e in history(state, "m")][-2:] == ["archive", "unarchive"]


def test_failed_upstream_run_leaves_the_model_untouched_and_other_work_goes_on(reg: RegistryProject) -> None:
    models = {"m": {}, "n": {"job": "other"}}
    reg.write(models, jobs=("train", "other"))
    reg.apply()
    reg.dir.gen({"src": {"content.txt": "fail now"}, "other": {"content.txt": "y"}})
    result = reg.apply()
    by_name = {m.name: m for m in result.models}
    assert not result.ok
    assert by_name["m"].status == "failed" and "run train-2 failed" in (by_name["m"].detail or "")
    assert (by_name["n"].status, by_name["n"].version) == ("registered", 2)
    assert _versions(reg, "m") == [1] and _versions(reg, "n") == [1, 2]


def test_missing_path_is_an_error_for_that_model_only(reg: RegistryProject) -> None:
    reg.write({"m": {"path": "outputs/nothing.bin"}, "f": {"path": "outputs/folder"}})
    result = reg.apply()
    by_name = {m.name: m for m in result.models}
    assert not result.ok and [o.status for o in result.outcomes] == ["completed"]
    assert by_name["m"].status == "failed"
    assert "outputs/nothing.bin is not in the outputs of train-1" in (by_name["m"].detail or "")
    assert by_name["f"].status == "registered"
    assert _versions(reg, "m") == []
    again = reg.apply()
    assert model_actions(again)["model:m"][1][0].startswith("cannot register: outputs/nothing.bin")
    assert not again.ok


def test_folder_model_digest_is_the_outputs_digest_of_its_files(reg: RegistryProject) -> None:
    from runner.reconcile.fingerprint import outputs_digest

    reg.write({"f": {"path": "outputs/folder"}})
    reg.apply()
    with reg.state() as state:
        entry = show(state, "f")
        expected = outputs_digest(RunStore(state.db).files("train-1"), "outputs/folder")
        stored = ModelStore(state.db).files("f", 1)
    assert entry["digest"] == expected
    assert [p for p, _, _ in stored] == ["a.txt", "b.txt"]


def test_model_files_are_gc_roots(reg: RegistryProject) -> None:
    """A model version keeps its files even when no run record points at them any more."""
    from runner.upkeep.gc import collect_garbage

    reg.apply()
    digest = _file_digest(reg, "train-1", "outputs/model.bin")
    with reg.state() as state:
        state.db.execute("DELETE FROM run_files")
        state.db.commit()
        collect_garbage(state)
        assert state.objects.has(digest)

def test_each_spec_file_prunes_only_its_own_models(reg: RegistryProject, cli) -> None:  # type: ignore[no-untyped-def]
    """train.yaml and other.yaml share one registry (like the example's train.docker.yaml):
    neither plans to archive the other's models, and once both applied neither has changes."""
    reg.write({"m": {}})
    other = spec_text({"n": {"job": "second"}}, jobs=("second",)).replace("outputs/model.bin", "outputs/folder")
    reg.dir.gen({"other.yaml": other})
    assert cli("apply", "-C", reg.root).code == 0
    assert cli("apply", "-C", reg.root, "-f", "other.yaml", "--prune").code == 0
    for args in ((), ("-f", "other.yaml")):
        assert cli("plan", "-C", reg.root, "--detailed-exitcode", *args).code == 0, args
    reg.dir.gen({"other.yaml": other.replace("models:\n  n:", "models:\n  renamed:")})
    plan = json.loads(cli("plan", "-C", reg.root, "-f", "other.yaml", "--json").out)
    assert {a["target"]: a["reasons"] for a in plan["actions"] if a["action"] == "archive"} == {
        "model:n": ["not in other.yaml", "run apply --prune"]}
