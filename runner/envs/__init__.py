"""Environments: fingerprints, the shared host env cache (uv, conda), the tracking shim.

The public API that plan and apply call; each name lives in a small module of its own.
"""

from __future__ import annotations

from runner.envs.cache import cache_dir
from runner.envs.fingerprint import EnvFingerprint, changed_components, env_fingerprint
from runner.envs.materialise import Materialised, materialise
from runner.envs.shim import tracking_shim

__all__ = ["EnvFingerprint", "Materialised", "cache_dir", "changed_components", "env_fingerprint",
           "materialise", "tracking_shim"]
