"""Which CA bundle an image build should trust, so pip/uv/apt reach their index behind a TLS proxy.

Companies (and our own CI) often inspect TLS with a proxy whose CA only the host trusts:
without it, `pip install` inside a container fails with CERTIFICATE_VERIFY_FAILED.
The build copies the bundle into the image and points pip, uv, requests and apt at it.

Where the bundle comes from, first match wins:
  1. `RUNNER_CA_BUNDLE` (what `--ca-bundle PATH` on `runner apply` / `runner envs build` sets);
  2. `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `PIP_CERT`, when they point at a file.
An explicit bundle that does not exist is an error; the others are skipped quietly.
The bundle is not part of the env fingerprint: it decides how packages are fetched, not which.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from runner.envs.errors import EnvError

EXPLICIT = "RUNNER_CA_BUNDLE"
IMPLICIT = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT")
IN_IMAGE = "/usr/local/share/runner/ca-bundle.crt"  # where builds put it inside the image


def ca_bundle(environ: Mapping[str, str] | None = None) -> Path | None:
    """The host CA bundle builds (image, venv and conda alike) should trust, or None."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(EXPLICIT)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise EnvError(f"{EXPLICIT} / --ca-bundle: {explicit} is not a file; "
                           f"give the PEM bundle your proxy's CA is in")
        return path.resolve()
    for name in IMPLICIT:
        value = environ.get(name)
        if value and Path(value).expanduser().is_file():
            return Path(value).expanduser().resolve()
    return None


def set_ca_bundle(path: Path | None) -> None:
    """Make `path` the bundle for builds in this process (the CLI's `--ca-bundle`)."""
    if path is None:
        return
    if not path.expanduser().is_file():
        raise EnvError(f"--ca-bundle {path}: no such file; give the PEM bundle your proxy's CA is in")
    os.environ[EXPLICIT] = str(path.expanduser().resolve())
