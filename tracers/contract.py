"""The step-graph contract: the schema every tracer emits and every viewer reads.

A *step graph* is a ``networkx.DiGraph`` describing one training step (forward, loss, backward,
update). This module is framework-free: it defines the vocabulary, builds nodes and edges with the
right attributes, checks graphs with :func:`validate`, and diffs two steps with :func:`diff_steps`.
docs/contract.md is the prose reference for the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

SCHEMA_VERSION = 1

# Phases a node or edge belongs to, in execution order.
PHASES = ("forward", "backward", "update")

# What a node stands for.
KINDS = (
    "input",        # data fed to the step (batch, labels, placeholders)
    "parameter",    # trainable state: nn.Parameter, requires_grad leaf, tf.Variable
    "constant",     # a value baked into the graph or a non-trainable buffer
    "op",           # an executed operation
    "output",       # an op whose result is the model's output
    "loss",         # the op whose result the gradient is taken of
    "grad_acc",     # where a parameter's gradient lands (AccumulateGrad, a tape's result)
    "update",       # the optimizer's (or hand-written) change to one parameter
)

# What an edge carries.
ROLES = (
    "data",      # a forward tensor from producer to consumer
    "gradient",  # a gradient flowing from the loss towards the parameters
    "saved",     # a forward tensor kept for the backward pass
    "control",   # ordering only, no data (TF control dependencies)
    "update",    # a gradient consumed by an update
)

CAPTURE_KINDS = ("autograd", "tf.function", "tf1 graph")

GRAPH_ATTRS = {
    "schema": int,
    "framework": str,
    "model": str,
    "step": int,
    "capture": str,
    "loss": (float, type(None)),
    "same_as_previous": bool,
}

# Required node attributes and their types.
NODE_ATTRS = {
    "label": str,
    "op": str,
    "kind": str,
    "phase": str,
    "scope": str,
    "order": int,
    "key": str,
}

# Optional node attributes and their types (absent is fine, present must match).
OPTIONAL_NODE_ATTRS = {
    "shape": (list, type(None)),
    "dtype": (str, type(None)),
    "device": (str, type(None)),
    "value": (dict, type(None)),
    "grad": (dict, type(None)),
    "forward": (str, type(None)),      # backward node -> the forward node it differentiates
    "backward": list,                 # forward node -> its backward nodes
    "param": (str, type(None)),       # grad_acc / update node -> its parameter node
    "saved": list,                    # backward node -> saved-for-backward tensors
    "no_grad": bool,                  # parameter that received no gradient this step
    "inplace": bool,
    "ops": list,                      # update node -> the elementary ops it folds
    "children": list,                 # nested graphs (TF control flow bodies, called functions)
    "name": str,                      # framework-native name (TF op name, parameter name)
}

EDGE_ATTRS = {"phase": str, "role": str}
OPTIONAL_EDGE_ATTRS = {"shape": (list, type(None)), "dtype": (str, type(None))}

SUMMARY_FIELDS = ("min", "max", "mean", "std", "norm")
FULL_VALUE_LIMIT = 16


class ContractError(ValueError):
    """A step graph breaks the contract; the message names the node/edge and attribute."""


def make_graph(
    *,
    framework: str,
    model: str,
    step: int,
    capture: str,
    loss: float | None = None,
    **extra: Any,
) -> nx.DiGraph:
    """An empty step graph with the required graph attributes set."""
    g = nx.DiGraph()
    g.graph.update(graph_attrs(framework=framework, model=model, step=step, capture=capture,
                               loss=loss, **extra))
    return g


def graph_attrs(*, framework: str, model: str, step: int, capture: str,
                loss: float | None = None, **extra: Any) -> dict[str, Any]:
    """The required graph attributes of a step graph (make_graph's, without the graph)."""
    return {"schema": SCHEMA_VERSION, "framework": framework, "model": model, "step": step,
            "capture": capture, "loss": loss, "same_as_previous": False, **extra}


def _check_type(where: str, attr: str, value: Any, typ: Any) -> None:
    if isinstance(value, bool) and typ is int:
        raise ContractError(f"{where}: attribute {attr!r} must be int, got bool")
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise ContractError(
            f"{where}: attribute {attr!r} must be {names}, got {type(value).__name__} {value!r:.60}"
        )


def _check_summary(where: str, attr: str, summary: Mapping) -> None:
    for f in SUMMARY_FIELDS:
        v = summary.get(f)
        if v is not None and not isinstance(v, (int, float)):
            raise ContractError(f"{where}: {attr}.{f} must be a number, got {v!r:.60}")
    vals = summary.get("values")
    if vals is not None and (not isinstance(vals, list) or len(vals) > FULL_VALUE_LIMIT):
        raise ContractError(f"{where}: {attr}.values must be a list of at most "
                            f"{FULL_VALUE_LIMIT} numbers")


_KIND_SET, _PHASE_SET, _ROLE_SET = frozenset(KINDS), frozenset(PHASES), frozenset(ROLES)
_OPT_NODE_KEYS = frozenset(OPTIONAL_NODE_ATTRS)
_OPT_EDGE_KEYS = frozenset(OPTIONAL_EDGE_ATTRS)
_SUMMARY_ATTRS = frozenset({"value", "grad"})
_REF_ATTRS = frozenset({"forward", "param"})


def _node_ok(n: Any, a: dict) -> bool:
    """The whole node check in one expression: validate() runs on every traced step."""
    try:
        ok = (type(n) is str and type(a["label"]) is str and type(a["op"]) is str
              and a["kind"] in _KIND_SET and a["phase"] in _PHASE_SET
              and type(a["scope"]) is str and type(a["order"]) is int and a["order"] >= -1
              and type(a["key"]) is str)
    except (KeyError, TypeError):
        return False
    if not ok:
        return False
    for attr in _OPT_NODE_KEYS & a.keys():
        typ = OPTIONAL_NODE_ATTRS[attr]
        if not isinstance(a[attr], typ) or (isinstance(a[attr], bool) and typ is int):
            return False
    return True


def _check_attrs(where: str, attrs: Mapping, required: Mapping, optional: Mapping) -> None:
    """Raise for the first missing required attribute or mistyped attribute."""
    for attr, typ in required.items():
        if attr not in attrs:
            raise ContractError(f"{where}: missing attribute {attr!r}")
        _check_type(where, attr, attrs[attr], typ)
    for attr, typ in optional.items():
        if attr in attrs:
            _check_type(where, attr, attrs[attr], typ)


def _explain_node(where: str, n: Any, attrs: dict) -> None:
    """Raise the ContractError that says what is wrong with a node that failed _node_ok."""
    if not isinstance(n, str):
        raise ContractError(f"{where}: node ids must be str")
    _check_attrs(where, attrs, NODE_ATTRS, OPTIONAL_NODE_ATTRS)
    if attrs["kind"] not in KINDS:
        raise ContractError(f"{where}: kind {attrs['kind']!r} not in {KINDS}")
    if attrs["phase"] not in PHASES:
        raise ContractError(f"{where}: phase {attrs['phase']!r} not in {PHASES}")
    if attrs["order"] < -1:
        raise ContractError(f"{where}: order must be >= -1 (-1: not executed)")
    raise ContractError(f"{where}: attributes do not match the contract")


def validate(graph: nx.DiGraph, *, _path: str = "") -> nx.DiGraph:
    """Check a step graph against the contract; raise ContractError naming what is wrong.

    Returns the graph so tracers can ``return validate(g)``.
    """
    where_g = f"graph{_path}"
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise ContractError(f"{where_g}: expected a networkx.DiGraph, got {type(graph).__name__}")
    if not _path:
        for attr, typ in GRAPH_ATTRS.items():
            if attr not in graph.graph:
                raise ContractError(f"{where_g}: missing graph attribute {attr!r}")
            _check_type(where_g, attr, graph.graph[attr], typ)
        if graph.graph["schema"] != SCHEMA_VERSION:
            raise ContractError(f"{where_g}: schema {graph.graph['schema']} is not "
                                f"{SCHEMA_VERSION}")
        if graph.graph["capture"] not in CAPTURE_KINDS:
            raise ContractError(f"{where_g}: capture {graph.graph['capture']!r} not in "
                                f"{CAPTURE_KINDS}")

    keys: dict[str, Any] = {}
    for n, attrs in graph.nodes(data=True):
        if not _node_ok(n, attrs):  # the fast check failed: find and word what is wrong
            _explain_node(f"{where_g} node {n!r}", n, attrs)
        where = f"{where_g} node {n!r}"
        if attrs["key"] in keys:
            raise ContractError(f"{where}: key {attrs['key']!r} also used by node "
                                f"{keys[attrs['key']]!r}")
        keys[attrs["key"]] = n
        for attr in _SUMMARY_ATTRS & attrs.keys():
            if attrs[attr]:
                _check_summary(where, attr, attrs[attr])
        for ref in _REF_ATTRS & attrs.keys():
            target = attrs[ref]
            if target is not None and target not in graph:
                raise ContractError(f"{where}: attribute {ref!r} points to missing node "
                                    f"{target!r}")
        for i, child in enumerate(attrs.get("children", ())):
            if not isinstance(child, dict) or not isinstance(child.get("graph"), nx.DiGraph):
                raise ContractError(f"{where}: children[{i}] must be "
                                    "{'name': str, 'graph': DiGraph}")
            validate(child["graph"], _path=f"{_path}/{n}:{child.get('name', i)}")

    for u, v, attrs in graph.edges(data=True):
        if attrs.get("role") in _ROLE_SET and attrs.get("phase") in _PHASE_SET and all(
                isinstance(attrs[k], OPTIONAL_EDGE_ATTRS[k])
                for k in _OPT_EDGE_KEYS & attrs.keys()):
            continue
        where = f"{where_g} edge {u!r} -> {v!r}"
        _check_attrs(where, attrs, EDGE_ATTRS, OPTIONAL_EDGE_ATTRS)
        if attrs["role"] not in ROLES:
            raise ContractError(f"{where}: role {attrs['role']!r} not in {ROLES}")
        if attrs["phase"] not in PHASES:
            raise ContractError(f"{where}: phase {attrs['phase']!r} not in {PHASES}")

    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise ContractError(f"{where_g}: not acyclic, cycle through {cycle[:4]}")
    return graph


def structure_signature(graph: nx.DiGraph) -> tuple:
    """What makes two step graphs 'the same structure': node keys/ops/kinds and keyed edges."""
    nodes = tuple(sorted((a["key"], a["op"], a["kind"], a["phase"])
                         for _, a in graph.nodes(data=True)))
    key = graph.nodes
    edges = tuple(sorted((key[u]["key"], key[v]["key"], a["role"])
                         for u, v, a in graph.edges(data=True)))
    return nodes, edges


@dataclass
class StepDiff:
    """Nodes and edges added, removed and kept between two step graphs, by stable key."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    added_edges: list[tuple[str, str]] = field(default_factory=list)
    removed_edges: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.added_edges or self.removed_edges)

    def summary(self, limit: int = 4) -> str:
        """One line a person reads, e.g. '+4 -0 nodes: hidden_layer#1/linear, ...'."""
        if self.empty:
            return "no structural change"
        parts = [f"+{len(self.added)} -{len(self.removed)} nodes"]
        scopes = _top_scopes(self.added, limit)
        if scopes:
            parts.append("added " + ", ".join(scopes))
        scopes = _top_scopes(self.removed, limit)
        if scopes:
            parts.append("removed " + ", ".join(scopes))
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {
            "added": self.added, "removed": self.removed,
            "added_edges": [list(e) for e in self.added_edges],
            "removed_edges": [list(e) for e in self.removed_edges],
            "kept": len(self.kept),
        }


def _top_scopes(keys: list[str], limit: int) -> list[str]:
    """Group keys by their first path component so a summary names modules, not every op."""
    seen: list[str] = []
    for k in keys:
        head = k.split("/", 1)[0]
        if head not in seen:
            seen.append(head)
    return seen[:limit] + ([f"... {len(seen) - limit} more"] if len(seen) > limit else [])


def diff_steps(before: nx.DiGraph | None, after: nx.DiGraph) -> StepDiff:
    """Compare two step graphs by node key (node ids may differ between steps)."""
    new_keys = {a["key"] for _, a in after.nodes(data=True)}
    if before is None:
        return StepDiff(added=sorted(new_keys))
    old_keys = {a["key"] for _, a in before.nodes(data=True)}

    def edge_keys(g: nx.DiGraph) -> set[tuple[str, str]]:
        return {(g.nodes[u]["key"], g.nodes[v]["key"]) for u, v in g.edges}

    old_e, new_e = edge_keys(before), edge_keys(after)
    return StepDiff(
        added=sorted(new_keys - old_keys, key=_natural),
        removed=sorted(old_keys - new_keys, key=_natural),
        kept=sorted(new_keys & old_keys, key=_natural),
        added_edges=sorted(new_e - old_e),
        removed_edges=sorted(old_e - new_e),
    )


def _natural(key: str) -> list:
    """Sort 'hidden#10' after 'hidden#2'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]
