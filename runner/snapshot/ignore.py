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

import os

from runner.errors import RunnerError
from runner.state.cachefile import cache_key, file_stamp, read_cache, write_cache

TYPE_CHECKING = False  # annotations only: typing costs milliseconds to import
if TYPE_CHECKING:
    import re
    from collections.abc import Collection

RULE_FILES = (".runnerignore", ".amlignore", ".gitignore")
ALWAYS_EXCLUDED = frozenset({".git", ".runner"})


def rules_file_in(names: Collection[str]) -> str | None:
    """Which rules file governs a folder whose entries are `names`."""
    for name in RULE_FILES:
        if name in names:
            return name
    return None


class _Pattern:
    """One pattern line, from its regex source; the regex is compiled on first use (a walk
    whose paths hold none of the literals never needs it)."""

    __slots__ = ("_regex", "anchored", "dir_mark", "dir_only", "ignore", "literal", "source")

    def __init__(self, ignore: bool, source: str, dir_only: bool, literal: str | None) -> None:
        self.ignore = ignore          # False for a `!` negation
        self.source = source          # pathspec's regex
        self._regex: re.Pattern[str] | None = None
        self.dir_mark = "(?P<ps_d>" in source  # the regex has the `ps_d` group
        self.anchored = source.startswith("^")  # pathspec's `*/` and `**/` are not
        self.dir_only = dir_only      # `X/**/`: folders below X, not X itself (pathspec reads it as `X/`)
        self.literal = literal        # text every path it matches contains, if known

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            self._regex = _regex(self.source)
        return self._regex


