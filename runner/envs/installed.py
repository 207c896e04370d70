"""Which version of a package a run's environment had: `models show` puts it beside the
`framework_version` train.yaml declares (a "1.5" model trained with scikit-learn 1.9).

The run's environment is found from its fingerprint: a host env in the shared cache (its
folder is named by the digest), or the interpreter of a `user_managed` one. A docker env
(its image) is not started for this: the answer is then None, like for a package that is
not installed. Asked once per registered version, not per plan.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from runner.state.layout import env_file

# Names a model's `framework:` is often given that are not the distribution's.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "pytorch": "torch", "tf": "tensorflow"}
_ASK = ("import importlib.metadata as m, sys\n"
        "try:\n    print(m.version(sys.argv[1]))\nexcept m.PackageNotFoundError:\n    pass\n")


def installed_version(environment: dict[str, Any], framework: str) -> str | None:
    """The version of `framework` in the environment a run recorded (its fingerprint's
    `environment`: name, digest, components), or None when it cannot be known."""
    python = env_python(environment)
    if python is None or not os.access(python, os.X_OK):
        return None
    name = DISTRIBUTIONS.get(framework.strip().lower(), framework.strip())
    try:
        done = subprocess.run([python, "-I", "-c", _ASK, name], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version and "\n" not in version else None


def env_python(environment: dict[str, Any]) -> str | None:
    components = environment.get("components") or {}
    if any(key.startswith("docker.") for key in components):
        return None
    if "interpreter" in components:  # user_managed (the default environment too)
        return str(components["interpreter"])
    digest = environment.get("digest")
    return os.path.join(env_file(str(digest)), "bin", "python") if digest else None
