"""Fixtures for environment tests: specs from dicts, unique fingerprints, a slow local package."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.spec import from_data
from runner.spec.types import Spec

# A PEP 517 backend with no build requirements (so no network): it builds a one-module
# wheel, and while the flag file exists it first announces itself and sleeps, so a test
# can catch a build in the middle.
_BACKEND = '''
import base64, hashlib, os, time, zipfile
FLAG = {flag!r}
def _record(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{path}},sha256={{digest}},{{len(data)}}"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if os.path.exists(os.path.join(FLAG, "SLOW")):
        open(os.path.join(FLAG, "STARTED"), "w").close()
        time.sleep(float(open(os.path.join(FLAG, "SLOW")).read() or "120"))
    info = "{name}-0.1.dist-info"
    files = {{"{name}.py": b"VALUE = 42\\n",
             info + "/METADATA": b"Metadata-Version: 2.1\\nName: {name}\\nVersion: 0.1\\n",
             info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    wheel = "{name}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        rows = [_record(p, d) for p, d in files.items()] + [info + "/RECORD,,"]
        zf.writestr(info + "/RECORD", "\\n".join(rows) + "\\n")
    return wheel
def get_requires_for_build_wheel(config_settings=None):
    return []
'''


@pytest.fixture
def make_spec() -> Callable[..., Spec]:
    def make(**environments: dict[str, Any]) -> Spec:
        return from_data({"version": 1, "environments": environments})

    return make


@pytest.fixture
def unique_requirements(tmp_path: Path) -> Callable[..., Path]:
    """A requirements file whose content (and so the env fingerprint) no other test shares."""

    def make(root: Path | None = None, lines: str = "") -> Path:
        path = (root or tmp_path) / "requirements.txt"
        path.write_text(f"# {uuid.uuid4().hex}\n{lines}")
        return path

    return make


class SlowPackage:
    """A local package folder `name` whose wheel build sleeps while `slow(seconds)` is on."""

    def __init__(self, base: Path, name: str) -> None:
        self.path = base / name
        self.flag = base / f"{name}-flag"
        self.flag.mkdir(parents=True)
        self.path.mkdir(parents=True)
        (self.path / "pyproject.toml").write_text(textwrap.dedent(f"""
            [build-system]
            requires = []
            build-backend = "backend"
            backend-path = ["."]
            [project]
            name = "{name}"
            version = "0.1"
        """))
        (self.path / "backend.py").write_text(_BACKEND.format(flag=str(self.flag), name=name))

    def slow(self, seconds: float) -> None:
        (self.flag / "SLOW").write_text(str(seconds))

    def fast(self) -> None:
        (self.flag / "SLOW").unlink(missing_ok=True)

    @property
    def started(self) -> bool:
        return (self.flag / "STARTED").exists()


@pytest.fixture
def slow_package(tmp_path: Path) -> SlowPackage:
    return SlowPackage(tmp_path, f"slowpkg_{uuid.uuid4().hex[:8]}")
