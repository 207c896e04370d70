"""The local target: a subprocess in its own process group, output teed to the log and a sink."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import IO

from runner.compute.base import Launch, LineSink
from runner.compute.output import RunOutput, Stream, in_background, single

GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL, so a script can save what it has


class LocalHandle:
    def __init__(self, process: subprocess.Popen[bytes], pump: threading.Thread, output: RunOutput) -> None:
        self.process = process
        self.pgid: int | None = process.pid  # start_new_session: the group id is the child's pid
        self.pump = pump
        self.output = output

    @property
    def reason(self) -> str | None:
        """Why the run was stopped, when its exit code alone would not say (its log could not be written)."""
        return self.output.reason

    def wait(self, timeout: float | None) -> int | None:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.pump.join()
        return code

    def cancel(self) -> None:
        kill_group(self.process.pid, self.process)
        self.pump.join(timeout=GRACE_SECONDS)


def kill_group(pgid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the whole group, SIGKILL what is left after the grace period."""
    for sig, pause in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and _group_alive(pgid, process):
            time.sleep(0.05)
        if not _group_alive(pgid, process):
            return


def _group_alive(pgid: int, process: subprocess.Popen[bytes] | None) -> bool:
    if process is not None:
        process.poll()  # reap the leader so a zombie does not count as alive
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class LocalTarget:
    def prepare(self, launch: Launch) -> None:
        return None

    def start(self, launch: Launch, on_line: LineSink) -> LocalHandle:
        env = dict(launch.env)
        if launch.bin_dir:
            env["PATH"] = launch.bin_dir + os.pathsep + env.get("PATH", os.defpath)
        process = subprocess.Popen(launch.argv, cwd=launch.run_dir, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        assert process.stdout is not None
        output, feeder = single(launch.log_path, on_line, lambda reason: in_background(kill_group, process.pid, process),
                                launch.masker)
        pump = threading.Thread(target=tee, args=(process.stdout, output, feeder), daemon=True)
        pump.start()
        return LocalHandle(process, pump, output)

    def collect(self, launch: Launch) -> None:
        return None


def tee(stream: IO[bytes], output: RunOutput, feeder: Stream) -> None:
    """Copy the run's output to its log (bytes as they are) and to the sink (as text), to the end."""
    try:
        for raw in iter(stream.readline, b""):
            feeder.feed(raw)
        feeder.close()
    finally:
        output.close()
        stream.close()
