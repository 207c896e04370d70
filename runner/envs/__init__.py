"""Environments: fingerprints, the shared host env cache (uv, conda), Docker images, the tracking shim.

The public API that plan and apply call; each name lives in a small module of its own.

May import: runner.capture (its shim files), runner.spec (its types), runner.state (paths of
the shared cache), and the foundation modules.
"""

from __future__ import annotations

from runner.envs.fingerprint import EnvFingerprint, changed_components, env_fingerprint
from runner.envs.materialise import Materialised, materialise
from runner.envs.shim import tracking_shim

__all__ = ["EnvFingerprint", "Materialised", "changed_components", "env_fingerprint",
           "materialise", "tracking_shim"]
