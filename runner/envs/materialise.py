"""Turn an environment name into an interpreter on this host, building it on a cache miss."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner import progress
from runner.envs.fingerprint import EnvFingerprint, env_fingerprint, environment_of

if TYPE_CHECKING:
    from runner.envs.cache import BuildFn
    from runner.spec.types import Spec


@dataclass(frozen=True)
class Materialised:
    python: str  # absolute path of the interpreter to run on the host
    bin_dir: str | None  # prepend to PATH so `python` in a command means this env
    location: str  # cache folder, or the interpreter for user_managed
    cache: str  # "hit" | "built" | "none" (user_managed)
    seconds: float


def materialise(spec: Spec, name: str | None, project_root: Path, fp: EnvFingerprint | None = None,
                *, log: Callable[[str], None] | None = None, hold: bool = False) -> Materialised:
    """The host interpreter of environment `name`; builds the env when it is not cached.

    hold=True (runs): this process keeps the env from `runner envs prune` until it exits."""
    started = time.perf_counter()
    fp = fp or env_fingerprint(spec, name, project_root)
    say = progress.noting(log or (lambda _message: None))  # a build's steps also show as its progress
    if fp.kind == "user_managed":
        return _managed(fp, started)
    if fp.kind not in ("venv", "conda"):
        raise ValueError(f"materialise() builds host envs; {fp.kind!r} is built by its compute")
    from runner.envs.cache import ensure, hold_in_use

    if hold:
        hold_in_use(fp.digest)  # before the cache lookup: prune cannot take it away in between
    ensured = ensure(fp, _builder(spec, name, project_root, say), relocatable=fp.kind == "venv", log=say)
    bin_dir = ensured.folder / "bin"
    return Materialised(python=str(bin_dir / "python"), bin_dir=str(bin_dir), location=str(ensured.folder),
                        cache=ensured.cache, seconds=time.perf_counter() - started)


def _builder(spec: Spec, name: str | None, root: Path, log: Callable[[str], None]) -> BuildFn:
    env = environment_of(spec, name)
    if env.conda:
        from runner.envs.conda import conda_builder

        return conda_builder(env, root, log)
    from runner.envs.venv import venv_builder

    return venv_builder(env, root, log)


def _managed(fp: EnvFingerprint, started: float) -> Materialised:
    from runner.envs.python import check_interpreter

    interpreter = fp.components["interpreter"]
    check_interpreter(interpreter, fp.label)
    return Materialised(python=interpreter, bin_dir=_bin_dir_of(interpreter), location=interpreter,
                        cache="none", seconds=time.perf_counter() - started)


def _bin_dir_of(interpreter: str) -> str | None:
    """A folder to put first on PATH so that `python` and `python3` in a command mean this
    interpreter: its own folder when `python` there is it (a venv's bin/), else a folder of
    two links to it in runner's cache (/usr/bin/python may be another Python than
    /usr/bin/python3.11, or missing)."""
    folder = os.path.dirname(interpreter)
    candidate = os.path.join(folder, "python")
    if os.path.exists(candidate) and os.path.samefile(candidate, interpreter):
        return folder
    return _links_to(interpreter)


def _links_to(interpreter: str) -> str | None:
    import hashlib

    from runner.state.layout import interpreter_links

    folder = Path(interpreter_links(hashlib.sha256(interpreter.encode("utf-8")).hexdigest()[:16]))
    if not folder.is_dir():
        staging = folder.with_name(f".{folder.name}-{os.getpid()}")
        try:
            staging.mkdir(parents=True, exist_ok=True)
            for name in ("python", "python3"):
                if not (staging / name).is_symlink():
                    (staging / name).symlink_to(interpreter)
            os.rename(staging, folder)  # whole or not at all; a concurrent twin may win: fine
        except OSError:
            if not folder.is_dir():
                return None
    return str(folder)
