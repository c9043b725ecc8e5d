"""Trace files on disk: strict JSON out, strict checks in, one clear line for every bad file.

The format is described in docs/contract.md ("Trace sessions and files"). In short: a header
(``format``, ``version``, ``schema``, ``framework``, ``model``, ``meta``) and a list of steps,
each either a full graph (networkx node-link data) or a reference to an earlier step plus the node
attributes that changed and the ones that were removed. Files are strict JSON (RFC 8259): a
non-finite float is written as ``{"$float": "nan" | "inf" | "-inf"}`` and restored on load;
files of version 1 (``NaN``/``Infinity`` tokens) still load. Reading never runs code and never
fails with anything but :class:`TraceFileError`, whose message is one line.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from graphstage.tracers.contract import SCHEMA_VERSION, structure_signature, validate

FILE_FORMAT = "graphstage-trace"
FILE_VERSION = 2          # 1: NaN tokens, no removed attributes; 2: strict JSON, removals kept
FLOAT_TAG = "$float"      # {"$float": "nan"} stands for a non-finite float
MAX_DEPTH = 200           # deepest JSON nesting a file may have (a trace needs about 8 + 4/child)
MAX_INT = 2**63           # integers must fit in 64 bits (what strict readers in C/Java/Rust take)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_MESSAGE_LIMIT = 400
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


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

def encode_floats(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its ``{"$float": ...}`` form (copies only
    the containers that change)."""
    if isinstance(obj, float):
        if obj - obj == 0.0:  # finite
            return obj
        return {FLOAT_TAG: "nan" if obj != obj else ("inf" if obj > 0 else "-inf")}
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return obj
    out = None
    for k, v in items:
        t = type(v)
        if t is str or t is int or t is bool or v is None or (t is float and v - v == 0.0):
            continue  # the common leaves, without a call
        new = encode_floats(v)
        if new is not v:
            out = (dict(obj) if isinstance(obj, dict) else list(obj)) if out is None else out
            out[k] = new
    if out is None:
        return obj if not isinstance(obj, tuple) else list(obj)
    return out


def decode_floats(obj: Any, depth: int = 0) -> Any:
    """Inverse of encode_floats for parsed JSON; also enforces MAX_DEPTH and MAX_INT."""
    if depth > MAX_DEPTH:
        raise _Malformed(f"nested more than {MAX_DEPTH} levels deep")
    is_dict = type(obj) is dict
    if is_dict:
        if FLOAT_TAG in obj and len(obj) == 1:
            return _tagged_float(obj[FLOAT_TAG])
        items: Any = obj.items()
    elif type(obj) is list or type(obj) is tuple:
        items = enumerate(obj)
    else:
        return _scalar(obj)
    out = None
    for k, v in items:
        t = type(v)
        if t is str or t is float or t is bool or v is None:
            continue  # the common leaves, without a call
        if t is int:
            if -MAX_INT <= v < MAX_INT:
                continue
            new = _scalar(v)
        elif t is dict or t is list or t is tuple:
            new = decode_floats(v, depth + 1)
        else:
            new = _scalar(v)
        if new is not v:
            out = (dict(obj) if is_dict else list(obj)) if out is None else out
            out[k] = new
    return obj if out is None else out


def _scalar(v: Any) -> Any:
    """A JSON scalar as it is, or _Malformed (an out-of-range integer, a non-JSON object)."""
    if type(v) is int and not -MAX_INT <= v < MAX_INT:
        digits = str(v)
        shown = digits if len(digits) <= 24 else f"{digits[:20]}... ({len(digits)} digits)"
        raise _Malformed(f"integer {shown} does not fit in 64 bits")
    if v is None or isinstance(v, (str, int, float)):  # bool is an int; str/float subclasses
        return v
    raise _Malformed(f"{type(v).__name__} is not a JSON value")


def _tagged_float(name: Any) -> float:
    if isinstance(name, str) and name in _NONFINITE:
        return _NONFINITE[name]
    raise _Malformed(f"{{{FLOAT_TAG!r}: {name!r:.40}}} is not one of 'nan', 'inf', '-inf'")


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
    except _Malformed as exc:
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
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
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
    return parse_json(raw, str(path))


def parse_json(raw: bytes, source: str) -> Any:
    """Bytes to parsed JSON; every failure is a TraceFileError naming ``source``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceFileError(f"{source}: not a graphstage trace (not UTF-8 text: byte "
                             f"0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFileError(f"{source}: not valid JSON, truncated or corrupt ({exc.msg}: "
                             f"line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise TraceFileError(f"{source}: JSON nested too deeply (a trace file has at most "
                             f"{MAX_DEPTH} levels)") from None
    except ValueError:  # an integer with more digits than Python converts
        raise TraceFileError(f"{source}: a number has too many digits") from None
    if _SURROGATE.search(text):
        _check_surrogates(data, source)
    return data


def _check_surrogates(data: Any, source: str) -> None:
    """Reject strings holding unpaired UTF-16 surrogates (\\ud800 alone): no UTF-8 for them."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise TraceFileError(f"{source}: a string holds an unpaired UTF-16 surrogate escape "
                             "(\\ud800-\\udfff), which is not text") from None
    except (RecursionError, ValueError):
        pass  # too deep or non-finite: from_document words those
