"""The networkx internals graphstage relies on, in one place, with the versions checked.

Step graphs of a reused concrete function share the template's adjacency and most attribute
dicts (tracers/tf_tracer.py ``step_copy``), and timing replaces node dicts instead of
mutating ones shared with earlier steps (tracers/tf_timing.py). Both need a DiGraph's private
node and adjacency dicts (``_node``, ``_succ``, ``_pred``); the public API copies or mutates
them. tests/test_nx_compat.py smoke-tests each helper on the installed networkx.
"""

from __future__ import annotations

import logging
from typing import Any

import networkx as nx

log = logging.getLogger("graphstage.tracers.nx_compat")
# major.minor networkx versions these helpers were checked on (tests/test_nx_compat.py)
CHECKED = ("3.6",)


def check_version() -> bool:
    """Whether the installed networkx is a checked version; logs a warning when not."""
    version = ".".join(nx.__version__.split(".")[:2])
    if version not in CHECKED:
        log.warning("networkx %s is not a version graphstage was checked on (%s)",
                    nx.__version__, ", ".join(CHECKED))
        return False
    return True


def node_dicts(g: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """g's own node-id -> attribute-dict mapping (``DiGraph._node``), even on a frozen graph:
    callers replace whole attribute dicts in it (never mutate shared ones)."""
    return g._node  # noqa: SLF001


def share_structure(template: nx.DiGraph, nodes: dict[str, dict[str, Any]]) -> nx.DiGraph:
    """A frozen DiGraph with the given node dicts and the template's adjacency shared as is
    (read-only), made without ``DiGraph.__init__``: networkx's backend dispatch on creation
    costs tens of microseconds right after a TensorFlow run."""
    g = object.__new__(nx.DiGraph)
    succ, pred = template._succ, template._pred  # noqa: SLF001
    g.__dict__.update(graph={}, _node=nodes, _adj=succ, _succ=succ, _pred=pred,
                      __networkx_cache__={})
    return nx.freeze(g)
