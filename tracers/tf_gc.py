"""No full garbage collection while graphstage builds a TensorFlow capture.

A full collection walks every tracked object: after TensorFlow traced a big step that is
millions of objects (its FuncGraph, ops, tensors, Keras' layers) and 0.2-0.35 s each. Building
one capture (converting MobileNetV2's 9,081 ops, parsing the profiler's trace) allocates enough
to set off one or two of them, and they find nothing to free: everything it makes stays alive
in the template. Inside :func:`no_full_collection` young collections go on as usual (they still
free short-lived cycles); the next full collection comes when Python's own thresholds call for
it after the block.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

NO_FULL = 10 ** 9  # young collections between full ones while a capture is built: never


@contextmanager
def no_full_collection() -> Iterator[None]:
    """Hold full collections for the block (nests; leaves thresholds that someone else changed
    meanwhile as they are)."""
    first, second, third = gc.get_threshold()
    held = third != NO_FULL
    if held:
        gc.set_threshold(first, second, NO_FULL)
    try:
        yield
    finally:
        now = gc.get_threshold()
        if held and now[2] == NO_FULL:
            gc.set_threshold(now[0], now[1], third)
