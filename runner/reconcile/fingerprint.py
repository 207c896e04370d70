"""A job's fingerprint: the hash of everything that decides its result, kept with its parts.

Parts: the normalised job (runner.spec.normal), the code snapshot digest, the
environment's fingerprint, the digests of data inputs, and the output digests of the
upstream runs it reads. Keeping the parts lets `plan` say *which* one changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.runs.store import select

VERSION = 1


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    components: dict[str, Any]

    def with_upstream(self, upstream: dict[str, str]) -> Fingerprint:
        """The same fingerprint with other upstream output digests (known once the upstream ran)."""
        parts = self.components
        return make_fingerprint(parts["job"], parts["snapshot"], parts["environment"], parts["data"], upstream)


def make_fingerprint(job: dict[str, Any], snapshot: str, environment: dict[str, Any],
                     data: dict[str, str], upstream: dict[str, str]) -> Fingerprint:
    components = {"job": job, "snapshot": snapshot, "environment": environment,
                  "data": data, "upstream": upstream}
    return Fingerprint(digest=digest_json({"version": VERSION, **components}), components=components)


def outputs_digest(files: list[tuple[str, str, int]], path: str) -> str:
    """The digest of one output file, or of a folder as its sorted (relative path, digest) list:
    what a downstream job's fingerprint and a model's version are decided by."""
    kind, rows = select(files, path)
    if kind == "file":
        return rows[0][1]
    return digest_json([(rel, digest) for rel, digest, _ in rows]) if rows else "missing"


def digest_json(value: Any) -> str:
    """sha256 over canonical JSON (sorted keys, no spaces): stable across key order and runs."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def explain(old: dict[str, Any], new: dict[str, Any], code_reasons: Sequence[str] = ()) -> list[str]:
    """Why `new` differs from `old`, one short phrase per changed part. `code_reasons`: how the
    code differs, when the caller could tell (`code: src/train.py modified`)."""
    reasons: list[str] = []
    reasons += _job_changes(old.get("job", {}), new["job"])
    if old.get("snapshot") != new["snapshot"]:
        reasons += list(code_reasons) or ["code changed"]
    reasons += _environment_changes(old.get("environment", {}), new["environment"])
    reasons += _digest_changes(old.get("data", {}), new["data"], "input {}", "data")
    reasons += _digest_changes(old.get("upstream", {}), new["upstream"], "{}", "upstream outputs")
    return reasons or ["fingerprint changed"]


def _job_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    for key in ("code", "environment", "compute"):
        if old.get(key) != new.get(key):
            reasons.append(f"{key}: {_show(old.get(key))} -> {_show(new.get(key))}")
    if old.get("distribution") != new.get("distribution"):
        reasons.append(f"distribution: {_show_distribution(old.get('distribution'))} -> "
                       f"{_show_distribution(new.get('distribution'))}")
    if old.get("capture") != new.get("capture"):
        reasons.append(f"capture: {', '.join(old.get('capture') or ['none'])} -> {', '.join(new.get('capture') or ['none'])}")
    reasons += _mapping_changes("params", old.get("params", {}), new.get("params", {}))
    old_run, new_run = old.get("run", {}), new.get("run", {})
    if "command" in new_run or "command" in old_run:
        if old_run.get("command") != new_run.get("command"):
            reasons.append("command changed")
    else:
        if old_run.get("script") != new_run.get("script"):
            reasons.append(f"script: {_show(old_run.get('script'))} -> {_show(new_run.get('script'))}")
        reasons += _args_changes(old_run.get("args"), new_run.get("args"))
    for key in sorted(set(old.get("inputs", {})) | set(new.get("inputs", {}))):
        if old.get("inputs", {}).get(key) != new.get("inputs", {}).get(key):
            reasons.append(f"inputs.{key} changed")
    return reasons


def _args_changes(old: Any, new: Any) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return _mapping_changes("args", old, new)
    return ["args changed"] if old != new else []


def _mapping_changes(prefix: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    reasons = []
    for key in sorted(set(old) | set(new), key=str):
        if key not in old:
            reasons.append(f"{prefix}.{key} added")
        elif key not in new:
            reasons.append(f"{prefix}.{key} removed")
        elif digest_json(old[key]) != digest_json(new[key]):  # as the fingerprint sees them: NaN == NaN
            reasons.append(f"{prefix}.{key}: {_show(old[key])} -> {_show(new[key])}")
    return reasons


def _environment_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old.get("digest") == new.get("digest") or old.get("name") != new.get("name"):
        return []  # a renamed environment is already named by the job's `environment` change
    from runner.envs import changed_components

    components = new.get("components", {})
    parts = changed_components(old.get("components", {}), components)
    label = new.get("name") or "default"
    unknown = [f"{part} {components[part]}" for part in parts if str(components.get(part, "")).startswith("unknown:")]
    if unknown:  # e.g. no docker daemon: say that, not "changed"
        return [f"environment {label}: {'; '.join(unknown)}"]
    return [f"environment {label}: {', '.join(parts) or 'definition'} changed"]


def _digest_changes(old: dict[str, str], new: dict[str, str], label: str, what: str) -> list[str]:
    """One reason per changed digest; a key on one side only was added or removed in train.yaml."""
    def reason(key: str) -> str:
        if key not in old or key not in new:
            return f"{label.format(key)}: {'added' if key not in old else 'removed'}"
        return f"{label.format(key)}: {what} changed"

    return [reason(key) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def _show_distribution(value: dict[str, Any] | None) -> str:
    """`pytorch 2x2` (nodes x processes per node), `tensorflow 2 workers 1 ps`, `none`."""
    if not value:
        return "none"
    if value.get("type") == "tensorflow":
        chief = " + chief" if value.get("chief") else ""
        return f"tensorflow {value.get('workers')} workers {value.get('parameter_servers')} ps{chief}" \
            + (f" on {value.get('nodes')} nodes" if value.get("nodes", 1) != 1 else "")
    return f"{value.get('type')} {value.get('nodes')}x{value.get('processes_per_node')}"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
