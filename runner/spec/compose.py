"""ruamel's composer with the two things a hostile train.yaml needs: a depth limit and alias positions.

The composer recurses once per level of nesting, so `[[[[…` a thousand deep ends in a
RecursionError inside the library; it is refused here at MAX_DEPTH, at the place it
crosses, before Python's stack is at risk. And ruamel hands back the anchored node for
an alias, losing where the alias is written; `Alias` keeps that, so the builder
(runner.spec.source) can say which alias expanded too far.

Imported only when a file is parsed (never on the cached-spec path): it imports ruamel.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent, CollectionStartEvent

MAX_DEPTH = 64  # train.yaml needs about 7 (jobs.NAME.inputs.NAME.job); nothing sane needs 64


class TooDeep(MarkedYAMLError):
    """Nesting beyond MAX_DEPTH; its problem_mark is where the level that crossed it starts."""


class Alias:
    """An alias as written (`*name`): where it stands, and the node it names."""

    __slots__ = ("end_mark", "start_mark", "target")

    def __init__(self, target: Any, start_mark: Any, end_mark: Any) -> None:
        self.target = target
        self.start_mark = start_mark
        self.end_mark = end_mark


class _GuardedComposer(Composer):  # type: ignore[misc]
    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self.warn_double_anchors = False  # a reused anchor is legal YAML; ruamel would warn on stderr
        self.level = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            return Alias(super().compose_node(parent, index), event.start_mark, event.end_mark)
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.level >= MAX_DEPTH:
            raise TooDeep(None, None, f"more than {MAX_DEPTH} levels of nesting; train.yaml does not need this many",
                          event.start_mark)
        self.level += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.level -= 1


def compose(text: str) -> Any:
    """The root node of the single document in `text` (None when it holds none); aliases as `Alias`."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _GuardedComposer
    return yaml.compose(text)


def unaliased(node: Any) -> Any:
    """The node an alias names, or the node itself."""
    return node.target if isinstance(node, Alias) else node
