"""The entrypoint of a run on a Ray cluster: runs the user's command and leaves its results in storage.

Shipped into the job's working_dir as `.runner-ray/entry.py` beside `job.json` and the
tracking shim, and run there by the cluster's `python`; so it imports only the standard
library (and fsspec for storage other than file://). It:

- runs the command with the run's variables, paths of runner's run folder rewritten to
  the working folder here (`${{outputs}}`, RUNNER_OUTPUTS, staged inputs), the shim on
  PYTHONPATH, in the wrapper's process group (Ray's stop_job signals the whole tree);
- copies its output to stdout (the Ray job's log, which runner follows) and logs/std_log.txt;
- copies logs/metrics.jsonl to storage every few seconds (`runner runs metrics` live);
- at the end (or on SIGTERM) writes outputs/ and logs/ to STORAGE/RUN_ID/SUBMISSION_ID/,
  then `manifest.json` last: each file's sha256 and size, and the exit code.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = "manifest.json"
SYNC_SECONDS = 2.0
GRACE_SECONDS = 2.0  # Ray SIGKILLs 3 s after its SIGTERM: leave time to upload the logs


class Storage:
    """A folder given by URL: plain file operations for file://, fsspec for the rest."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.local = self.url[len("file://"):] if self.url.startswith("file://") else None

    def put(self, source: str, rel: str) -> None:
        if self.local is not None:
            target = os.path.join(self.local, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            temp = f"{target}.tmp-{os.getpid()}"
            with open(source, "rb") as src, open(temp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(temp, target)
            return
        import fsspec

        with open(source, "rb") as src, fsspec.open(f"{self.url}/{rel}", "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)

    def put_text(self, text: str, rel: str) -> None:
        temp = os.path.join(HERE, f".put-{os.getpid()}")
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.put(temp, rel)
        os.unlink(temp)


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def rewritten(value: str, host: str, here: str) -> str:
    return value.replace(host, here) if host else value


def command_env(job: dict, root: str) -> dict:
    env = dict(os.environ)
    for key, value in list(env.items()):
        env[key] = rewritten(value, job["run_dir"], root)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def check_python(wanted: str | None) -> str | None:
    have = ".".join(map(str, sys.version_info[:3]))
    if wanted and not (have == wanted or have.startswith(wanted + ".")):
        return f"runner: the environment asks for Python {wanted}; the cluster's Python is {have}"
    return None


def pump(stream, log_path: str) -> None:
    with open(log_path, "ab", buffering=0) as log:
        for raw in iter(stream.readline, b""):
            log.write(raw)
            sys.stdout.buffer.write(raw)
            sys.stdout.flush()


def sync_metrics(storage: Storage, root: str, prefix: str, stop: threading.Event) -> None:
    source = os.path.join(root, "logs", "metrics.jsonl")
    seen = -1
    while not stop.wait(SYNC_SECONDS):
        try:
            size = os.path.getsize(source)
            if size != seen:
                storage.put(source, f"{prefix}/logs/metrics.jsonl")
                seen = size
        except OSError:
            continue  # not written yet, or storage busy: the next round tries again


def upload(storage: Storage, root: str, prefix: str, code: int | None, status: str) -> None:
    files = {}
    for kind in ("outputs", "logs"):
        for folder, _dirs, names in os.walk(os.path.join(root, kind)):
            for name in sorted(names):
                path = os.path.join(folder, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                files[rel] = [sha256(path), os.path.getsize(path)]
                storage.put(path, f"{prefix}/{rel}")
    manifest = {"format": 1, "algorithm": "sha256", "exit_code": code, "status": status, "files": files}
    storage.put_text(json.dumps(manifest, sort_keys=True), f"{prefix}/{MANIFEST}")


def run_ranks(job: dict, root: str, argv: list, log_path: str, stopping: threading.Event) -> int:
    """A distributed run: one Ray task per rank in a placement group; the first failing code, else 0.

    `job["ranks"]` holds each rank's variables (the rank table of the distribution: RANK,
    WORLD_SIZE, LOCAL_RANK, ...). A bundle per node holds that node's processes, so that
    STRICT_SPREAD puts the nodes on different machines; a cluster with fewer live nodes
    than asked gets one packed group and a warning. MASTER_ADDR (and MASTER_PORT) become
    rank 0's node address and a port free there. The compute's resources are the ranks'
    (the entrypoint itself asks for none). Each rank's lines come back while it runs,
    through a small actor, and are written here as `[rank N] line` (Ray's own forwarding of
    worker output prefixes and deduplicates lines); each rank task sends back what it wrote
    under outputs/ and logs/, so the files of ranks on other nodes reach storage too.
    """
    import logging

    import ray
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    ray.init(log_to_driver=False, logging_level=logging.WARNING)
    ranks, nodes = job["ranks"], max(1, int(job.get("nodes", 1)))
    per_node = -(-len(ranks) // nodes)
    each = {"CPU": float(job.get("cpus_per_process") or 1), "GPU": float(job.get("gpus_per_process") or 0),
            "memory": float(job.get("memory_per_process") or 0)}
    each = {key: value for key, value in each.items() if value}
    alive = sum(1 for node in ray.nodes() if node.get("Alive"))
    strategy = "STRICT_SPREAD" if nodes > 1 else "PACK"
    if nodes > 1 and alive < nodes:
        note(log_path, f"runner: warning: {nodes} nodes asked, the cluster has {alive}: "
                       f"the ranks share the nodes there are (no STRICT_SPREAD)")
        strategy = "PACK"
    group = placement_group([{key: value * per_node for key, value in each.items()}] * nodes, strategy=strategy)
    said = False
    while not stopping.is_set():
        ready, _ = ray.wait([group.ready()], timeout=0.5)
        if ready:
            break
        if not said:  # once: a cluster that may yet grow (an autoscaler) is waited for
            said = True
            note(log_path, f"runner: waiting for the cluster to hold {len(ranks)} processes "
                           f"({', '.join(f'{k} {v:g}' for k, v in each.items())} each, {nodes} node(s))")
    if stopping.is_set():
        return -15

    def place(index: int) -> PlacementGroupSchedulingStrategy:
        return PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=index)

    master, port = ray.get(ray.remote(num_cpus=0)(_node_and_port).options(scheduling_strategy=place(0)).remote())
    lines = ray.remote(num_cpus=0)(Lines).options(scheduling_strategy=place(0)).remote()
    asked = {"num_cpus": each.get("CPU", 0), "num_gpus": each.get("GPU", 0)}
    if "memory" in each:
        asked["memory"] = each["memory"]
    task = ray.remote(max_retries=0, **asked)(_rank)
    here = ray.get_runtime_context().get_node_id()
    pending = []
    for index, variables in enumerate(ranks):
        env = dict(variables)
        if "MASTER_ADDR" in env:
            env["MASTER_ADDR"], env["MASTER_PORT"] = master, str(port)
        pending.append(task.options(scheduling_strategy=place(index // per_node))
                       .remote(job, argv, env, index, here, lines))
    return _gather(ray, pending, root, log_path, lines, stopping)


class Lines:
    """An actor the ranks send their output lines to, and the entrypoint takes them from."""

    def __init__(self) -> None:
        self.lines: list = []

    def add(self, index: int, batch: list) -> None:
        self.lines.extend((index, line) for line in batch)

    def take(self) -> list:
        taken, self.lines = self.lines, []
        return taken


def _echo(ray, lines, log_path: str) -> None:
    """The ranks' lines so far, `[rank N] ` in front, to the job's log (stdout) and std_log.txt."""
    taken = ray.get(lines.take.remote())
    if not taken:
        return
    data = b"".join(f"[rank {index}] ".encode() + (line if line.endswith(b"\n") else line + b"\n")
                    for index, line in taken)
    with open(log_path, "ab") as log:
        log.write(data)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def _add_lines(path: str, data: bytes) -> None:
    try:
        with open(path, "rb") as handle:
            seen = set(handle.read().splitlines(keepends=True))
    except OSError:
        seen = set()
    with open(path, "ab") as handle:
        handle.writelines(line for line in data.splitlines(keepends=True) if line not in seen)


def _gather(ray, pending: list, root: str, log_path: str, lines, stopping: threading.Event) -> int:
    """Each rank's files into the working folder as it ends, its lines as they come; the first rank
    to fail (or a stop asked of the job) stops the rest: a KeyboardInterrupt in each task, which
    sends its process SIGTERM, then after a grace the tasks' workers are killed."""
    index_of = {ref: index for index, ref in enumerate(pending)}
    failed, stop_by = 0, None
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=0.2)
        _echo(ray, lines, log_path)
        for ref in done:
            try:
                code, files = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 (the task died: its node went away, or it was stopped)
                code, files = (-15, {}) if stop_by is not None else (1, {})
                if stop_by is None:
                    note(log_path, f"runner: rank {index_of[ref]} did not finish: {exc}")
            for rel, data in files.items():  # from a rank on another node
                path = os.path.join(root, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                if rel == "logs/metrics.jsonl":
                    _add_lines(path, data)  # ranks sharing a node send its file each: keep each line once
                    continue
                with open(path, "wb") as handle:
                    handle.write(data)
            if code != 0 and not failed:
                failed = code
                if stop_by is None:
                    note(log_path, f"runner: rank {index_of[ref]} exited with {code}; stopping the other ranks")
        if pending and stop_by is None and (failed or stopping.is_set()):
            failed = failed or -15
            stop_by = time.monotonic() + GRACE_SECONDS / 2
            for ref in pending:
                ray.cancel(ref)  # KeyboardInterrupt in the task: it stops its process
        if pending and stop_by is not None and time.monotonic() > stop_by:
            stop_by = float("inf")
            for ref in pending:
                ray.cancel(ref, force=True)
    _echo(ray, lines, log_path)
    return failed


def _node_and_port() -> tuple:
    import socket

    import ray

    with socket.socket() as probe:
        probe.bind(("", 0))
        return ray.util.get_node_ip_address(), probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the rank's process before exec: SIGKILL when the task's worker dies (force-stopped), Linux only."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _rank(job: dict, argv: list, variables: dict, index: int, driver_node: str, lines) -> tuple:
    """One rank, in the job's working_dir on its node: its exit code and, when that node is not
    the driver's (whose working folder is this one), the files it wrote: outputs/, its log, metrics.
    Its output goes to logs/rank-N.txt and, in batches, to the entrypoint through `lines`."""
    import ray

    root = os.getcwd()
    env = command_env(job, root)
    env.update({k: rewritten(str(v), job["run_dir"], root) for k, v in variables.items()})
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    child = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    batch: list = []
    lock = threading.Lock()
    finished = threading.Event()

    def send() -> None:
        with lock:
            taken, batch[:] = list(batch), []
        if taken:
            lines.add.remote(index, taken)  # in order: a caller's calls to an actor run in the order made

    def sender() -> None:
        while not finished.wait(0.2):
            send()

    def read() -> None:
        with open(os.path.join(root, "logs", f"rank-{index}.txt"), "ab", buffering=0) as log:
            for raw in iter(child.stdout.readline, b""):
                log.write(raw)
                with lock:
                    batch.append(raw)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    flusher = threading.Thread(target=sender, daemon=True)
    flusher.start()
    try:
        code = child.wait()
    except KeyboardInterrupt:  # the entrypoint stops the ranks: a rank failed, or the job is being stopped
        child.terminate()
        try:
            code = child.wait(GRACE_SECONDS / 2)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    reader.join(timeout=5)
    finished.set()
    flusher.join(timeout=5)
    send()
    ray.get(lines.add.remote(index, []))  # the last batch has reached the entrypoint's actor
    if ray.get_runtime_context().get_node_id() == driver_node:
        return code, {}
    files = {}
    wanted = [os.path.join(root, "logs", name) for name in (f"rank-{index}.txt", "metrics.jsonl")]
    for folder, _dirs, names in os.walk(os.path.join(root, "outputs")):
        wanted += [os.path.join(folder, name) for name in names]
    for path in wanted:
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root).replace(os.sep, "/")] = handle.read()
    return code, files


def note(log_path: str, message: str) -> None:
    print(message, flush=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(message + "\n")


def main() -> int:
    with open(os.path.join(HERE, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    root = os.getcwd()
    for kind in ("outputs", "logs"):
        os.makedirs(os.path.join(root, kind), exist_ok=True)
    storage, prefix = Storage(job["storage"]), job["prefix"]
    log_path = os.path.join(root, "logs", "std_log.txt")
    problem = check_python(job.get("python"))
    if problem:
        note(log_path, problem)
        upload(storage, root, prefix, 1, "failed")
        return 1
    argv = [rewritten(arg, job["run_dir"], root) for arg in job["argv"]]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    syncer = threading.Thread(target=sync_metrics, args=(storage, root, prefix, stopping), daemon=True)
    if job.get("ranks"):
        syncer.start()
        code = run_ranks(job, root, argv, log_path, stopping)
        stopped = stopping.is_set()
        stopping.set()
        upload(storage, root, prefix, code, "stopped" if stopped else "exited")
        return code if code >= 0 else 128 - code
    child = subprocess.Popen(argv, cwd=root, env=command_env(job, root), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reader = threading.Thread(target=pump, args=(child.stdout, log_path), daemon=True)
    reader.start()
    syncer.start()
    while child.poll() is None and not stopping.is_set():
        time.sleep(0.1)
    stopped = stopping.is_set()
    if stopped:
        try:
            child.wait(GRACE_SECONDS / 2)
        except subprocess.TimeoutExpired:
            child.kill()
    code = child.wait()
    reader.join(timeout=GRACE_SECONDS / 2)
    stopping.set()
    upload(storage, root, prefix, code, "stopped" if stopped else "exited")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
