"""Links between phases in a converted TensorFlow graph: the role of each edge, and each
gradient op's forward op (the contract's ``forward`` / ``backward`` node attributes)."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.tf_ops import GRAD_COMPONENT


def edge_role(src: dict, dst: dict) -> str:
    """The contract role of a data edge between two nodes, from their phases and kinds."""
    pu, pv = src["phase"], dst["phase"]
    if pv == "backward":
        return "gradient" if pu == "backward" else "saved"
    if pv == "update" and (pu == "backward" or dst["kind"] == "update"
                           and src["kind"] == "parameter"):
        return "update"
    return "data"


def forward_of(name: str, forward_names: set[str]) -> str | None:
    """The forward op a gradient op differentiates, by mirroring its name scope."""
    parts = name.split("/")
    idx = max((i for i, c in enumerate(parts[:-1]) if GRAD_COMPONENT.match(c)), default=None)
    if idx is None:
        return None
    rest = [p[:-5] if p.endswith("_grad") else p for p in parts[idx + 1:]]
    for k in range(len(rest), 0, -1):
        cand = "/".join(rest[:k])
        if cand in forward_names:
            return cand
    return None


def forward_by_type(g: nx.DiGraph, n: str, op_type: str) -> str | None:
    """For an `XGrad` op TensorFlow names outside X's scope (ReluGrad, MaxPoolGrad,
    FusedBatchNormGradV3, ...): the forward X op among the tensors it reads."""
    base = op_type.partition("Grad")[0]
    if not base or base == op_type:
        return None
    hits = [p for p in g.predecessors(n)
            if g.nodes[p]["phase"] == "forward" and g.nodes[p]["op"].startswith(base)]
    return hits[0] if len(hits) == 1 else None


def link_backward(g: nx.DiGraph, phase: dict[str, str], roots: dict[str, str],
                  node_of: Callable[[str], str]) -> None:
    """Set ``forward`` on each backward node whose forward op is known and append the node to
    that op's ``backward`` list (node_of: op name -> node id, folded variables included)."""
    forward_names = {n for n, p in phase.items() if p == "forward"} | set(roots)
    for n, attrs in g.nodes(data=True):
        if attrs["phase"] != "backward" or attrs["kind"] in SOURCE_KINDS:
            continue
        f = forward_of(n, forward_names)
        if f is None:
            f = forward_by_type(g, n, attrs["op"])
        if f is None:
            continue
        fid = node_of(f) if f in roots else f
        if fid not in g or fid == n:
            continue
        attrs["forward"] = fid
        g.nodes[fid].setdefault("backward", []).append(n)
