"""`Value`: a small immutable record, for classes on the path of `runner snapshot JOB`.

`@dataclass(frozen=True)` would do, but importing `dataclasses` imports `inspect` (and
`ast`, `dis`, `tokenize`): about 10 ms, more than a no-op snapshot may spend on imports.
"""

from __future__ import annotations


class Value:
    """Equality, hash and repr over the fields named in `__slots__`, as a frozen dataclass
    has them; a field can be set once (in `__init__`), never changed."""

    __slots__ = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
