"""Ignore rules with gitignore semantics, one rules file per folder.

In every folder the first of `.runnerignore`, `.amlignore`, `.gitignore` that exists is
that folder's rules file (Azure ML's precedence); its patterns apply to the folder's
subtree, relative to the folder, and a deeper file's patterns win over a shallower
one's. The walk never descends into an excluded folder, so, as in git, a file cannot
be re-included when its parent folder is excluded (`data/` + `!data/keep.csv` keeps
data/ out; write `data/*` + `!data/keep.csv` instead).

Patterns are parsed by pathspec (imported only when a folder has a rules file). Its
regular expressions are evaluated here, per entry of the walk, because pathspec's own
matcher answers for whole paths (it ignores `pkg/` for `*` + `!*/`, unlike git). A
pattern's `ps_d` group marks a match that ended at a folder: that is a match of the
entry itself only when it ends exactly at the entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError

RULE_FILES = (".runnerignore", ".amlignore", ".gitignore")
ALWAYS_EXCLUDED = frozenset({".git", ".runner"})


def rules_file_in(names: set[str] | frozenset[str]) -> str | None:
    """Which rules file governs a folder whose entries are `names`."""
    for name in RULE_FILES:
        if name in names:
            return name
    return None


@dataclass(frozen=True)
class _Pattern:
    ignore: bool         # False for a `!` negation
    regex: re.Pattern[str]
    dir_mark: bool       # the regex has the `ps_d` group
    anchored: bool       # the regex starts with ^ (pathspec's `*/` and `**/` do not)
    dir_only: bool = False  # `X/**/`: folders below X, not X itself (pathspec reads it as `X/`)


class RulesFile:
    """One folder's patterns; `prefix` is the folder's project-relative path plus '/' ('' at the root)."""

    def __init__(self, prefix: str, patterns: list[_Pattern]) -> None:
        self.prefix = prefix
        self._patterns = patterns[::-1]  # the last matching pattern wins
        self._any = re.compile("|".join(f"(?:{p.regex.pattern.replace('(?P<ps_d>', '(?:')})"
                                        for p in patterns) or r"(?!)")

    def decide(self, path: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a negation, None: no pattern of this file matches."""
        sub = path[len(self.prefix):]
        if self._any.search(sub + "/" if is_dir else sub) is None:
            return None
        for pattern in self._patterns:
            if _matches_itself(pattern, sub, is_dir):
                return pattern.ignore
        return None


def _matches_itself(pattern: _Pattern, sub: str, is_dir: bool) -> bool:
    if pattern.dir_only and not is_dir:
        return False
    match = pattern.regex.search(sub)
    if match is not None and not (pattern.dir_mark and match.start("ps_d") >= 0):
        return True  # matched the name itself, not one of its folders
    if not is_dir or not pattern.dir_mark:
        return False
    slashed = sub + "/"
    match = pattern.regex.search(slashed) if pattern.anchored else pattern.regex.search(slashed, len(sub))
    return match is not None and match.start("ps_d") == len(sub)


class Rules:
    """The stack of rules files from the project root down to the folder being walked."""

    __slots__ = ("files",)

    def __init__(self, files: tuple[RulesFile, ...] = ()) -> None:
        self.files = files

    def push(self, rules_file: RulesFile) -> Rules:
        return Rules(self.files + (rules_file,))

    def ignored(self, path: str, is_dir: bool) -> bool:
        """`path` is project-relative; the deepest rules file with an opinion decides."""
        for rules_file in reversed(self.files):
            verdict = rules_file.decide(path, is_dir)
            if verdict is not None:
                return verdict
        return False


def load_rules_file(file: Path, prefix: str, display: str) -> RulesFile:
    lines = file.read_bytes().decode("utf-8", errors="surrogateescape").splitlines()
    patterns = []
    for number, line in enumerate(lines, start=1):
        pattern = _compile(line, f"{display}:{number}")
        if pattern is not None:
            patterns.append(pattern)
    return RulesFile(prefix, patterns)


def _compile(line: str, where: str) -> _Pattern | None:
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

    below = line.rstrip().endswith("/**/")  # read as `X/**` limited to folders: see _Pattern.dir_only
    try:
        parsed = GitIgnoreSpecPattern(line.rstrip()[:-1] if below else line)
    except ValueError as exc:
        raise RunnerError(f"{where}: {exc}; fix or remove that line") from exc
    if parsed.include is None or parsed.regex is None:
        return None  # a blank line or a comment
    regex = parsed.regex
    return _Pattern(bool(parsed.include), regex, "ps_d" in regex.groupindex, regex.pattern.startswith("^"), below)
