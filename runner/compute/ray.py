"""The ray target: a run submitted to an existing Ray cluster through the Ray Jobs API.

The run folder (the staged snapshot, staged inputs, and `.runner-ray/`: the entry wrapper,
the tracking shim and `job.json`) becomes the job's `working_dir`; the environment its
`runtime_env` (`runner.compute.ray_env`); the compute's cpus/gpus/memory the entrypoint's
resources. The submission id (`raysubmit_<run id>_<nonce>`) and where the run leaves its
results are recorded with the run, so a later apply finds the job again (`attach`).
While it runs, the handle follows the job's log (`tail_job_logs`) into logs/std_log.txt
and copies the metrics the wrapper writes to storage into logs/metrics.jsonl. After the
end, `collect` fetches outputs/ and logs/ from storage, each checked against the sha256
the wrapper recorded in `manifest.json`.

`ray` is imported only here, and only when a run is submitted or followed: plan checks a
cluster with a plain HTTP request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.compute.base import Launch, LineSink
from runner.compute.output import RunOutput
from runner.errors import RunnerError

if TYPE_CHECKING:
    from runner.masking import Masker
    from runner.spec.types import Compute

RAY_EXTRA = "pip install 'train-runner[ray]'"
CHECK_TIMEOUT = 3.0  # seconds plan waits for a cluster's answer
ENTRY_DIR = ".runner-ray"
MANIFEST = "manifest.json"
STOPPED = "stopped"  # in ENTRY_DIR: runner asked Ray to stop the job
POLL_SECONDS = 0.5
TAIL_GRACE_SECONDS = 1.0  # after the end, for the last lines of the followed log (the websocket closes late)
STOP_WAIT_SECONDS = 30.0  # Ray SIGKILLs 3 s after its SIGTERM; the supervisor may take longer to say so
SILENCE_SECONDS = 60.0  # how long a cluster may fail status queries before runner gives the job up
ENDED = ("SUCCEEDED", "FAILED", "STOPPED")


class RayError(RunnerError):
    """The cluster refused a job, does not answer, or left no results in storage."""


@dataclass(frozen=True)
class Remote:
    """Where a run lives on a cluster: recorded with the run (`runs.remote`), enough to find it again."""

    submission_id: str
    address: str
    storage: str
    prefix: str  # the run's folder in storage: RUN_ID/SUBMISSION_ID

    def as_json(self) -> str:
        return json.dumps({"type": "ray", **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Remote:
        data = json.loads(text)
        return cls(data["submission_id"], data["address"], data["storage"], data["prefix"])


def address_of(compute: Compute) -> str:
    """The dashboard URL: the compute's `address:`, else $RAY_ADDRESS; http:// when no scheme is given."""
    address = compute.address or os.environ.get("RAY_ADDRESS", "")
    if not address:
        raise RayError("a ray compute needs `address:` (the Ray dashboard, e.g. http://127.0.0.1:8265) "
                       "or RAY_ADDRESS in the environment")
    return address if "://" in address else f"http://{address}"


def check_extra() -> None:
    try:
        found = importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.job_submission")
    except (ImportError, ValueError):  # a broken or blocked install
        found = False
    if not found:
        raise RayError(f"a ray compute needs Ray's job client, which is not installed: {RAY_EXTRA}")


