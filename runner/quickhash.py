"""The hash of runner's own cache keys (the folder index, the spec cache): BLAKE2b.

Objects and snapshot digests stay sha256 (see runner.state.objects). This is for keys
that only runner compares, on paths where importing `hashlib` would cost more than the
hashing: hashlib loads OpenSSL when imported (~2.5 ms), while an unchanged snapshot
hashes under a megabyte. `_blake2` is the module hashlib's own blake2b comes from.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # a Python built without it
    from hashlib import blake2b


def quick_digest(data: bytes) -> str:
    """A 160-bit hex digest of `data`."""
    return blake2b(data, digest_size=20).hexdigest()
