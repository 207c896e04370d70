"""Walk a job's code folder: one `os.scandir` per folder and one `lstat` per file.

Returns the files to snapshot as `Stat` tuples (project-relative POSIX paths first),
the excluded top-level entries and warnings. A symlink that resolves inside the project
is followed (its target's stat is used); one that leads outside is an error naming it;
sockets, fifos and devices are skipped with a warning.
"""

from __future__ import annotations

import os
import stat

from runner import progress
from runner.collector import gc_paused
from runner.errors import RunnerError
from runner.snapshot.ignore import (
    ALWAYS_EXCLUDED,
    RULE_FILES,
    Rules,
    load_rules_file,
    rules_file_in,
)
from runner.snapshot.statcache import stat_of

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a snapshot ~10 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from runner.snapshot.statcache import Stat


class WalkResult:
    __slots__ = ("excluded", "files", "warnings")

    def __init__(self, files: list[Stat] | None = None) -> None:
        self.files: list[Stat] = files if files is not None else []
        self.excluded: list[str] = []
        self.warnings: list[str] = []


def walk(project_root: str | Path, code: str, *, ignore_files: bool = True, skip: str | Path | None = None,
         omit: frozenset[str] = frozenset()) -> WalkResult:
    """Everything in `project_root/code` that the ignore rules keep.

    ignore_files=False (dataset folders, usually git-ignored themselves): only `.git` and
    `.runner` are left out. `skip`: the state folder when $RUNNER_STATE_DIR puts it in the
    project under another name. `omit`: project-relative files left out (the spec file:
    it is read into the fingerprint field by field, so its metadata must not rerun jobs).
    """
    root = os.path.realpath(project_root)
    folder = _code_folder(root, code)
    prefix = "" if code == "." else code + "/"
    walker = _Walker(root, ignore_files, os.path.realpath(skip) if skip else None, omit)
    rules = _ancestor_rules(root, code) if ignore_files else Rules()
    with gc_paused(), progress.phase(f"snapshot {code}", unit="files") as walker.step:
        walker.scan(folder, prefix, rules, os.path.realpath(folder), top=True)
        return walker.finish()


def _code_folder(root: str, code: str) -> str:
    folder = os.path.join(root, code) if code != "." else root
    real = os.path.realpath(folder)
    if not _inside(real, root):
        raise RunnerError(f"code folder {code!r} leads outside the project (to {real})")
    if not os.path.isdir(real):
        raise RunnerError(f"code folder {code!r} does not exist in {root}: create it or fix `code:` in train.yaml")
    return folder


def _ancestor_rules(root: str, code: str) -> Rules:
    """Rules files of the folders above the code folder (from the project root down)."""
    rules = Rules()
    if code == ".":
        return rules
    parts = code.split("/")
    for depth in range(len(parts)):
        rel = "/".join(parts[:depth])
        folder = os.path.join(root, rel) if rel else root
        prefix = rel + "/" if rel else ""
        name = rules_file_in({n for n in RULE_FILES if os.path.isfile(os.path.join(folder, n))})
        if name:
            rules = rules.push(load_rules_file(os.path.join(folder, name), prefix, prefix + name))
    return rules


