"""Azure ML's snapshot limits as warnings: name the largest files and folders to ignore."""

from __future__ import annotations

from collections import defaultdict

from runner.snapshot.manifest import FileEntry

DEFAULT_WARN_MB = 300.0
DEFAULT_WARN_FILES = 2000
MB = 1024 * 1024
SHOW = 5


def size_warnings(entries: tuple[FileEntry, ...], label: str, warn_mb: float | None,
                  warn_files: int | None) -> list[str]:
    warn_mb = DEFAULT_WARN_MB if warn_mb is None else warn_mb
    warn_files = DEFAULT_WARN_FILES if warn_files is None else warn_files
    total = sum(e.size for e in entries)
    if total <= warn_mb * MB and len(entries) <= warn_files:
        return []
    by_count = len(entries) > warn_files and total <= warn_mb * MB
    message = (f"{label}: the snapshot holds {len(entries):,} files, {_mb(total)} (warning above "
               f"{warn_files:,} files or {warn_mb:g} MB; `snapshot:` in train.yaml); "
               f"largest files: {_largest_files(entries)}; largest folders: {_largest_folders(entries, by_count)}; "
               f"list what the job does not need in .runnerignore")
    return [message]


def _largest_files(entries: tuple[FileEntry, ...]) -> str:
    top = sorted(entries, key=lambda e: (-e.size, e.path))[:SHOW]
    return ", ".join(f"{e.path} ({_mb(e.size)})" for e in top) or "none"


def _largest_folders(entries: tuple[FileEntry, ...], by_count: bool) -> str:
    size: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for entry in entries:
        folder, _, rest = entry.path.partition("/")
        if rest:
            size[folder + "/"] += entry.size
            count[folder + "/"] += 1
    key = (lambda f: (-count[f], f)) if by_count else (lambda f: (-size[f], f))
    top = sorted(size, key=key)[:SHOW]
    return ", ".join(f"{f} ({count[f]:,} files, {_mb(size[f])})" for f in top) or "none"


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
