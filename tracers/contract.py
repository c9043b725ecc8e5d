"""The step-graph contract: the schema every tracer emits and every viewer reads.

A *step graph* is a ``networkx.DiGraph`` describing one training step (forward, loss, backward,
update). This module is framework-free: it builds graphs with the right attributes, checks them
with :func:`validate`, and diffs two steps with :func:`diff_steps`. What the attributes and
rules are is declared once, in tracers/schema.py; validate is driven by that declaration and
docs/contract.md's tables are generated from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graphstage.tracers import schema
from graphstage.tracers.schema import (
    FULL_VALUE_LIMIT,
    KEY_PREFIX,
    SCHEMA_VERSION,
    SOURCE_KINDS,
    SUMMARY_FIELDS,
    Attr,
)

PHASES = schema.names(schema.PHASES)          # in execution order
KINDS = schema.names(schema.KINDS)
ROLES = schema.names(schema.ROLES)
CAPTURE_KINDS = schema.names(schema.CAPTURES)

__all__ = ["CAPTURE_KINDS", "FULL_VALUE_LIMIT", "KINDS", "PHASES", "ROLES", "SCHEMA_VERSION",
           "SUMMARY_FIELDS", "ContractError", "StepDiff", "diff_steps", "graph_attrs",
           "make_graph", "structure_signature", "validate"]


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


# ---- attribute checks, compiled from the schema ----------------------------------------------

def _check_attr(where: str, spec: Attr, value: Any) -> None:
    """Raise unless value fits the attribute's declared types, values and minimum."""
    if not isinstance(value, spec.types) or (isinstance(value, bool) and bool not in spec.types):
        raise ContractError(f"{where}: attribute {spec.name!r} must be {spec.type_text}, got "
                            f"{type(value).__name__} {value!r:.60}")
    if spec.values and value not in spec.value_names:
        raise ContractError(f"{where}: {spec.name} {value!r:.60} not in "
                            f"{schema.names(spec.values)}")
    if spec.minimum is not None and value < spec.minimum:
        raise ContractError(f"{where}: attribute {spec.name!r} must be >= {spec.minimum}, got "
                            f"{value!r}")


def _check_attrs(where: str, attrs: Mapping, specs: tuple[Attr, ...]) -> None:
    """The explaining check: raise for the first attribute that breaks its declaration."""
    for spec in specs:
        if spec.name in attrs:
            _check_attr(where, spec, attrs[spec.name])
        elif spec.required:
            raise ContractError(f"{where}: missing attribute {spec.name!r}")


def _fast_check(specs: tuple[Attr, ...], what: str) -> Callable[[Mapping], bool]:
    """A quick yes for attribute dicts that certainly fit specs, compiled from the same
    declaration into one boolean expression (validate runs on every traced step): required
    attributes present, every declared attribute of an exact declared type, among its values,
    above its minimum. False means only: ask _check_attrs, which explains or accepts."""
    env: dict[str, Any] = {}
    terms = []
    for i, spec in enumerate(specs):
        env[f"T{i}"] = spec.types[0] if len(spec.types) == 1 else spec.types
        env[f"V{i}"] = spec.value_names
        v = f"a[{spec.name!r}]"
        if spec.values:  # only the declared values (all str) pass
            term = [f"{v} in V{i}"]
        else:
            term = [f"type({v}) is T{i}" if len(spec.types) == 1 else f"type({v}) in T{i}"]
        if spec.minimum is not None:
            term.append(f"{v} >= {spec.minimum!r}")
        body = " and ".join(term)
        terms.append(body if spec.required else f"({spec.name!r} not in a or {body})")
    joined = "\n                and ".join(terms)
    source = (f"def {what}_ok(a):\n    try:\n        return ({joined})\n"
              "    except (KeyError, TypeError):\n        return False\n")
    exec(compile(source, f"<contract: {what} check>", "exec"), env)  # noqa: S102 - our own text
    check = env[f"{what}_ok"]
    check.source = source
    return check