_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Walker:
    """A folder's entries are sorted in one pass (its rules file is known after it); then its
    subfolders are decided one by one (an ignored folder is never entered). Regular files
    are stat'ed in that pass, wait in one bucket per rules stack, and are decided in `finish`
    by a few searches over the whole bucket (see `Rules.candidates`) instead of one regex
    search per file. Stat'ing the few ignored files costs less."""

    def __init__(self, root: str, ignore_files: bool, skip: str | None, omit: frozenset[str]) -> None:
        self.root = root
        self.ignore_files = ignore_files
        self.skip = skip
        self.omit = omit
        self.omitted_in = {path[:path.rfind("/") + 1] for path in omit}  # their folders, as `rel`s
        self.result = WalkResult()
        self.chain: set[str] = set()  # real paths of the folders being walked (symlink loops)
        self.buckets: dict[int, tuple[Rules, list[Stat]]] = {}
        self.step = progress.NOTHING  # counts the files found (see walk)

    def scan(self, folder: str, rel: str, rules: Rules, real: str, *, top: bool = False) -> None:
        files: list[Stat] = []
        folders: list[str] = []
        others: list[tuple[str, os.stat_result | None]] = []  # (name, its stat; None for a symlink)
        dotted: list[str] = []
        # Listed through a descriptor: each lstat then looks up one name, not the whole path.
        descriptor = os.open(folder, _FOLDER)
        try:
            with os.scandir(descriptor) as entries:
                for entry in entries:  # the hot loop: d_type answers is_file/is_dir without a syscall
                    name = entry.name
                    if name[0] == ".":  # few names start with a dot: .git, .runner and the rules files
                        if name in ALWAYS_EXCLUDED:
                            self._exclude(name, top)
                            continue
                        dotted.append(name)
                    try:
                        if entry.is_file(follow_symlinks=False):
                            st = entry.stat(follow_symlinks=False)
                            files.append((rel + name, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns,
                                          st.st_mode))
                        elif entry.is_dir(follow_symlinks=False):
                            folders.append(name)
                        else:
                            link = entry.is_symlink()
                            others.append((name, None if link else entry.stat(follow_symlinks=False)))
                    except FileNotFoundError:
                        continue  # deleted since the folder was read: not part of this snapshot
        finally:
            os.close(descriptor)
        name = rules_file_in(dotted) if self.ignore_files and dotted else None
        if name:
            rules = rules.push(load_rules_file(os.path.join(folder, name), rel, rel + name))
        ignored = rules.ignored if rules.files else None
        if rel in self.omitted_in or (top and ignored is not None):  # top-level files: decided now, to list them
            files = [st for st in files if not self._left_out(st[0], rel, top, ignored)]
        self.buckets.setdefault(id(rules), (rules, []))[1].extend(files)
        self.step.advance(len(files))
        self.chain.add(real)
        for name in folders:
            path, inner = rel + name, real + os.sep + name
            if (ignored is None or not ignored(path, True)) and inner != self.skip:
                self.scan(folder + os.sep + name, path + "/", rules, inner)
            else:
                self._exclude(name, top)
        for name, st in others:
            path = rel + name
            if st is None:
                self._link(folder + os.sep + name, name, path, rules, top)
            elif ignored is None or not ignored(path, False):
                self._file(path, st)
        self.chain.discard(real)

    def _left_out(self, path: str, rel: str, top: bool, ignored: Callable[[str, bool], bool] | None) -> bool:
        """Whether a file of folder `rel` is omitted or (at the top) ignored; then it is excluded."""
        if path in self.omit or (top and ignored is not None and ignored(path, False)):
            self._exclude(path[len(rel):], top)
            return True
        return False

    def finish(self) -> WalkResult:
        """Drop the waiting files the rules ignore."""
        files = self.result.files
        for rules, bucket in self.buckets.values():
            if rules.files:
                paths = [st[0] for st in bucket]
                drop = {i for i in rules.candidates(paths) if rules.ignored(paths[i], False)}
                if drop:
                    bucket = [st for i, st in enumerate(bucket) if i not in drop]
            files += bucket
        return self.result

    def _file(self, path: str, st: os.stat_result) -> None:
        if stat.S_ISREG(st.st_mode):
            self.result.files.append(stat_of(path, st))
        else:
            kind = "socket" if stat.S_ISSOCK(st.st_mode) else "fifo" if stat.S_ISFIFO(st.st_mode) else "special file"
            self.result.warnings.append(f"skipped {path}: a {kind} is not a regular file")

    def _link(self, where: str, name: str, path: str, rules: Rules, top: bool) -> None:
        target = os.path.realpath(where)
        try:
            st = os.stat(target)
        except OSError:
            if not (rules.files and rules.ignored(path, False)):
                self.result.warnings.append(f"skipped {path}: a broken symlink")
            return
        is_dir = stat.S_ISDIR(st.st_mode)
        if rules.files and rules.ignored(path, is_dir):
            self._exclude(name, top)
            return
        if not _inside(target, self.root):
            raise RunnerError(f"{path}: symlink leads outside the project (to {target}); "
                              f"remove it or list it in .runnerignore")
        if not is_dir:
            self._file(path, st)
        elif target in self.chain:
            raise RunnerError(f"{path}: symlink loops back to {target}; remove it or list it in .runnerignore")
        else:
            self.scan(where, path + "/", rules, target)

    def _exclude(self, name: str, top: bool) -> None:
        if top:
            self.result.excluded.append(name)
