"""Trace files on disk: the document layout, strict checks in, one clear line for every bad file.

The format is described in docs/contract.md ("Trace sessions and files"). In short: a header
(``format``, ``version``, ``schema``, ``framework``, ``model``, ``meta``) and a list of steps,
each either a full graph (networkx node-link data) or a reference to an earlier step plus the node
attributes that changed, the ones removed and the node order. tracers/strictjson.py makes the
text strict JSON (non-finite floats tagged, limits); files of version 1 (``NaN`` tokens) still
load. Reading never runs code and never fails with anything but :class:`TraceFileError`, whose
message is one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from graphstage.tracers import strictjson
from graphstage.tracers.contract import SCHEMA_VERSION, structure_signature, validate
from graphstage.tracers.strictjson import MAX_DEPTH, decode_floats, encode_floats

__all__ = ["FILE_FORMAT", "FILE_VERSION", "MAX_DEPTH", "SessionParts", "TraceFileError",
           "from_document", "graph_from_data", "graph_to_data", "read", "to_document", "write"]

FILE_FORMAT = "graphstage-trace"
FILE_VERSION = 2          # 1: NaN tokens, no removed attributes; 2: strict JSON, removals kept
_MESSAGE_LIMIT = 400


class TraceFileError(ValueError):
    """A file is not a readable graphstage trace; the message says why in one line."""

    def __init__(self, message: str) -> None:
        line = " ".join(str(message).splitlines())
        if len(line) > _MESSAGE_LIMIT:
            line = line[: _MESSAGE_LIMIT - 3] + "..."
        super().__init__(line)


class _Malformed(Exception):
    """Internal: what is wrong, without the file name and step (added by the caller)."""


@dataclass
class SessionParts:
    """What a trace file holds, decoded and checked (TraceSession is built from it)."""

    framework: str
    model: str
    meta: dict[str, Any]
    steps: list[nx.DiGraph] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


# ---- non-finite floats, depth and integer limits ----------------------------------------------

# ---- graphs ------------------------------------------------------------------------------------

def graph_to_data(g: nx.DiGraph) -> dict:
    """networkx node-link data (edges under "edges"), with nested child graphs converted."""
    return {
        "directed": True, "multigraph": False, "graph": dict(g.graph),
        "nodes": [{**_children_to_data(a), "id": n} for n, a in g.nodes(data=True)],
        "edges": [{**d, "source": u, "target": v} for u, v, d in g.edges(data=True)],
    }


def _children_to_data(attrs: dict) -> dict:
    if "children" not in attrs:
        return attrs
    return {**attrs, "children": [{**c, "graph": graph_to_data(c["graph"])}
                                  for c in attrs["children"]]}


def graph_from_data(data: Any) -> nx.DiGraph:
    """Inverse of graph_to_data; raises TraceFileError naming the first thing that is wrong."""
    try:
        return _graph(data, "graph")
    except _Malformed as exc:
        raise TraceFileError(str(exc)) from None


def _graph(data: Any, where: str) -> nx.DiGraph:
    _need(data, dict, where)
    if data.get("directed", True) is not True or data.get("multigraph", False) is not False:
        raise _Malformed(f"{where} must be directed and not a multigraph")
    attrs = data.get("graph", {})
    _need(attrs, dict, f"{where}.graph")
    nodes, edges = data.get("nodes", _MISSING), data.get("edges", _MISSING)
    _need(nodes, list, f"{where}.nodes")
    _need(edges, list, f"{where}.edges")
    g = nx.DiGraph()
    g.graph.update(attrs)
    g.add_nodes_from(_nodes(nodes, where))
    g.add_edges_from(_edges(edges, g, where))
    return g


def _nodes(nodes: list, where: str) -> list[tuple[str, dict]]:
    out, seen = [], set()
    for k, node in enumerate(nodes):
        _need(node, dict, f"{where}.nodes[{k}]")
        n = node.get("id")
        if type(n) is not str:
            raise _Malformed(f"{where}.nodes[{k}]: 'id' must be a string, got {n!r:.60}")
        if n in seen:
            raise _Malformed(f"{where}: node id {n!r:.60} appears twice")
        seen.add(n)
        attrs = dict(node)
        del attrs["id"]
        out.append((n, _children_from_data(attrs, f"{where} node {n!r:.60}")))
    return out


def _edges(edges: list, g: nx.DiGraph, where: str) -> list[tuple[str, str, dict]]:
    out, seen = [], set()
    for k, edge in enumerate(edges):
        _need(edge, dict, f"{where}.edges[{k}]")
        u, v = edge.get("source"), edge.get("target")
        for end, name in ((u, "source"), (v, "target")):
            if type(end) is not str or end not in g:
                raise _Malformed(f"{where}.edges[{k}]: {name} {end!r:.60} is not a node")
        if (u, v) in seen:
            raise _Malformed(f"{where}: edge {u!r:.40} -> {v!r:.40} appears twice")
        seen.add((u, v))
        out.append((u, v, {a: x for a, x in edge.items() if a != "source" and a != "target"}))
    return out


def _children_from_data(attrs: dict, where: str) -> dict:
    if "children" not in attrs:
        return attrs
    children = attrs["children"]
    _need(children, list, f"{where}: children")
    out = []
    for i, c in enumerate(children):
        _need(c, dict, f"{where}: children[{i}]")
        if "graph" not in c:
            raise _Malformed(f"{where}: children[{i}] has no 'graph'")
        out.append({**c, "graph": _graph(c["graph"], f"{where}: children[{i}].graph")})
    return {**attrs, "children": out}


_MISSING = object()


def _need(value: Any, typ: type, where: str) -> None:
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        got = "nothing" if value is _MISSING else f"a JSON {_json_type(value)}"
        raise _Malformed(f"{where} must be a JSON {_json_type(typ)}, got {got}")


def _json_type(v: Any) -> str:
    t = v if isinstance(v, type) else type(v)
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number",
            bool: "boolean", type(None): "null"}.get(t, t.__name__)


# ---- session documents -------------------------------------------------------------------------

def to_document(framework: str, model: str, meta: dict, steps: list[nx.DiGraph],
                metrics: list[dict]) -> dict:
    """The strict-JSON-ready dict of a session; a step laid out like an earlier full step (same
    node ids, edges and edge attributes, in the same order) keeps only what changed."""
    stored: dict[tuple, int] = {}
    out = []
    for i, g in enumerate(steps):
        entry: dict[str, Any] = {"metrics": metrics[i]}
        sig = structure_signature(g)
        base = stored.get(sig)
        if base is not None and _same_layout(steps[base], g):
            entry.update(_delta(steps[base], g, base))
        else:
            stored[sig] = i
            entry["graph"] = graph_to_data(g)
        out.append(entry)
    return encode_floats({"format": FILE_FORMAT, "version": FILE_VERSION,
                          "schema": SCHEMA_VERSION, "framework": framework, "model": model,
                          "meta": meta, "steps": out})


def _same_layout(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    """Same node ids and, per node, the same out-edges in the same order with equal attributes
    (node order may differ: a delta stores it)."""
    if len(a) != len(b) or a.number_of_edges() != b.number_of_edges():
        return False
    adj_a = dict(a.adjacency())
    for u, nbrs in b.adjacency():
        old = adj_a.get(u)
        if old is None or old != nbrs or list(old) != list(nbrs):
            return False
    return True


def _delta(base: nx.DiGraph, g: nx.DiGraph, base_index: int) -> dict:
    """Graph attributes in full, node attributes that changed, and the ones removed."""
    changed, removed = {}, {}
    old_nodes = base.nodes
    for n, attrs in g.nodes(data=True):
        old = old_nodes[n]
        diff = {k: v for k, v in attrs.items() if k not in old or old[k] != v}
        if diff:
            changed[n] = _children_to_data(diff)
        gone = [k for k in old if k not in attrs]
        if gone:
            removed[n] = gone
    entry = {"base": base_index, "graph_attrs": dict(g.graph), "node_attrs": changed}
    if removed:
        entry["removed_attrs"] = removed
    if list(base) != list(g):
        entry["node_order"] = list(g)
    return entry


def from_document(data: Any, source: str) -> SessionParts:
    """Decode and check a parsed trace document; TraceFileError (one line) if anything is off."""
    try:
        return _parts(data, source)
    except TraceFileError:
        raise
    except (_Malformed, strictjson.StrictJSONError) as exc:
        raise TraceFileError(f"{source}: {exc}") from None
    except Exception as exc:  # a safety net: any other failure is still one clear line
        raise TraceFileError(f"{source}: malformed ({type(exc).__name__}: {exc})") from None


def _parts(data: Any, source: str) -> SessionParts:
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise _Malformed(f"not a graphstage trace (no 'format: {FILE_FORMAT}' header)")
    data = decode_floats(data)
    version = data.get("version", 1)
    if type(version) is not int or version < 1:
        raise _Malformed(f"'version' must be a positive integer, got {version!r:.40}")
    if version > FILE_VERSION:
        raise _Malformed(f"written by a newer graphstage (file version {version}; this one "
                         f"reads versions 1 to {FILE_VERSION})")
    schema = data.get("schema")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise _Malformed(f"has schema {schema!r:.40}; this graphstage reads schema "
                         f"{SCHEMA_VERSION}")
    for key, typ in (("framework", str), ("model", str), ("meta", dict), ("steps", list)):
        _need(data.get(key, _MISSING), typ, repr(key))
    parts = SessionParts(data["framework"], data["model"], dict(data["meta"]))
    for i, entry in enumerate(data["steps"]):
        try:
            graph, metrics = _step(entry, parts.steps)
        except _Malformed as exc:
            raise TraceFileError(f"{source}: step {i} is malformed: {exc}") from None
        except Exception as exc:
            raise TraceFileError(f"{source}: step {i} is malformed: {type(exc).__name__}: "
                                 f"{exc}") from None
        parts.steps.append(graph)
        parts.metrics.append(metrics)
    return parts


def _step(entry: Any, steps: list[nx.DiGraph]) -> tuple[nx.DiGraph, dict]:
    _need(entry, dict, "the step")
    metrics = _metrics(entry.get("metrics", _MISSING))
    if "graph" in entry and "base" in entry:
        raise _Malformed("has both 'graph' and 'base'")
    if "graph" in entry:
        g = _graph(entry["graph"], "graph")
    elif "base" in entry:
        g = _apply_delta(entry, steps)
    else:
        raise _Malformed("has neither 'graph' nor 'base'")
    try:
        validate(g)
    except ValueError as exc:  # ContractError, or a mistyped value validate trips over
        raise _Malformed(str(exc)) from None
    except Exception as exc:
        raise _Malformed(f"breaks the contract ({type(exc).__name__}: {exc})") from None
    return g, metrics


def _metrics(m: Any) -> dict:
    _need(m, dict, "'metrics'")
    for k, v in m.items():
        if v is not None and not isinstance(v, (str, int, float)):
            raise _Malformed(f"metrics[{k!r:.40}] must be a number, string, boolean or null")
    loss = m.get("loss")
    if loss is not None and (not isinstance(loss, (int, float)) or isinstance(loss, bool)):
        raise _Malformed(f"metrics['loss'] must be a number or null, got {loss!r:.40}")
    return dict(m)


def _apply_delta(entry: dict, steps: list[nx.DiGraph]) -> nx.DiGraph:
    base = entry["base"]
    if type(base) is not int or not 0 <= base < len(steps):
        earlier = f"0..{len(steps) - 1}" if steps else "none: it is the first step"
        raise _Malformed(f"'base' {base!r:.30} is not an earlier step ({earlier})")
    graph_attrs = entry.get("graph_attrs", _MISSING)
    node_attrs = entry.get("node_attrs", _MISSING)
    removed = entry.get("removed_attrs", {})
    _need(graph_attrs, dict, "'graph_attrs'")
    _need(node_attrs, dict, "'node_attrs'")
    _need(removed, dict, "'removed_attrs'")
    g = _reordered(steps[base], entry["node_order"]) if "node_order" in entry \
        else steps[base].copy()
    g.graph = dict(graph_attrs)
    for n, names in removed.items():
        _need(names, list, f"'removed_attrs' of node {n!r:.60}")
        attrs = _node_attrs(g, n, "removed_attrs")
        for a in names:
            if type(a) is not str or a not in attrs:
                raise _Malformed(f"'removed_attrs': node {n!r:.60} has no attribute {a!r:.40}")
            del attrs[a]
    for n, changed in node_attrs.items():
        _need(changed, dict, f"'node_attrs' of node {n!r:.60}")
        _node_attrs(g, n, "node_attrs").update(_children_from_data(changed, f"node {n!r:.60}"))
    return g


def _reordered(base: nx.DiGraph, order: Any) -> nx.DiGraph:
    """A copy of ``base`` with its nodes in ``order`` (each node's out-edges keep their order)."""
    _need(order, list, "'node_order'")
    if len(order) != len(base) or not all(type(n) is str and n in base for n in order) \
            or len(set(order)) != len(order):
        raise _Malformed("'node_order' is not an ordering of the base step's nodes")
    g = nx.DiGraph()
    g.add_nodes_from((n, dict(base.nodes[n])) for n in order)
    adj = base.adj
    g.add_edges_from((u, v, dict(d)) for u in order for v, d in adj[u].items())
    return g


def _node_attrs(g: nx.DiGraph, n: str, key: str) -> dict:
    if n not in g:
        raise _Malformed(f"{key!r} names node {n!r:.60}, which the base step does not have")
    return g.nodes[n]


# ---- files -------------------------------------------------------------------------------------

def write(path: str | os.PathLike, document: dict) -> Path:
    """Write a document as compact strict JSON, atomically (a crash never leaves half a file)."""
    path = Path(path)
    text = strictjson.dumps(document)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def read(path: str | os.PathLike) -> Any:
    """The parsed JSON of a file (checked by from_document); TraceFileError if unreadable."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise TraceFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceFileError(f"{path}: is a directory, not a trace file") from None
    except OSError as exc:
        raise TraceFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return strictjson.loads(raw)
    except strictjson.StrictJSONError as exc:
        raise TraceFileError(f"{path}: {exc}") from None



