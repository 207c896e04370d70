"""The committed example project, for tests that run it.

The README's tour edits `example-project/train.yaml` in place (`kernel: rbf`); a test that
copied the working tree's folder would then see the edit and fail. Tests take the example
as the checkout's HEAD has it (`git archive`), and copy the folder only where there is no
git history to read it from (e.g. an unpacked source archive).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = "example-project"


def committed_example(dest: Path, repo: Path = REPO, name: str = NAME) -> Path:
    """Write the committed `name` folder of `repo` to `dest` (made) and return `dest`."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", "HEAD", "--", name],
                             capture_output=True, check=False)
    if archive.returncode != 0 or not archive.stdout:
        if (repo / ".git").exists():
            raise RuntimeError(f"git archive HEAD {name} failed in {repo}: {archive.stderr.decode()}")
        shutil.copytree(repo / name, dest, ignore=shutil.ignore_patterns(".runner"))
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        for member in tar.getmembers():
            if member.name == name or not member.name.startswith(name + "/"):
                continue
            member.name = member.name[len(name) + 1:]
            tar.extract(member, dest, filter="data")
    return dest
