"""`gc_paused()`: the cyclic garbage collector off while runner builds many small acyclic objects.

A snapshot's walk and folder index, or a parsed train.yaml of 10,000 jobs, are tens of
thousands of tuples and nodes with no cycles: the collector would scan them again and
again for nothing (a third of the time of a large parse).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

TYPE_CHECKING = False  # typing is not imported on the snapshot path
if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
