"""Read train.yaml bytes into plain data plus the position of every key and value.

We compose the YAML node graph ourselves instead of letting ruamel build Python objects,
so that duplicate keys are reported all at once (ruamel stops at the first) and every
key and value keeps its line and column for later messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[Any, ...]

MERGE_TAG = "tag:yaml.org,2002:merge"


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
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return Mark(line, column, index)


def quoted(key: Any) -> str:
    """A key as written, in quotes; escaped when it holds quotes or unprintable characters."""
    text = str(key)
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
    node = _compose(text, doc)
    if node is None:
        if not doc.problems:
            doc.problems.append((Mark(1, 1, 0), (), "file is empty: start with `version: 1` and a `jobs:` section"))
        return doc
    doc.data = _Builder(doc).build(node, ())
    return doc


def _decode(raw: bytes) -> tuple[str, Mark | None]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        return "", Mark(line, len(before) - (before.rfind("\n") + 1) + 1, exc.start)
    return text, None


def _compose(text: str, doc: Located) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        return YAML(typ="safe", pure=True).compose(text)
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


def one_line(message: str) -> str:
    """A message fit for one `FILE:LINE:COL: message` line: no line breaks or control characters."""
    message = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


class _Builder:
    def __init__(self, doc: Located) -> None:
        from ruamel.yaml import YAML

        self.doc = doc
        self.constructor = YAML(typ="safe", pure=True).constructor
        self.active: set[int] = set()  # node ids on the current path: a recursive alias loops

    def build(self, node: Any, path: Path_) -> Any:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        self.doc.values[path] = (_mark(node.start_mark), _mark(node.end_mark))
        if id(node) in self.active:
            self._problem(node, path, "recursive YAML alias")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: Any, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first: dict[str, Mark] = {}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in first:
                self._problem(key_node, (*path, key), f"duplicate key {quoted(key)} (first defined at line {first[key].line})")
                continue
            first[key] = _mark(key_node.start_mark)
            self.doc.keys[(*path, key)] = first[key]
            result[key] = self.build(value_node, (*path, key))
        for source in merged:
            self._merge(source, path, result)
        return result

    def _merge(self, source: Any, path: Path_, result: dict[str, Any]) -> None:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        sources = source.value if isinstance(source, SequenceNode) else [source]
        for item in sources:
            if not isinstance(item, MappingNode):
                self._problem(item, path, "`<<` merges a mapping or a list of mappings")
                continue
            for key, value in self.build(item, path).items():
                result.setdefault(key, value)

    def _key(self, node: Any, path: Path_) -> str | None:
        from ruamel.yaml.nodes import ScalarNode

        if not isinstance(node, ScalarNode):
            self._problem(node, path, "a key must be a plain name, not a list or mapping")
            return None
        return str(node.value)

    def _scalar(self, node: Any, path: Path_) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # noqa: BLE001 - ruamel raises several types for bad scalars/tags
            detail = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            self._problem(node, path, f"cannot read this value: {one_line(str(detail))}")
            return None

    def _problem(self, node: Any, path: Path_, message: str) -> None:
        self.doc.problems.append((_mark(node.start_mark), path, message))
