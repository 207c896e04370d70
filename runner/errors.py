"""The one error family of runner.

Every error a user can cause is a `RunnerError`; the CLI catches it once, prints its
message on one line (or one line per problem) and exits with `exit_code`. Anything else
that escapes is a bug: exit 3 with a log path.
"""

from __future__ import annotations

from runner.values import Value


class RunnerError(Exception):
    """A mistake the user can fix, or a failure outside runner's control."""

    exit_code = 1


class Problem(Value):
    """One located problem in a train.yaml file (1-based line and column)."""

    __slots__ = ("file", "line", "column", "path", "message")  # noqa: RUF023 (field order: repr)

    def __init__(self, file: str, line: int, column: int, path: str, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message

    def format(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "path": self.path, "message": self.message}


class SpecError(RunnerError):
    """train.yaml is invalid; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        super().__init__("\n".join(p.format() for p in self.problems))


class ProjectNotFound(RunnerError):
    """No train.yaml where the user pointed."""


class StateError(RunnerError):
    """`.runner/` is damaged (a tampered object, an unknown schema version, ...)."""


class LockError(RunnerError):
    """The project lock could not be taken."""


class DiskFull(RunnerError):
    """The disk (or quota) ran out: says what was being written, never a traceback."""

    PREFIX = "no space left on device while writing "

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{self.PREFIX}{what}")


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT from the OS, or SQLite's 'database or disk is full'."""
    import errno

    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return type(exc).__name__ == "OperationalError" and "disk is full" in str(exc)
