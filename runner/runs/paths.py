"""Paths in a run's output as the project knows them: `src/crash.py`, not the staged copy.

A run executes a copy of its snapshot (the staged code: today the run folder itself), so
tracebacks name `.../.runner/runs/crash-1/crash.py` and an editor would open the copy.
What is shown (the terminal stream of apply, `runner runs logs`) names the project's file
instead; the stored log keeps the bytes the process wrote. `project_paths` is pure: it gets
the staged root(s), the code folder's project-relative path and the snapshot's files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator

# What ends a path in a traceback or a compiler-style message: quotes, blanks, `:LINE`, brackets, commas.
_PATH_TAIL = r"""[^\s"'<>:,()\[\]]+"""


def project_paths(text: str, staged: Iterable[str], code: str, files: Collection[str] | None = None) -> str:
    """`text` with each `<staged root>/<rel>` written `<code>/<rel>` (`<rel>` when code is `.`).

    `staged`: the folders the snapshot was copied to, as the process saw them (e.g. the run
    folder and its real path). `files`: the snapshot's paths; when given, only those are
    rewritten (a path into outputs/ or logs/ of the run folder is not the project's).
    """
    prefix = "" if code in ("", ".") else code.rstrip("/") + "/"
    roots = sorted({root.rstrip("/") for root in staged if root.strip("/")}, key=len, reverse=True)
    if not roots:
        return text
    pattern = re.compile("(?:" + "|".join(map(re.escape, roots)) + ")/(" + _PATH_TAIL + ")")

    def one(match: re.Match[str]) -> str:
        rel = match.group(1)
        return prefix + rel if files is None or rel in files else match.group(0)

    return pattern.sub(one, text)


def line_rewriter(staged: Iterable[str], code: str, files: Collection[str] | None) -> Callable[[str], str]:
    """`project_paths` with its arguments bound, for a stream of lines."""
    roots = tuple(staged)
    return lambda line: project_paths(line, roots, code, files)


class LazyPaths:
    """A snapshot's paths, read when a line first names a staged file (most runs print none):
    `load` returns them, or None when every staged path is to be rewritten."""

    __slots__ = ("_load", "_paths")

    def __init__(self, load: Callable[[], Collection[str] | None]) -> None:
        self._load: Callable[[], Collection[str] | None] | None = load
        self._paths: Collection[str] | None = None

    def _loaded(self) -> Collection[str] | None:
        if self._load is not None:
            self._paths, self._load = self._load(), None
        return self._paths

    def __contains__(self, path: object) -> bool:
        paths = self._loaded()
        return paths is None or path in paths

    def __len__(self) -> int:
        return len(self._loaded() or ())

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded() or ())


def rewrite_bytes(data: bytes, rewrite: Callable[[str], str]) -> bytes:
    """Apply a text rewrite to raw log bytes; bytes that are not UTF-8 pass through unchanged."""
    return rewrite(data.decode("utf-8", errors="surrogateescape")).encode("utf-8", errors="surrogateescape")
