"""Secret values masked as `***` in everything runner prints or stores from a run.

A `Masker` is built from the values to hide: every secret an environment names, and the
value of every variable whose name looks secret (it contains TOKEN, SECRET, PASSWORD or
KEY, in any case) unless train.yaml's `unmasked:` lists that name. Values shorter than
`MIN_LENGTH` characters are not masked (masking `1` or `yes` would garble every line);
a value of several lines is masked line by line, the way CI systems mask their logs.

`Masker.text` / `Masker.data` mask whole strings or bytes; `Masker.value` masks every
string (keys too) inside JSON-like data; `Masker.stream()` masks bytes that arrive in
chunks (a value split between two chunks is still masked: the end of a chunk that could
be the start of a value is held back until the next one, or the end).

Stdlib only: a foundation module, usable from any layer.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

MASK = "***"
MIN_LENGTH = 4
SECRET_NAME_PARTS = ("TOKEN", "SECRET", "PASSWORD", "KEY")
RUNNER_OWN = "RUNNER_"  # runner's own variables (RUNNER_OUTPUTS, ...) are never secret
HOLD = 64 * 1024  # a chunk stream without a newline is written out past this many bytes


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return not upper.startswith(RUNNER_OWN) and any(part in upper for part in SECRET_NAME_PARTS)


def secret_values(variables: Mapping[str, str], secrets: Iterable[str] = (), unmasked: Iterable[str] = ()) -> list[str]:
    """The values to mask: `secrets` (names, looked up in `variables`) always, the other
    variables when their names look secret and are not in `unmasked`."""
    keep = set(unmasked)
    named = set(secrets)
    return [value for name, value in variables.items()
            if name in named or (looks_secret(name) and name not in keep)]


class Masker:
    """Replaces each of `values` (at least MIN_LENGTH characters) by `***`."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        pieces: set[str] = set()
        for value in values:
            if not isinstance(value, str):
                continue
            for line in [value, *value.splitlines()]:
                for piece in (line, line.strip("\r")):  # as written, and without a CR line ending
                    if len(piece) >= MIN_LENGTH and "\n" not in piece:
                        pieces.add(piece)
        ordered = sorted(pieces, key=lambda p: (-len(p), p))  # longest first: a value inside another
        self._text = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        encoded = [p.encode("utf-8") for p in ordered]
        self._data = re.compile(b"|".join(map(re.escape, encoded))) if encoded else None
        self.longest = max((len(p) for p in encoded), default=0)

    def __bool__(self) -> bool:
        return self._text is not None

    def text(self, text: str) -> str:
        return text if self._text is None else self._text.sub(MASK, text)

    def data(self, data: bytes) -> bytes:
        return data if self._data is None else self._data.sub(MASK.encode(), data)

    def value(self, value: Any) -> Any:
        """`value` with every string inside masked (dict keys included)."""
        if self._text is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value

    def stream(self) -> StreamMasker:
        return StreamMasker(self)


class StreamMasker:
    """Masks bytes fed in chunks: `feed` returns what can be written now, `flush` the rest."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self.pending = b""
        self.masked = 0  # how many values were replaced so far

    def feed(self, chunk: bytes) -> bytes:
        pattern = self.masker._data
        if pattern is None:
            return chunk
        data = self.pending + chunk
        newline = data.rfind(b"\n")
        if newline >= 0:
            cut = newline + 1  # no value holds a newline: a match never crosses it
        elif len(data) > HOLD:
            cut = len(data) - (self.masker.longest - 1)
            for match in pattern.finditer(data):  # never cut a value in two
                if match.start() < cut < match.end():
                    cut = match.start()
                    break
        else:
            self.pending = data
            return b""
        self.pending = data[cut:]
        return self._mask(data[:cut])

    def flush(self) -> bytes:
        data, self.pending = self.pending, b""
        return self._mask(data)

    def _mask(self, data: bytes) -> bytes:
        if self.masker._data is None:
            return data
        out, count = self.masker._data.subn(MASK.encode(), data)
        self.masked += count
        return out
