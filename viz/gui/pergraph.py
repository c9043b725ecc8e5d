"""Facts worked out once per step graph over all its nodes, remembered while the graph lives.

A 200,000-op step takes the better part of a second per walk: the loading thread works these
out for the first step (workers.prepare_loaded), so the GUI thread finds them done.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")


def per_graph(fn: Callable[[Any], T]) -> Callable[[Any], T]:
    """fn(graph), computed once per graph object (callers must not change what it returns)."""
    memo: WeakKeyDictionary = WeakKeyDictionary()

    @functools.wraps(fn)
    def remembered(graph: Any) -> T:
        done = memo.get(graph, memo)
        if done is memo:
            done = memo[graph] = fn(graph)
        return done

    return remembered
