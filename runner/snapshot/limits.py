"""Azure ML's snapshot limits as warnings: name the largest files and folders to ignore."""

from __future__ import annotations

from collections import defaultdict

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    Entry = tuple[str, int]  # (path in the code folder, size)

DEFAULT_WARN_MB = 300.0
DEFAULT_WARN_FILES = 2000
MB = 1024 * 1024
SHOW = 5


def size_warnings(entries: Callable[[], list[Entry]], count: int, total: int, label: str,
                  warn_mb: float | None, warn_files: int | None) -> list[str]:
    """Warnings for a snapshot of `count` files, `total` bytes; `entries()` is only called
    to name the largest files and folders."""
    warn_mb = DEFAULT_WARN_MB if warn_mb is None else warn_mb
    warn_files = DEFAULT_WARN_FILES if warn_files is None else warn_files
    if total <= warn_mb * MB and count <= warn_files:
        return []
    by_count = count > warn_files and total <= warn_mb * MB
    files = entries()
    message = (f"{label}: the snapshot holds {count:,} files, {_mb(total)} (warning above "
               f"{warn_files:,} files or {warn_mb:g} MB; `snapshot:` in train.yaml); "
               f"largest files: {_largest_files(files)}; largest folders: {_largest_folders(files, by_count)}; "
               f"list what the job does not need in .runnerignore")
    return [message]


def _largest_files(entries: list[Entry]) -> str:
    top = sorted(entries, key=lambda e: (-e[1], e[0]))[:SHOW]
    return ", ".join(f"{path} ({_mb(size)})" for path, size in top) or "none"


def _largest_folders(entries: list[Entry], by_count: bool) -> str:
    size: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for path, file_size in entries:
        folder, _, rest = path.partition("/")
        if rest:
            size[folder + "/"] += file_size
            count[folder + "/"] += 1
    key = (lambda f: (-count[f], f)) if by_count else (lambda f: (-size[f], f))
    top = sorted(size, key=key)[:SHOW]
    return ", ".join(f"{f} ({count[f]:,} files, {_mb(size[f])})" for f in top) or "none"


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