_node_ok = _fast_check(schema.NODE_ATTRS, "node")
_edge_ok = _fast_check(schema.EDGE_ATTRS, "edge")
_REF_ATTRS = tuple(s.name for s in schema.NODE_ATTRS if s.ref) + ("saved",)
_PHASE_RANK = {p: i for i, p in enumerate(PHASES)}


def _check_summary(where: str, attr: str, summary: Mapping) -> None:
    for f in SUMMARY_FIELDS:
        v = summary.get(f)
        if v is not None and not isinstance(v, (int, float)):
            raise ContractError(f"{where}: {attr}.{f} must be a number, got {v!r:.60}")
    vals = summary.get("values")
    if vals is not None and (not isinstance(vals, list) or len(vals) > FULL_VALUE_LIMIT):
        raise ContractError(f"{where}: {attr}.values must be a list of at most "
                            f"{FULL_VALUE_LIMIT} numbers")


# ---- validate ------------------------------------------------------------------------------

def validate(graph: nx.DiGraph, *, _path: str = "") -> nx.DiGraph:
    """Check a step graph against the contract (tracers/schema.py: attributes and rules);
    raise a one-line ContractError naming the graph, node or edge that breaks it.

    Returns the graph so tracers can ``return validate(g)``.
    """
    where_g = f"graph{_path}"
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise ContractError(f"{where_g}: expected a networkx.DiGraph, got {type(graph).__name__}")
    if not _path:
        _check_graph_attrs(where_g, graph.graph)
    attrs_of = dict(graph.nodes(data=True))  # node id -> its attribute dict (no copies)
    refs = _check_nodes(where_g, attrs_of, _path)
    if refs:
        _check_refs(where_g, attrs_of, refs)
    suspects, entered = _check_edges(where_g, graph, attrs_of)
    if any(u in entered and graph.succ[v] for u, v in suspects) and \
            not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise ContractError(f"{where_g}: not acyclic, cycle through {cycle[:4]}")
    return graph


def _check_graph_attrs(where: str, attrs: Mapping) -> None:
    _check_attrs(where, attrs, schema.GRAPH_ATTRS)
    if attrs["schema"] != SCHEMA_VERSION:
        raise ContractError(f"{where}: schema {attrs['schema']} is not {SCHEMA_VERSION}")


def _check_nodes(where_g: str, attrs_of: dict[Any, dict], path: str) -> list[str]:
    """Attributes, keys, source orders and order uniqueness of every node; returns the nodes
    that hold references, for _check_refs."""
    keys: dict[str, Any] = {}
    placed: dict[tuple[str, int], str] = {}
    refs = []
    for n, a in attrs_of.items():
        if type(n) is not str or not _node_ok(a):  # the fast check said no: explain or pass
            if not isinstance(n, str):
                raise ContractError(f"{where_g} node {n!r}: node ids must be str")
            _check_attrs(f"{where_g} node {n!r}", a, schema.NODE_ATTRS)
        key, kind, order = a["key"], a["kind"], a["order"]
        if keys.setdefault(key, n) != n:
            raise ContractError(f"{where_g} node {n!r}: key {key!r} also used by node "
                                f"{keys[key]!r}")
        prefix = KEY_PREFIX.get(kind)
        if prefix is not None and not key.startswith(prefix):
            raise ContractError(f"{where_g} node {n!r}: key {key!r} of a {kind} must start "
                                f"with {prefix!r}")
        if kind in SOURCE_KINDS:
            if order != -1:
                raise ContractError(f"{where_g} node {n!r}: order {order} on a source ({kind}) "
                                    "must be -1")
        elif order >= 0 and placed.setdefault((a["phase"], order), n) != n:
            raise ContractError(f"{where_g} node {n!r}: {a['phase']} order {order} also used "
                                f"by node {placed[a['phase'], order]!r}")
        if any(map(a.__contains__, _REF_ATTRS)):
            refs.append(n)
        if a.get("value"):
            _check_summary(f"{where_g} node {n!r}", "value", a["value"])
        if a.get("grad"):
            _check_summary(f"{where_g} node {n!r}", "grad", a["grad"])
        if "children" in a:
            _check_children(f"{where_g} node {n!r}", n, a["children"], path)
    return refs


