"""Benchmark: a cold host venv build against a cache hit, with `python -c pass` as the yardstick.

Run: python benchmarks/envs.py. Target (issue 6): a cache hit (fingerprint + lookup)
adds at most 0.05 s to a run. Builds go to a throwaway RUNNER_CACHE_DIR; uv's own
download cache is the user's, so "cold" means a new env, not a first-ever download.
The docker half (when a daemon answers): an env image cache hit (fingerprint with the base
image's id + one `images.get`) against `docker image inspect` of the same tag run as a
command. It builds one small image on $RUNNER_BENCH_BASE_IMAGE (default runner-base:bookworm,
`.ci/run` provisions it) and removes it at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from runner.envs import env_fingerprint, materialise
from runner.spec.models import Spec

ROUNDS = 5


def python_pass() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def fresh_env(root: Path, packages: str) -> Spec:
    """A spec whose env no cache holds yet: a requirements file with a unique comment."""
    (root / "requirements.txt").write_text(f"# {uuid.uuid4().hex}\n{packages}")
    return Spec.model_validate({"version": 1, "environments": {"e": {"requirements": "requirements.txt"}}})


def cold(root: Path, packages: str) -> float:
    spec = fresh_env(root, packages)
    start = time.perf_counter()
    assert materialise(spec, "e", root).cache == "built"
    return time.perf_counter() - start


def hit(root: Path) -> float:
    spec = fresh_env(root, "")
    materialise(spec, "e", root)
    start = time.perf_counter()
    fp = env_fingerprint(spec, "e", root)  # what a run pays: fingerprint, then the lookup
    assert materialise(spec, "e", root, fp).cache == "hit"
    return time.perf_counter() - start


def docker_part(root: Path) -> None:
    from runner.envs.docker import ensure_image
    from runner.envs.docker_client import DockerUnavailable, docker_client

    base = os.environ.get("RUNNER_BENCH_BASE_IMAGE", "runner-base:bookworm")
    spec = Spec.model_validate({"version": 1, "environments": {"e": {
        "docker": {"image": base, "build_args": {"BENCH": uuid.uuid4().hex}}}}})
    try:
        built = ensure_image(spec, "e", root)
    except DockerUnavailable as exc:
        print(f"docker part skipped: {exc}")
        return
    try:
        inspect = min(_timed(["docker", "image", "inspect", built.image]) for _ in range(ROUNDS))
        cached = min(_docker_hit(spec, root) for _ in range(ROUNDS))
    finally:
        docker_client().images.remove(built.image, force=True)
    print(f"docker image inspect (command):  {inspect:.4f} s")
    print(f"image cache hit (fingerprint+get): {cached:.4f} s  ({cached / inspect:.2f}x docker image inspect)")
    print(f"target: image cache hit <= 0.05 s: {'met' if cached <= 0.05 else 'MISSED'}")


def _docker_hit(spec: Spec, root: Path) -> float:
    from runner.envs.docker import docker_fingerprint, ensure_image

    start = time.perf_counter()
    fp = docker_fingerprint(spec, "e", root)  # what a run pays: base image id, fingerprint, one lookup
    assert ensure_image(spec, "e", root, fp).cache == "hit"
    return time.perf_counter() - start


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RUNNER_CACHE_DIR"] = str(Path(tmp) / "cache")
        root = Path(tmp)
        bare = min(python_pass() for _ in range(ROUNDS))
        cold_bare = min(cold(root, "") for _ in range(ROUNDS))
        cold_six = min(cold(root, "six\n") for _ in range(ROUNDS))
        cached = min(hit(root) for _ in range(ROUNDS))
    print(f"python -c pass:                  {bare:.4f} s")
    print(f"cold venv build (no packages):   {cold_bare:.4f} s  ({cold_bare / bare:.1f}x python -c pass)")
    print(f"cold venv build (six):           {cold_six:.4f} s  ({cold_six / bare:.1f}x python -c pass)")
    print(f"cache hit (fingerprint+lookup):  {cached:.4f} s  ({cached / bare:.2f}x python -c pass)")
    print(f"target: cache hit <= 0.05 s: {'met' if cached <= 0.05 else 'MISSED'}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RUNNER_CACHE_DIR"] = str(Path(tmp) / "cache")
        docker_part(Path(tmp))


if __name__ == "__main__":
    main()
