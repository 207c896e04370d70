"""What pip reads besides the index: requirements files with their `-r`/`-c` includes, and
local package folders (`./pkgs/mylib`, `-e ../lib`, `file:./x`).

Their content decides an environment's content, so it is in the env fingerprint: editing
an included `base.txt` or a local package rebuilds the env instead of silently reusing
one built from the old files (and another project's `./pkgs/mylib` is another env).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path

from runner.envs.errors import EnvError

_INCLUDES = ("-r", "--requirement", "-c", "--constraint")
_SKIPPED_DIRS = {".git", "__pycache__", "build", "dist", ".tox", ".venv"}  # what builds write in-tree


def requirement_files(root: Path, rel: str) -> list[str]:
    """`rel` and every file it includes, recursively: project-relative POSIX paths, in order."""
    found: list[str] = []
    pending: list[tuple[str, str | None]] = [(posixpath.normpath(rel), None)]  # (file, the file including it)
    while pending:
        current, parent = pending.pop(0)
        if current in found:
            continue
        where = f" (included from {parent})" if parent else ""
        if current == ".." or current.startswith("../") or os.path.isabs(current):
            raise EnvError(f"{current}: a requirements file{where} leaves the project")
        try:
            text = (root / current).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            raise EnvError(f"{current}: the requirements file of an environment does not exist{where}") from None
        found.append(current)
        folder = posixpath.dirname(current)
        pending += [(posixpath.normpath(posixpath.join(folder, include)), current) for include in _included(text)]
    return found


def sources_digest(root: Path, requirement: str | None, pip: Iterable[str]) -> dict[str, str]:
    """Fingerprint components: `requirements` over every requirements file, and one
    `local:PATH` per local package folder named in `pip:` or in those files."""
    parts: dict[str, str] = {}
    lines = list(pip)
    if requirement:
        files = requirement_files(root, requirement)
        top = posixpath.dirname(files[0])
        digest = hashlib.sha256()
        for index, rel in enumerate(files):  # where the top file lives is not part of the content
            data = (root / rel).read_bytes()
            name = "" if index == 0 else posixpath.relpath(rel, top or ".")
            digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
            lines += _lines(data.decode("utf-8", errors="replace"))
        parts["requirements"] = "sha256:" + digest.hexdigest()
    for line in lines:
        path = _local_path(root, line)
        if path is None:
            continue
        if not path.exists():
            raise EnvError(f"{line}: the local package of an environment does not exist ({path})")
        parts[f"local:{line}"] = tree_digest(path)
    return parts


def tree_digest(path: Path) -> str:
    """sha256 over a file, or over a folder's files (relative path, executable bit, content)."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return "sha256:" + digest.hexdigest()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if file.is_symlink() or not file.is_file():
                continue
            digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
            digest.update((b"x" if os.access(file, os.X_OK) else b"-") + hashlib.sha256(file.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


def _lines(text: str) -> list[str]:
    return [line.split(" #")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _included(text: str) -> list[str]:
    """The files a requirements file includes (URLs are left to pip: they are not project files)."""
    out = []
    for line in _lines(text):
        for flag in _INCLUDES:
            if line.startswith(flag + " ") or line.startswith(flag + "="):
                target = line[len(flag) + 1:].strip()
                if "://" not in target:
                    out.append(target)
    return out


def _local_path(root: Path, line: str) -> Path | None:
    """The folder or file a requirement names on disk: `./pkg`, `./pkg[extra]`, `-e ./pkg`,
    `--editable=./pkg`, `name @ ./pkg`, `name @ file:///abs/pkg`, `file:./pkg`; else None."""
    spec = re.sub(r"^(-e|--editable)(\s+|=)", "", line.strip())
    if " @ " in spec:  # a direct reference: `name @ location`
        spec = spec.split(" @ ", 1)[1].strip()
    spec = re.sub(r"^file:(//)?", "", spec)
    spec = re.split(r"[\[;#]|\s", spec, maxsplit=1)[0]  # extras, markers, comments
    if not spec.startswith(("./", "../", "/")) and spec not in (".", ".."):
        return None
    return Path(spec) if os.path.isabs(spec) else root / spec
