"""Errors a user can cause while runner builds or finds an environment."""

from __future__ import annotations

from runner.errors import RunnerError


class EnvError(RunnerError):
    """An environment cannot be fingerprinted, found or built."""


class PythonNotFound(EnvError):
    """The requested Python version is not installed on this machine."""


class CondaNotFound(EnvError):
    """A `conda:` environment needs conda, mamba or micromamba on PATH."""


class EnvBuildFailed(EnvError):
    """A build tool (uv, conda) failed; the message names the build log."""
