"""Which changed paths can change a plan, for `runner watch`.

A path counts when a snapshot would include it (the same ignore rules, read from the
same `.runnerignore`/`.amlignore`/`.gitignore` files, folder by folder from the project
root down), or when train.yaml names it as data or an environment file (datasets are
often git-ignored, yet their digests are in the fingerprints). `.git/`, `.runner/`, the
state folder wherever `RUNNER_STATE_DIR` puts it (runs write their outputs there), and
changes to the ignore files themselves are handled first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from runner.snapshot.ignore import (
    ALWAYS_EXCLUDED,
    RULE_FILES,
    Rules,
    RulesFile,
    load_rules_file,
)

if TYPE_CHECKING:
    from runner.spec.types import Spec

_RulesKey = tuple[str, int]  # (rules file name, mtime_ns): a changed file is read again


class PathFilter:
    def __init__(self, root: Path, state_dir: Path, spec_file: Path) -> None:
        self.root = os.path.realpath(root)
        self.state_dir = os.path.realpath(state_dir)
        self.spec_rel = self._rel(os.path.realpath(spec_file)) or ""
        self.named: set[str] = {self.spec_rel} - {""}
        self._rules: dict[str, tuple[_RulesKey, RulesFile] | None] = {}

    def use_spec(self, spec: Spec) -> None:
        """Always watch what train.yaml names: datasets, input paths, environment files."""
        named = {d.path for d in spec.datasets.values()}
        named |= {i.path for job in spec.jobs.values() for i in job.inputs.values() if i.job is None and i.path}
        for env in spec.environments.values():
            named |= {p for p in (getattr(env, "requirements", None), getattr(env, "conda", None)) if p}
        self.named = {self.spec_rel, *(os.path.normpath(p).replace(os.sep, "/") for p in named)} - {""}

    def relevant(self, path: str, is_dir: bool) -> bool:
        real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if real == self.state_dir or real.startswith(self.state_dir + os.sep):
            return False
        rel = self._rel(real)
        if not rel:
            return False
        parts = rel.split("/")
        if parts[0] in ALWAYS_EXCLUDED:
            return False
        if any(rel == n or rel.startswith(n + "/") for n in self.named) or parts[-1] in RULE_FILES:
            return True
        return not self._ignored(parts, is_dir)

    def _ignored(self, parts: list[str], is_dir: bool) -> bool:
        """The snapshot walk's verdict: an excluded folder excludes everything below it."""
        rules = Rules()
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            if depth and rules.ignored(folder, True):
                return True
            found = self._rules_file(folder)
            if found is not None:
                rules = rules.push(found)
        return rules.ignored("/".join(parts), is_dir)

    def _rules_file(self, folder: str) -> RulesFile | None:
        base = os.path.join(self.root, folder) if folder else self.root
        key = _key(base)
        cached = self._rules.get(folder)
        if key is None:
            self._rules[folder] = None
            return None
        if cached is None or cached[0] != key:
            prefix = folder + "/" if folder else ""
            try:
                cached = (key, load_rules_file(os.path.join(base, key[0]), prefix, prefix + key[0]))
            except Exception:  # noqa: BLE001 - a half-written ignore file: the next plan reports it
                return None
            self._rules[folder] = cached
        return cached[1]

    def _rel(self, real: str) -> str | None:
        if real == self.root or not real.startswith(self.root + os.sep):
            return None
        return os.path.relpath(real, self.root).replace(os.sep, "/")


def _key(folder: str) -> _RulesKey | None:
    for name in RULE_FILES:
        try:
            return name, os.stat(os.path.join(folder, name)).st_mtime_ns
        except OSError:
            continue
    return None