def _check_children(where: str, n: str, children: list, path: str) -> None:
    for i, child in enumerate(children):
        if not isinstance(child, dict) or not isinstance(child.get("graph"), nx.DiGraph):
            raise ContractError(f"{where}: children[{i}] must be "
                                "{'name': str, 'graph': DiGraph}")
        validate(child["graph"], _path=f"{path}/{n}:{child.get('name', i)}")


def _check_refs(where_g: str, attrs_of: dict[Any, dict], refs: list[str]) -> None:
    """forward, backward, param and saved[].from name other nodes of this graph, and agree."""
    def target(n: str, what: str, t: Any) -> dict:
        found = attrs_of.get(t) if isinstance(t, str) else None
        if found is None or t == n:
            raise ContractError(f"{where_g} node {n!r}: {what} points to "
                                f"{'itself' if t == n else f'missing node {t!r}'}")
        return found

    for n in refs:
        a = attrs_of[n]
        f = a.get("forward")
        if f is not None and n not in target(n, "'forward'", f).get("backward", ()):
            raise ContractError(f"{where_g} node {n!r}: 'forward' is {f!r} but that node's "
                                "'backward' does not list it")
        for b in a.get("backward", ()):
            if target(n, "'backward'", b).get("forward") != n:
                raise ContractError(f"{where_g} node {n!r}: 'backward' lists {b!r} whose "
                                    "'forward' is not this node")
        p = a.get("param")
        if p is not None and target(n, "'param'", p)["kind"] not in SOURCE_KINDS:
            raise ContractError(f"{where_g} node {n!r}: 'param' points to {p!r} of kind "
                                f"{attrs_of[p]['kind']}, not a source (parameter, input, "
                                "constant)")
        for i, item in enumerate(a.get("saved", ())):
            if not isinstance(item, dict):
                raise ContractError(f"{where_g} node {n!r}: saved[{i}] must be a dict")
            if item.get("from") is not None:
                target(n, f"saved[{i}].from", item["from"])


def _check_edges(where_g: str, graph: nx.DiGraph,
                 attrs_of: dict[Any, dict]) -> tuple[list[tuple[str, str]], set]:
    """Attributes, no edge into a parameter, order along edges. Returns the edges that do not
    show themselves acyclic by going up in (phase, order), and the nodes some edge enters: an
    edge out of a node nothing enters, or into one nothing leaves, lies on no cycle."""
    suspects = []
    entered: set = set()
    enter = entered.add
    for u, v, e in graph.edges(data=True):
        if not _edge_ok(e):
            _check_attrs(f"{where_g} edge {u!r} -> {v!r}", e, schema.EDGE_ATTRS)
        enter(v)
        av, au = attrs_of[v], attrs_of[u]
        if av["kind"] == "parameter":
            raise ContractError(f"{where_g} edge {u!r} -> {v!r}: no edge may end at a parameter "
                                "(refer to it with 'param')")
        ou, ov = au["order"], av["order"]
        if ou >= 0 and ov >= 0:
            pu, pv = au["phase"], av["phase"]
            if pu == pv:
                if ou >= ov:
                    raise ContractError(f"{where_g} edge {u!r} -> {v!r}: goes from {pu} order "
                                        f"{ou} to {ov}, not forward in execution order")
                continue
            if _PHASE_RANK[pu] < _PHASE_RANK[pv]:
                continue
        suspects.append((u, v))
    return suspects, entered


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