def check_cluster(address: str, timeout: float = CHECK_TIMEOUT) -> None:
    """Raise unless the Jobs API at `address` answers within `timeout` seconds."""
    try:
        with urllib.request.urlopen(f"{address.rstrip('/')}/api/version", timeout=timeout) as reply:
            json.loads(reply.read() or b"{}")
    except (OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise RayError(f"the Ray cluster at {address} does not answer ({why}); start it, or fix `address:` "
                       f"/ RAY_ADDRESS") from None


def client(address: str) -> Any:
    import logging

    from ray.job_submission import JobSubmissionClient

    # Its INFO lines ("Uploading package ...", "WebSocket closed ...") are not ours. Ray's modules
    # set their own loggers' levels, so the filter goes on the handler they all reach too.
    quiet = logging.getLogger("ray")
    quiet.setLevel(logging.WARNING)
    for handler in quiet.handlers:
        handler.setLevel(max(handler.level, logging.WARNING))

    try:
        return JobSubmissionClient(address)
    except (OSError, RuntimeError, ValueError) as exc:  # OSError: requests' connection errors too
        raise RayError(f"the Ray cluster at {address} does not answer: {exc}") from None


class RayTarget:
    timeout_status = "canceled"  # a job stopped at its timeout ends canceled, as Azure ML's do

    def prepare(self, launch: Launch) -> None:
        if launch.compute is None or launch.compute.storage is None:
            raise RayError(f"job {launch.job}: a ray compute needs `storage:`")

    def start(self, launch: Launch, on_line: LineSink) -> RayHandle:
        from runner.compute.ray_env import runtime_env

        compute = launch.compute
        assert compute is not None and compute.storage is not None
        address = address_of(compute)
        sid = f"raysubmit_{launch.run_id}_{uuid.uuid4().hex[:12]}"
        remote = Remote(sid, address, compute.storage, f"{launch.run_id}/{sid}")
        launch = with_ranks(launch)
        ship_entry(launch, remote)
        jobs = client(address)
        os.environ["RAY_RUNTIME_ENV_IGNORE_GITIGNORE"] = "1"  # the snapshot already applied the ignore rules
        # A distributed run's resources are its ranks' (a placement group the entrypoint reserves):
        # asking them for the entrypoint too would hold them twice, and a cluster of just that size
        # could never start the ranks.
        asked = {} if launch.distribution is not None else resources(compute)
        try:
            jobs.submit_job(entrypoint=f"python -u {ENTRY_DIR}/entry.py", submission_id=sid,
                            runtime_env=runtime_env(launch), **asked)
        except (RuntimeError, ValueError, OSError) as exc:
            raise RayError(f"job {launch.job}: the Ray cluster at {address} refused the job: {exc}") from None
        return RayHandle(jobs, remote, Path(launch.log_path), on_line, masker=launch.masker)

    def collect(self, launch: Launch) -> None:
        folder = Path(launch.run_dir) / ENTRY_DIR
        remote = Remote(**json.loads((folder / "remote.json").read_text()))
        if (folder / STOPPED).exists() and read_manifest(remote) is None:
            return  # stopped before the wrapper could upload: keep the log runner followed
        fetch(remote, Path(launch.run_dir))


def resources(compute: Compute) -> dict[str, Any]:
    from runner.compute.docker_opts import size_bytes

    found: dict[str, Any] = {}
    if compute.cpus:
        found["entrypoint_num_cpus"] = compute.cpus
    if compute.gpus:
        found["entrypoint_num_gpus"] = compute.gpus
    if compute.memory:
        found["entrypoint_memory"] = size_bytes(compute.memory)
    return found


def with_ranks(launch: Launch) -> Launch:
    """A distributed launch carries its rank table to the wrapper: each rank's variables (the
    master's address and port are filled in on the cluster, from rank 0's node), the node count,
    and what each rank's task asks for: the compute's `cpus` (1 in all when unset), `gpus` and
    `memory`, shared among the ranks."""
    dist = launch.distribution
    if dist is None:
        return launch
    from runner.compute.ranks import ports_needed, rank_table

    table = rank_table(dist, launch.run_id, ["0.0.0.0"] * dist.nodes, [0] * ports_needed(dist))
    asked = resources(launch.compute) if launch.compute is not None else {}
    world = dist.world_size
    runtime = {**launch.runtime, "ranks": [entry.env for entry in table], "nodes": dist.nodes,
               "cpus_per_process": asked.get("entrypoint_num_cpus", 1) / world,
               "gpus_per_process": asked.get("entrypoint_num_gpus", 0) / world,
               "memory_per_process": asked.get("entrypoint_memory", 0) // world}
    return dataclasses.replace(launch, runtime=runtime)


def ship_entry(launch: Launch, remote: Remote) -> None:
    """`.runner-ray/`: the wrapper, the tracking shim and job.json (no variables: secrets travel
    only in the runtime_env of the submission)."""
    from runner.envs import tracking_shim

    folder = launch.run_dir / ENTRY_DIR
    shutil.copytree(tracking_shim(launch.capture), folder, dirs_exist_ok=True)  # runner.tracking (and azureml)
    shutil.copyfile(Path(__file__).with_name("ray_entry.py"), folder / "entry.py")
    job = {"argv": launch.argv, "run_dir": str(launch.run_dir), "storage": remote.storage, "prefix": remote.prefix,
           "python": launch.runtime.get("python"), "ranks": launch.runtime.get("ranks") or [],
           "nodes": launch.runtime.get("nodes", 1), "cpus_per_process": launch.runtime.get("cpus_per_process", 1),
           "gpus_per_process": launch.runtime.get("gpus_per_process", 0),
           "memory_per_process": launch.runtime.get("memory_per_process", 0)}
    (folder / "job.json").write_text(json.dumps(job, sort_keys=True))
    (folder / "remote.json").write_text(json.dumps(asdict(remote), sort_keys=True))


class RayHandle:
    """A submitted job: its log followed into logs/std_log.txt, its metrics copied, its end awaited."""

    def __init__(self, jobs: Any, remote: Remote, log_path: Path, on_line: LineSink, *, fresh_log: bool = False,
                 masker: Masker | None = None) -> None:
        self.jobs, self.remote, self.log_path, self.on_line = jobs, remote, log_path, on_line
        self.masker = masker  # the run's secret values
        self.pgid: int | None = None
        self.remote_id = remote.submission_id
        self.record = {"remote_id": remote.submission_id, "remote": remote.as_json()}
        self.reason: str | None = None
        self.status: str | None = None
        self.code: int | None = None
        if fresh_log:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_bytes(b"")  # the job's log is followed again from its start
        self.tail = threading.Thread(target=self._tail, daemon=True)
        self.tail.start()
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.poller.start()

    def _tail(self) -> None:
        """The job's log into std_log.txt and its lines to the sink, through the one run-output
        writer (masked as a local run's are)."""
        output = RunOutput(self.log_path, self.on_line, masker=self.masker)
        stream = output.stream(None)

        async def follow() -> None:
            async for chunk in self.jobs.tail_job_logs(self.remote.submission_id):
                stream.feed(chunk.encode())

        with contextlib.suppress(Exception):  # the connection closes when the job ends or is gone
            asyncio.run(follow())
        stream.close()
        output.close()

    def _poll(self) -> None:
        silent_since: float | None = None  # the first of the status queries failing in a row
        while True:
            try:
                status = str(self.jobs.get_job_status(self.remote.submission_id).value)
            except Exception as exc:  # noqa: BLE001 (a connection error, or the head no longer knows the job)
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since >= SILENCE_SECONDS or _job_unknown(exc):
                    self._give_up(exc)
                    return
                time.sleep(POLL_SECONDS)
                continue
            silent_since = None
            copy_metrics(self.remote, self.log_path.parent)
            if status in ENDED:
                self._ended(status)
                return
            time.sleep(POLL_SECONDS)

    def _give_up(self, exc: Exception) -> None:
        """The run fails; its job, if the cluster still runs it, is asked to stop (not left running unowned)."""
        try:
            self.jobs.stop_job(self.remote.submission_id)
            after = "runner asked the cluster to stop it"
        except Exception:  # noqa: BLE001 (the cluster is gone: nothing to stop, or nothing that answers)
            after = "the cluster did not take a stop request either"
        self.status, self.reason = "FAILED", f"lost the Ray job {self.remote.submission_id}: {exc}; {after}"

    def _ended(self, status: str) -> None:
        manifest = read_manifest(self.remote)
        self.code = manifest.get("exit_code") if manifest else None
        if status == "FAILED" and self.code in (None, 0):
            info = self.jobs.get_job_info(self.remote.submission_id)
            self.reason = f"the Ray job failed: {info.message or 'no message'}"
            self.code = 1 if self.code is None else self.code
        if status == "STOPPED" and self.code is None:
            self.code = -15
        self.status = status

    def wait(self, timeout: float | None) -> int | None:
        self.poller.join(timeout)
        if self.poller.is_alive():
            return None
        self.tail.join(timeout=TAIL_GRACE_SECONDS)  # the log also comes back whole from storage
        return self.code if self.code is not None else 1

    def cancel(self) -> None:
        with contextlib.suppress(OSError):
            (self.log_path.parent.parent / ENTRY_DIR / STOPPED).touch()
        with contextlib.suppress(Exception):  # already ended, or the cluster is gone
            self.jobs.stop_job(self.remote.submission_id)
        self.poller.join(timeout=STOP_WAIT_SECONDS)


def _job_unknown(exc: Exception) -> bool:
    """The Jobs API answered, and the job is not there (a restarted head): waiting will not bring it back."""
    return isinstance(exc, RuntimeError) and "status code 404" in str(exc)


def attach(remote: Remote, run_dir: Path, on_line: LineSink,
           masker: Masker | None = None) -> tuple[RayHandle | None, str | None]:
    """Follow a recorded job again: (its handle, None), or (None, why it cannot be) when the job is gone."""
    jobs = client(remote.address)
    try:
        jobs.get_job_status(remote.submission_id)
    except (OSError, RuntimeError) as exc:  # OSError: requests' connection errors
        if not _job_unknown(exc):  # no answer, or a failing head: ask again at the next apply
            raise RayError(f"the Ray cluster at {remote.address} does not answer ({exc})") from None
        return None, f"its Ray job {remote.submission_id} is gone from {remote.address} ({exc})"
    (run_dir / ENTRY_DIR).mkdir(parents=True, exist_ok=True)
    (run_dir / ENTRY_DIR / "remote.json").write_text(json.dumps(asdict(remote), sort_keys=True))
    return RayHandle(jobs, remote, run_dir / "logs" / "std_log.txt", on_line, fresh_log=True, masker=masker), None


def follow_logs(remote_json: str, write: Any, masker: Masker) -> None:
    """`runner runs logs -f` of a run on a cluster: the job's log from the cluster, until it
    ends, its secret values masked."""
    remote = Remote.from_json(remote_json)
    jobs = client(remote.address)
    masking = masker.stream()

    async def follow() -> None:
        async for chunk in jobs.tail_job_logs(remote.submission_id):
            write(masking.feed(chunk.encode()))
        write(masking.flush())

    try:
        asyncio.run(follow())
    except RuntimeError as exc:
        raise RayError(f"cannot follow {remote.submission_id} on {remote.address}: {exc}") from None


# Storage: plain files for file://, fsspec for the rest.

def _open(remote: Remote, rel: str) -> Any:
    url = f"{remote.storage}/{remote.prefix}/{rel}"
    if url.startswith("file://"):
        return open(url[len("file://"):], "rb")
    try:
        import fsspec
    except ImportError:
        raise RayError(f"storage {remote.storage} needs fsspec and its driver (e.g. s3fs) on this machine") from None
    return fsspec.open(url, "rb").open()


def read_manifest(remote: Remote) -> dict[str, Any] | None:
    try:
        with _open(remote, MANIFEST) as handle:
            return json.loads(handle.read())
    except (OSError, ValueError):
        return None


def copy_metrics(remote: Remote, logs: Path) -> None:
    """The metrics the wrapper has put in storage so far, into the run folder (`runs metrics` reads it)."""
    try:
        with _open(remote, "logs/metrics.jsonl") as handle:
            data = handle.read()
    except OSError:
        return
    target = logs / "metrics.jsonl"
    with contextlib.suppress(OSError):
        if target.exists() and target.stat().st_size == len(data):
            return
        temp = target.with_name(f".metrics-{os.getpid()}.tmp")
        temp.write_bytes(data)
        os.replace(temp, target)


def fetch(remote: Remote, run_dir: Path) -> None:
    """outputs/ and logs/ from storage into the run folder, each file checked against its sha256."""
    manifest = read_manifest(remote)
    if manifest is None:
        raise RayError(f"the Ray job {remote.submission_id} left no results in {remote.storage}/{remote.prefix}: "
                       f"is `storage:` the same place for the cluster and for this machine?")
    for rel, (digest, size) in sorted(manifest["files"].items()):
        if rel.startswith("/") or ".." in rel.split("/") or rel.split("/")[0] not in ("outputs", "logs"):
            raise RayError(f"storage manifest of {remote.submission_id} names {rel!r}, outside outputs/ and logs/")
        target = run_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.fetch")
        sha = hashlib.sha256()
        with _open(remote, rel) as src, open(temp, "wb") as dst:
            while chunk := src.read(1 << 20):
                sha.update(chunk)
                dst.write(chunk)
        if sha.hexdigest() != digest or temp.stat().st_size != size:
            temp.unlink()
            raise RayError(f"{rel} in {remote.storage}/{remote.prefix} does not match the digest its run recorded")
        os.replace(temp, target)
