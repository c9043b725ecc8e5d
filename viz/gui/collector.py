"""Keep Python's cyclic garbage collector from pausing the GUI on big graphs.

A full collection walks every tracked object: with a 25,000-op trace, its display graphs,
layouts and box items that is millions of objects and 100-300 ms with the GIL held, whichever
thread triggers it. Big work (a layout, making thousands of box items) runs inside
:func:`long_lived`: no full collection starts meanwhile, and what the work leaves alive is
frozen afterwards (moved out of the collector's reach), so later full collections walk only
what is new. Young collections go on as usual and still free short-lived cycles.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

NO_FULL = 10 ** 9     # young collections between full ones while big work runs: never

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


def hold() -> None:
    """Big work starts: no full collection until the matching :func:`release` (nests, and may
    be used from several threads at once)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(_saved[0], _saved[1], NO_FULL)
        _depth += 1


def release() -> None:
    """Big work ended: the last one out freezes what is alive and restores the thresholds."""
    global _depth
    with _lock:
        _depth -= 1
        if _depth == 0:
            gc.freeze()
            gc.set_threshold(*_saved)


@contextmanager
def long_lived() -> Iterator[None]:
    """Run big work between :func:`hold` and :func:`release`."""
    hold()
    try:
        yield
    finally:
        release()
