"""Building an environment image: render templates/docker/Dockerfile.j2, stage its context, build.

The build context is a throwaway folder holding only what the Dockerfile copies
(requirements file, conda file, CA bundle): the project is never sent to the daemon,
so a code change cannot touch the image. Build output goes to the env's build log;
each `Step i/n` line is reported as progress.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner import progress
from runner.envs.ca_bundle import IN_IMAGE
from runner.envs.errors import EnvBuildFailed

if TYPE_CHECKING:
    from runner.envs.fingerprint import EnvFingerprint
    from runner.spec.types import Environment

PREFIX = "/opt/runner-env"  # the venv (or conda prefix) inside every env image
Log = Callable[[str], None]


def render_dockerfile(env: Environment, fp: EnvFingerprint, base: str, *, ca: bool) -> str:
    """The Dockerfile of `fp`'s image, layered on image `base`."""
    import jinja2

    from runner import __version__
    from runner.resources import templates_dir

    loader = jinja2.FileSystemLoader(str(templates_dir() / "docker"))
    template = jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True,
                                  keep_trailing_newline=True, autoescape=False).get_template("Dockerfile.j2")
    docker = env.docker
    return template.render(
        runner_version=__version__, name=fp.label, fingerprint=fp.digest, base=base, prefix=PREFIX,
        build_args=sorted(docker.build_args) if docker else [], ca_bundle=ca, ca_path=IN_IMAGE,
        apt=" ".join(shlex.quote(p) for p in (docker.apt if docker else ())), conda=bool(env.conda),
        python=env.python or "", pip="".join(" " + shlex.quote(p) for p in env.pip),
        requirements=shlex.quote(f"/tmp/runner/req/{env.requirements}") if env.requirements else "")


def stage_context(folder: Path, env: Environment, root: Path, dockerfile: str, ca: Path | None) -> None:
    """Write the Dockerfile and copy the few files it needs into the empty folder `folder`."""
    from runner.envs.reqfiles import requirement_files

    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    if env.requirements:  # with its -r/-c includes, at their project paths, so the includes resolve
        for rel in requirement_files(root, env.requirements):
            (folder / "req" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, folder / "req" / rel)
    if env.conda:
        shutil.copyfile(root / env.conda, folder / "environment.yml")
    if ca is not None:
        shutil.copyfile(ca, folder / "ca-bundle.crt")


def build(client: Any, context: Path, tag: str, handle: IO[str], logfile: Path, log: Log, *,
          dockerfile: Path | None = None, buildargs: dict[str, str] | None = None,
          labels: dict[str, str] | None = None) -> None:
    """`docker build` through the daemon's API, output to the log; EnvBuildFailed on an error."""
    import docker.errors

    try:
        stream = client.api.build(path=str(context), dockerfile=str(dockerfile) if dockerfile else None, tag=tag,
                                  rm=True, forcerm=True, pull=False, decode=True, buildargs=buildargs or {},
                                  labels=labels or {})
        with progress.phase(f"building image {tag}"):
            _follow(stream, handle, logfile, log)
    except docker.errors.APIError as exc:
        raise EnvBuildFailed(f"docker build of {tag} failed: {exc.explanation or exc}; "
                             f"build log: {logfile}") from None


def _follow(stream: Iterable[dict[str, Any]], handle: IO[str], logfile: Path, log: Log) -> None:
    last: list[str] = []
    for chunk in stream:
        text = str(chunk.get("stream") or chunk.get("status") or "")
        if text:
            handle.write(text if text.endswith("\n") else text + "\n")
            last = (last + [line for line in text.splitlines() if line.strip()])[-5:]
            if text.startswith("Step "):
                log(text.strip())
                progress.note(text.split(" :")[0].lower())  # `step 4/7`
        if "error" in chunk:
            handle.write(f"ERROR: {chunk['error']}\n")
            handle.flush()
            shown = "\n  ".join(last + [str(chunk["error"]).strip()])
            raise EnvBuildFailed(f"docker build failed:\n  {shown}\nbuild log: {logfile}")
    handle.flush()


def push(client: Any, repository: str, tag: str, handle: IO[str]) -> str | None:
    """Push `repository:tag`; the error text when it fails (a shared cache is a bonus, not a need)."""
    import docker.errors

    try:
        for chunk in client.images.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                return str(chunk["error"])
            handle.write(str(chunk.get("status", "")) + "\n")
    except docker.errors.APIError as exc:
        return str(exc.explanation or exc)
    return None


def pull(client: Any, repository: str, tag: str) -> Any:
    """The image `repository:tag` pulled from its registry, or None when it is not there."""
    import docker.errors

    try:
        return client.images.pull(repository, tag=tag)
    except docker.errors.APIError:  # NotFound, unknown manifest, registry down: build instead
        return None
