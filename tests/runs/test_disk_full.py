"""A full disk (issue 17): the run fails within seconds with one line naming what was being
written, its status is recorded, nothing hangs, and after space is freed the next apply works.

Each test mounts a small tmpfs holding the project and its `.runner/` (root only; under
CI=true it must run).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ProjectDir, run_console

DISK_MB = 24
APPLY_TIMEOUT = 120  # far beyond what a clean failure takes; the bug was a hang of 600 s and more


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the full-disk tests need root to mount a tmpfs, and CI runs as root")
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _project(disk: Path, command: str, files: dict | None = None) -> ProjectDir:
    project = ProjectDir(disk / "proj")
    project.root.mkdir()
    project.gen({"train.yaml": f"version: 1\njobs:\n  fill:\n    command: {json.dumps(command)}\n", **(files or {})})
    project.commit()
    return project


def _fill(disk: Path, leave_mb: float) -> Path:
    """A file taking all the free space of `disk` but `leave_mb`."""
    filler = disk / "filler"
    stats = os.statvfs(disk)
    size = max(0, stats.f_bavail * stats.f_frsize - int(leave_mb * 2**20))
    with open(filler, "wb") as handle:
        try:
            while size > 0:
                size -= handle.write(b"\0" * min(size, 2**20))
        except OSError:
            pass  # the disk is full already: that is the point
    return filler


def _apply(project: ProjectDir) -> subprocess.CompletedProcess[str]:
    return run_console("apply", "-C", project.root, timeout=APPLY_TIMEOUT)


def _runs(project: ProjectDir) -> list[dict]:
    done = run_console("runs", "list", "--json", "-C", project.root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _assert_clean_failure(done: subprocess.CompletedProcess[str], what: str) -> None:
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert f"no space left on device while writing {what}" in text, text
    assert "Traceback" not in text and "internal error" not in text, text
    assert "network filesystem" not in text, text


def _recovers(project: ProjectDir, filler: Path, before: str = "failed") -> None:
    """Once space is freed, the next apply works without anyone touching .runner/."""
    filler.unlink()
    project.gen({"train.yaml": "version: 1\njobs:\n  fill:\n    command: echo recovered\n"})
    done = _apply(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(r["status"] for r in _runs(project)) == sorted(["completed", before])


@pytest.mark.parametrize("megabytes", [20, 40])
def test_a_job_flooding_its_log_fails_instead_of_hanging(small_disk: Path, megabytes: int) -> None:
    line = "x" * 999
    project = _project(small_disk, f"python3 -c 'import sys\nfor _ in range({megabytes} * 1024): print(\"{line}\")'")
    filler = _fill(small_disk, leave_mb=3)
    done = _apply(project)
    _assert_clean_failure(done, "logs/std_log.txt")
    runs = _runs(project)
    assert [r["status"] for r in runs] == ["failed"], runs
    assert _processes_in(small_disk) == []  # the job was stopped, not left writing
    _recovers(project, filler)


def _processes_in(folder: Path) -> list[str]:
    """Pids of processes whose working directory is under `folder`."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(os.readlink(cwd)).is_relative_to(folder):
                found.append(cwd.parent.name)
        except OSError:
            continue
    return found


def test_a_job_filling_outputs_fails_and_leaves_room(small_disk: Path) -> None:
    script = ("import os\nwith open(os.path.join(os.environ['RUNNER_OUTPUTS'], 'big.bin'), 'wb') as f:\n"
              "    try:\n        for _ in range(50):\n            f.write(b'1' * 2**20)\n"
              "    except OSError:\n        pass\n")  # a script that ignores the full disk: collecting it must not
    project = _project(small_disk, "python3 fill.py", {"fill.py": script})
    filler = _fill(small_disk, leave_mb=6)
    done = _apply(project)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "no space left on device while writing" in text, text
    assert "Traceback" not in text and "internal error" not in text, text
    runs = _runs(project)
    assert [r["status"] for r in runs] == ["failed"], runs
    run_dir = project.root / ".runner" / "runs" / runs[0]["id"]
    assert not (run_dir / "outputs" / "big.bin").exists()  # the uncollected file went, to leave room
    _recovers(project, filler)


def test_a_full_disk_before_apply_is_one_line(small_disk: Path) -> None:
    project = _project(small_disk, "echo hello")
    assert _apply(project).returncode == 0  # .runner/ exists, with its lock file
    project.gen({"train.yaml": "version: 1\njobs:\n  fill:\n    command: echo changed\n"})
    filler = _fill(small_disk, leave_mb=0)
    done = _apply(project)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "no space left on device" in text, text
    assert "Traceback" not in text and "internal error" not in text and "network filesystem" not in text, text
    assert len([line for line in done.stderr.splitlines() if "no space left" in line]) == 1, text
    _recovers(project, filler, before="completed")


FLOOD = "import sys\nfor _ in range(40 * 1024): print('y' * 999)\n"


def _distributed(disk: Path, compute: str = "") -> ProjectDir:
    project = ProjectDir(disk / "proj")
    project.root.mkdir()
    project.gen({"flood.py": FLOOD, "train.yaml": "version: 1\n" + compute + "jobs:\n  fill:\n    command: python3 flood.py\n"
                 "    distribution: {type: pytorch, processes_per_node: 2}\n" + ("    compute: box\n" if compute else "")})
    project.commit()
    return project


def test_ranks_flooding_their_logs_fail_the_run_and_are_stopped(small_disk: Path) -> None:
    """A distributed run's lines go to std_log.txt and each rank's log: a full disk ends it cleanly too."""
    project = _distributed(small_disk)
    filler = _fill(small_disk, leave_mb=3)
    done = _apply(project)
    _assert_clean_failure(done, "logs/")
    assert [r["status"] for r in _runs(project)] == ["failed"]
    assert _processes_in(small_disk) == []  # every rank stopped
    _recovers(project, filler)


def test_a_docker_run_flooding_its_log_fails_and_its_container_goes(small_disk: Path) -> None:
    """The docker compute bind-mounts the run folder: its log, written by runner, meets the same full disk."""
    from tests.docker_support import base_image, containers_of, remove_containers

    image = base_image()
    project = ProjectDir(small_disk / "proj")
    project.root.mkdir()
    project.gen({"flood.py": FLOOD, "train.yaml": (
        f"version: 1\nenvironments:\n  e: {{docker: {{image: {image}}}}}\ncomputes:\n  box: {{type: docker}}\n"
        "jobs:\n  fill:\n    command: python3 flood.py\n    environment: e\n    compute: box\n")})
    project.commit()
    made = _image_of(project.root)
    try:
        assert run_console("envs", "build", "-C", project.root, timeout=600).returncode == 0  # the image, before
        filler = _fill(small_disk, leave_mb=3)
        done = _apply(project)
        _assert_clean_failure(done, "logs/std_log.txt")
        assert [r["status"] for r in _runs(project)] == ["failed"]
        assert containers_of("fill-1", project) == []
        _recovers(project, filler)
    finally:
        remove_containers(project)
        made.remove_all()


def _image_of(root: Path) -> Any:
    """Environment e's image, to remove at the end."""
    from runner.envs.docker import docker_fingerprint, image_tag
    from runner.project import find_project
    from runner.spec import load
    from tests.docker_support import Images

    made = Images()
    made.add(image_tag(docker_fingerprint(load(find_project(root, None)), "e", root)))
    return made
