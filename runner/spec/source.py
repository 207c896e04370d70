"""Read train.yaml bytes into plain data plus the position of every key and value.

We compose the YAML node graph ourselves instead of letting ruamel build Python objects,
so that duplicate keys are reported all at once (ruamel stops at the first) and every
key and value keeps its line and column for later messages. The file may be hostile (a
hook validates whatever a branch holds): nesting is bounded while composing
(runner.spec.compose), aliases and merges while building (`_Builder`), so that any file
costs time and memory in proportion to its size and ends in located problems.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from runner.collector import gc_paused
from runner.spec.compose import MAX_DEPTH, Alias, TooDeep, compose, unaliased

Path_ = tuple[Any, ...]

MERGE_TAG = "tag:yaml.org,2002:merge"
INT_TAG = "tag:yaml.org,2002:int"
PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
MAX_DIGITS = 4000  # Python refuses to read longer ones (sys.get_int_max_str_digits, 4300)
# What aliases may add to a file, however small: train.yaml reuses a few blocks, not this much.
MAX_EXPANDED_VALUES = 100_000
MAX_EXPANDED_CHARS = 1_000_000
MAX_MESSAGE = 400


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based
    index: int  # 0-based character offset in the text


@dataclass
class Located:
    """Plain data (dicts, lists, scalars) and where each part of it came from."""

    data: Any
    text: str
    keys: dict[Path_, Mark] = field(default_factory=dict)
    values: dict[Path_, tuple[Mark, Mark]] = field(default_factory=dict)
    problems: list[tuple[Mark, Path_, str]] = field(default_factory=list)
    # A key with no value in a flow mapping `{…}` right after a plain value: most likely a comma in
    # that value split it (`{command: python -c "import a, b"}`). By the key's path: the key before
    # it and where the whole text, as meant, starts and ends.
    flow_splits: dict[Path_, tuple[str, int, int]] = field(default_factory=dict)
    line_starts: list[int] = field(default_factory=list, repr=False)  # where each line starts

    def key_mark(self, path: Path_) -> Mark:
        """Where the key of `path` is written; the nearest written ancestor when it is not."""
        for end in range(len(path), 0, -1):
            sub = tuple(path[:end])
            if sub in self.keys:
                return self.keys[sub]
            if sub in self.values:
                return self.values[sub][0]
        return Mark(1, 1, 0)

    def value_mark(self, path: Path_) -> Mark:
        span = self.values.get(tuple(path))
        return span[0] if span else self.key_mark(path)

    def mark_at(self, index: int) -> Mark:
        if not self.line_starts:  # found once: a file with thousands of problems is not read per problem
            self.line_starts.extend([0, *(m.end() for m in re.finditer("\n", self.text))])
        line = bisect.bisect_right(self.line_starts, index)
        return Mark(line, index - self.line_starts[line - 1] + 1, index)


def counted(found: list[tuple[Mark, Path_, str]]) -> list[tuple[Mark, Path_, str]]:
    """Identical problems (same place, same message: an alias used many times) once, with a count."""
    seen: dict[tuple[int, str], list[Any]] = {}
    for mark, path, message in found:
        seen.setdefault((mark.index, message), [mark, path, message, 0])[3] += 1
    return [(mark, path, message if n == 1 else f"{message} ({n:,} times)") for mark, path, message, n in seen.values()]


def quoted(key: Any) -> str:
    """A key as written, in quotes; escaped when it holds quotes or unprintable characters;
    a long one shortened in the middle."""
    text = str(key)
    if len(text) > 60:
        return f"{quoted(text[:40] + '...' + text[-15:])} ({len(text):,} characters)"
    return f"'{text}'" if text.isprintable() and "'" not in text else repr(text)


def _mark(node_mark: Any) -> Mark:
    return Mark(node_mark.line + 1, node_mark.column + 1, node_mark.index)


def read_source(raw: bytes) -> Located:
    """Decode and compose; problems (syntax, encoding, duplicates) are collected, not raised."""
    text, problem = _decode(raw)
    doc = Located(data=None, text=text)
    if problem is not None:
        doc.problems.append((problem, (), "file is not valid UTF-8 text"))
        return doc
    with gc_paused():
        node = _compose(text, doc)
        _build(node, doc)
    doc.problems = counted(doc.problems)
    return doc


def _build(node: Any, doc: Located) -> None:
    if node is None:
        if not doc.problems:
            doc.problems.append((Mark(1, 1, 0), (), "file is empty: start with `version: 1` and a `jobs:` section"))
        return
    try:
        doc.data = _Builder(doc).build(node, ())
    except _Refused as exc:
        doc.problems.append((_mark(exc.node.start_mark), (), exc.message))
    if doc.data is None and not doc.problems:  # `~`, `null`, `--- ~`
        doc.problems.append((doc.value_mark(()), (), "the top level must be a mapping (version:, jobs:, ...), "
                                                     "not nothing (null)"))


def _decode(raw: bytes) -> tuple[str, Mark | None]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        return "", Mark(line, len(before) - (before.rfind("\n") + 1) + 1, exc.start)
    return text, None


def _compose(text: str, doc: Located) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        return compose(text)
    except TooDeep as exc:
        doc.problems.append((_mark(exc.problem_mark), (), str(exc.problem)))
    except ReaderError as exc:  # an unprintable character; its str() adds a second line
        where = doc.mark_at(min(max(int(exc.position), 0), len(text)))
        what = (f"unacceptable character #x{exc.character:04x}: {exc.reason}"
                if isinstance(exc.character, int) else str(exc.reason))
        doc.problems.append((where, (), f"YAML syntax error: {one_line(what)}"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _mark(mark) if mark is not None else Mark(1, 1, 0)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        doc.problems.append((where, (), f"YAML syntax error: {one_line(what or str(exc))}"))
    except YAMLError as exc:
        doc.problems.append((Mark(1, 1, 0), (), f"YAML syntax error: {one_line(str(exc))}"))
    return None


def _bare(node: Any) -> bool:
    """A key written alone in a flow mapping (`{a: 1, b}`): its value is an empty plain scalar."""
    return isinstance(node, ScalarNode) and node.value == "" and node.style is None


def one_line(message: str) -> str:
    """A message fit for one `FILE:LINE:COL: message` line: no line breaks or control characters,
    and not past MAX_MESSAGE characters (a 100 KB key or value is shortened in the middle)."""
    if len(message) > MAX_MESSAGE:
        head, tail = MAX_MESSAGE - 100, 60
        message = f"{message[:head]}...({len(message) - head - tail:,} characters)...{message[-tail:]}"
    message = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


class _Refused(Exception):  # noqa: N818 - internal: building stops, the reason becomes one problem
    def __init__(self, node: Any, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class _Builder:
    """Plain data from the node graph, expanding aliases and merges within fixed bounds.

    An alias is built again each time it is used, so a few lines of nested aliases
    ("billion laughs") would expand to gigabytes; every node built more than once counts
    against MAX_EXPANDED_VALUES and its characters against MAX_EXPANDED_CHARS, and nesting
    (aliases and merges included) stops at MAX_DEPTH, before Python's stack would.
    What is learnt about a node once (its marks, its merge keys) is kept by its id, so
    expanding it again costs little.
    """

    def __init__(self, doc: Located) -> None:
        from ruamel.yaml import YAML

        self.doc = doc
        self.constructor = YAML(typ="safe", pure=True).constructor
        self.active: set[int] = set()  # node ids on the current path: a recursive alias loops
        self.spans: dict[int, tuple[Mark, Mark]] = {}  # by node id: a node found here is built again
        self.shapes: dict[int, tuple[list[Any], list[tuple[Any, Any]]]] = {}  # a mapping's merges and pairs
        self.aliases: list[Alias] = []  # the aliases being expanded, outermost first
        self.left = [MAX_EXPANDED_VALUES, MAX_EXPANDED_CHARS]

    def build(self, node: Any, path: Path_) -> Any:
        if isinstance(node, Alias):
            return self._alias(node, path)
        if id(node) in self.active:
            self._problem(self.aliases[-1] if self.aliases else node, path, "recursive YAML alias")
            return None
        first = id(node) not in self.spans
        self.doc.values[path] = self._span(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if first and node.tag not in PLAIN_TAGS:  # `!!python/object {…}`: never constructed, but not ignored
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self._problem(node, path, f"cannot read this value: the tag {tag} is not allowed in train.yaml")
        if len(self.active) >= MAX_DEPTH:
            raise _Refused(self.aliases[0] if self.aliases else node,
                           f"more than {MAX_DEPTH} levels of nesting (counting aliases and merges); "
                           f"train.yaml does not need this many")
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _span(self, node: Any) -> tuple[Mark, Mark]:
        """Where a node (or alias) is written; the second time one is asked for, that is an expansion."""
        span = self.spans.get(id(node))
        if span is None:
            span = self.spans[id(node)] = (_mark(node.start_mark), _mark(node.end_mark))
        elif not isinstance(node, Alias):
            self._count(node)
        return span

    def _alias(self, alias: Alias, path: Path_) -> Any:
        self.aliases.append(alias)
        try:
            value = self.build(alias.target, path)
        finally:
            self.aliases.pop()
        self.doc.values[path] = self._span(alias)
        return value

    def _count(self, node: Any) -> None:
        """Refuse expansions beyond their bounds, at the outermost alias being expanded."""
        self.left[0] -= 1
        self.left[1] -= len(node.value) if isinstance(node, ScalarNode) else 0
        where = self.aliases[0] if self.aliases else node
        if self.left[0] < 0:
            raise _Refused(where, f"aliases expand to more than {MAX_EXPANDED_VALUES:,} values; "
                                  f"train.yaml does not need this many")
        if self.left[1] < 0:
            raise _Refused(where, f"aliases expand to more than {MAX_EXPANDED_CHARS:,} characters; "
                                  f"train.yaml does not need this many")

    def _shape(self, node: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
        """A mapping's `<<` values and its other pairs (asking a node for its tag is slow in ruamel)."""
        shape = self.shapes.get(id(node))
        if shape is None:
            merges = [value for key, value in node.value if unaliased(key).tag == MERGE_TAG]
            pairs = [(key, value) for key, value in node.value if unaliased(key).tag != MERGE_TAG]
            shape = self.shapes[id(node)] = (merges, pairs)
        return shape

    def _mapping(self, node: Any, path: Path_) -> dict[str, Any]:
        merges, pairs = self._shape(node)
        # merged first, so the marks of keys written here win over those of the keys they override
        merged = self._merged(merges, path) if merges else {}
        self.doc.values[path] = self.spans[id(node)]
        result: dict[str, Any] = {}
        first: dict[str, Mark] = {}
        before: tuple[str, Any] | None = None  # the previous pair, when its value is a plain scalar
        splits: list[Path_] = []  # the bare keys found after it
        for key_node, value_node in pairs:
            key = self._key(key_node, path)
            if key is None:
                before = None
                continue
            if node.flow_style and before is not None and _bare(value_node):
                self.doc.flow_splits[(*path, key)] = (before[0], before[1].start_mark.index, key_node.end_mark.index)
                for cut in splits:  # `{command: a, b, c}`: each piece's message shows the whole value
                    self.doc.flow_splits[cut] = (*self.doc.flow_splits[cut][:2], key_node.end_mark.index)
                splits.append((*path, key))
            else:
                plain = isinstance(value_node, ScalarNode) and value_node.style is None and value_node.value
                before, splits = ((key, value_node) if plain else None), []
            if key in first:
                self._problem(key_node, (*path, key), f"duplicate key {quoted(key)} (first defined at line {first[key].line})")
                continue
            first[key] = self.doc.keys[(*path, key)] = self._key_mark(key_node)
            result[key] = self.build(value_node, (*path, key))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merged(self, sources: list[Any], path: Path_) -> dict[str, Any]:
        """`<<: *a` or `<<: [*a, *b]`: the keys of those mappings, the first one's winning."""
        items: list[tuple[Any, Any]] = []  # (mapping node or alias, alias that lists it)
        for source in sources:
            listed = unaliased(source)
            via = source if isinstance(source, Alias) else None
            items += [(item, via) for item in listed.value] if isinstance(listed, SequenceNode) else [(source, None)]
        # built last to first, so the marks left for a key are those of the source that provides it
        built = [self._merge_source(item, via, path) for item, via in reversed(items)][::-1]
        result: dict[str, Any] = {}
        for mapping in built:
            for key, value in mapping.items():
                result.setdefault(key, value)
        return result

    def _merge_source(self, item: Any, via: Alias | None, path: Path_) -> dict[str, Any]:
        if not isinstance(unaliased(item), MappingNode):
            self._problem(item, path, "`<<` merges a mapping or a list of mappings")
            return {}
        if via is not None:
            self.aliases.append(via)
        try:
            value = self.build(item, path)
        finally:
            if via is not None:
                self.aliases.pop()
        return value if isinstance(value, dict) else {}

    def _key(self, node: Any, path: Path_) -> str | None:
        if not isinstance(unaliased(node), ScalarNode):
            self._problem(node, path, "a key must be a plain name, not a list or mapping")
            return None
        return str(unaliased(node).value)

    def _key_mark(self, node: Any) -> Mark:
        span = self.spans.get(id(node))  # keys are not counted: their values are
        if span is None:
            span = self.spans[id(node)] = (_mark(node.start_mark), _mark(node.end_mark))
        return span[0]

    def _scalar(self, node: Any, path: Path_) -> Any:
        if len(node.value) > MAX_DIGITS and node.tag == INT_TAG:
            self._problem(node, path, f"a number of {len(node.value):,} digits is not a sane value here")
            return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # noqa: BLE001 - ruamel raises several types for bad scalars/tags
            detail = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            self._problem(node, path, f"cannot read this value: {one_line(str(detail))}")
            return None

    def _problem(self, node: Any, path: Path_, message: str) -> None:
        self.doc.problems.append((_mark(node.start_mark), path, message))