class RulesFile:
    """One folder's patterns; `prefix` is the folder's project-relative path plus '/' ('' at the root)."""

    def __init__(self, prefix: str, patterns: list[_Pattern]) -> None:
        self.prefix = prefix
        self._patterns = patterns[::-1]  # the last matching pattern wins
        self._any_source = "|".join(f"(?:{p.source.replace('(?P<ps_d>', '(?:')})" for p in patterns) or r"(?!)"
        self._any: re.Pattern[str] | None = None
        literals = {p.literal for p in patterns}
        self._literals = None if None in literals else literals

    def candidates(self, subs: list[str]) -> set[int]:
        """Indices of `subs` (paths below this file's folder) that a pattern may match, found over
        all of them joined by newlines instead of one regex search per path.

        Mostly each pattern has a literal every match contains (`.pyc`, `__pycache__`), and
        `str.find` spots the few lines holding one. Otherwise the patterns' regex runs over
        the joined text: `^` and `$` match at each line (pathspec ends patterns with `$`,
        never `\\Z`) and `.` stops at a newline, so a path's own match is found at its line's
        start or inside a match that overlaps its line; a match that spills over (`[^/]*`
        crosses newlines) only adds paths `decide` then rejects."""
        text = "\n".join(subs)
        if text.count("\n") != len(subs) - 1:  # a file name with a newline in it: decide them all
            return set(range(len(subs)))
        if self._literals is not None:
            found: set[int] = set()
            for literal in self._literals:
                found |= _lines_holding(text, literal)
            return found
        return _lines_matching(text, _regex(self._any_source, multiline=True))

    def decide(self, path: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a negation, None: no pattern of this file matches."""
        sub = path[len(self.prefix):]
        text = sub + "/" if is_dir else sub
        if self._literals is not None:
            for literal in self._literals:  # a loop, not any(): this runs for every folder of a walk
                if literal in text:
                    break
            else:
                return None  # every pattern's literal is missing: none can match
        if self._any is None:
            self._any = _regex(self._any_source)
        if self._any.search(text) is None:
            return None
        for pattern in self._patterns:
            if _matches_itself(pattern, sub, is_dir):
                return pattern.ignore
        return None


def _regex(source: str, *, multiline: bool = False) -> re.Pattern[str]:
    """Compile a pattern's regex; `re` is imported only then (~6 ms: a walk whose paths hold
    no pattern's literal never needs it)."""
    import re

    return re.compile(source, re.MULTILINE if multiline else 0)


def _lines_holding(text: str, literal: str) -> set[int]:
    found: set[int] = set()
    line = counted = 0
    pos = text.find(literal)
    while pos >= 0:
        line += text.count("\n", counted, pos)
        counted = pos
        found.add(line)
        pos = text.find("\n", pos)
        pos = text.find(literal, pos + 1) if pos >= 0 else -1
    return found


def _lines_matching(text: str, regex: re.Pattern[str]) -> set[int]:
    found: set[int] = set()
    pos = line = counted = 0
    while (match := regex.search(text, pos)) is not None:
        start, last = match.start(), max(match.end() - 1, match.start())
        line += text.count("\n", counted, start)
        end_line = line + text.count("\n", start, last)
        found.update(range(line, end_line + 1))
        line, counted = end_line, last
        pos = text.find("\n", last) + 1  # go on at the next line: these are all candidates
        if pos == 0:
            break
    return found


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

    def candidates(self, paths: list[str]) -> set[int]:
        """Indices of `paths` (project-relative, folders with a trailing '/', all below the
        deepest rules file) that `ignored` must decide; the others are not ignored."""
        found: set[int] = set()
        for rules_file in self.files:
            cut = len(rules_file.prefix)
            found |= rules_file.candidates([path[cut:] for path in paths] if cut else paths)
        return found

    def ignored(self, path: str, is_dir: bool) -> bool:
        """`path` is project-relative; the deepest rules file with an opinion decides."""
        for rules_file in reversed(self.files):
            verdict = rules_file.decide(path, is_dir)
            if verdict is not None:
                return verdict
        return False


def load_rules_file(file: str, prefix: str, display: str) -> RulesFile:
    with open(file, "rb") as handle:
        lines = handle.read().decode("utf-8", errors="surrogateescape").splitlines()
    patterns = []
    for number, line in enumerate(lines, start=1):
        pattern = _compile(line, f"{display}:{number}")
        if pattern is not None:
            patterns.append(pattern)
    return RulesFile(prefix, patterns)


# Translations of pattern lines by pathspec, kept across runs in the state folder: importing
# pathspec costs ~35 ms (it pulls in typing and dataclasses), more than an unchanged
# snapshot. A line's translation depends only on the line and on pathspec's own code.
_TRANSLATED: dict[str, list[object]] = {}  # line -> [include, regex, dir_only] or [None] for a comment
_cache_dirty = False


def _compile(line: str, where: str) -> _Pattern | None:
    global _cache_dirty
    known = _TRANSLATED.get(line)
    if known is None:
        known = _translate(line, where)
        _TRANSLATED[line] = known
        _cache_dirty = True
    if known[0] is None:
        return None  # a blank line or a comment
    include, regex, below = known
    return _Pattern(bool(include), str(regex), bool(below), _literal(line))


def _translate(line: str, where: str) -> list[object]:
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

    below = line.rstrip().endswith("/**/")  # read as `X/**` limited to folders: see _Pattern.dir_only
    try:
        parsed = GitIgnoreSpecPattern(line.rstrip()[:-1] if below else line)
    except ValueError as exc:
        raise RunnerError(f"{where}: {exc}; fix or remove that line") from exc
    if parsed.include is None or parsed.regex is None:
        return [None]
    return [bool(parsed.include), parsed.regex.pattern, below]


def load_translations(path: str) -> None:
    """Read the translations a previous run kept in `path` (if made by this pathspec)."""
    cached = read_cache(path, _translation_key())
    if not isinstance(cached, dict):
        return  # no cache yet, or one that does not verify: translate again
    for line, known in cached.items():
        if isinstance(line, str) and (known == [None] or (isinstance(known, list) and len(known) == 3
                                                           and isinstance(known[1], str))):
            _TRANSLATED.setdefault(line, known)  # anything else: translate that line again


def save_translations(path: str) -> None:
    """Keep the translations in `path` if this run made new ones; best effort."""
    global _cache_dirty
    if _cache_dirty and write_cache(path, _translation_key(), _TRANSLATED):
        _cache_dirty = False


def _translation_key() -> str:
    """The installed pathspec: the size and mtime of the files that hold its version and its
    gitignore translation (a release may keep `__init__.py` as is). Worked out once per
    process (a plan loads the translations for every code folder)."""
    global _key
    if _key is None:
        _key = _installed_key()
    return _key


_key: str | None = None


def _installed_key() -> str:
    import sys

    for folder in sys.path:
        base = os.path.join(folder or ".", "pathspec")
        if os.path.isfile(os.path.join(base, "__init__.py")):
            return cache_key("ignore-patterns", *(file_stamp(os.path.join(base, part)) for part in _PATHSPEC_FILES))
    return cache_key("ignore-patterns", "no pathspec")


# The files of pathspec whose change may change a translation (names of several releases).
_PATHSPEC_FILES = ("__init__.py", "_version.py", "_meta.py", "patterns/gitignore/spec.py",
                   "patterns/gitignore/base.py", "patterns/gitwildmatch.py")


_WILDCARDS = str.maketrans("?\\", "**")  # every wildcard and escape becomes `*`, to split on


def _literal(line: str) -> str | None:
    """The longest piece of the pattern that every path it matches contains, or None.

    Pieces lie between wildcards and escapes; a character class (and all after it) is
    skipped; slashes at a piece's ends are dropped, as `**/` and the anchoring `/` may
    match no slash at all."""
    text = line.rstrip()
    text = text.removeprefix("!")
    pieces = [piece.strip("/") for piece in text.split("[", 1)[0].translate(_WILDCARDS).split("*")]
    return max(pieces, key=len, default="") or None
