"""Memory attributes of TensorFlow step graphs, from the concrete function's graph: each
forward op's `output_bytes` and each backward op's `saved_bytes` (with its `saved` entries).

TensorFlow keeps no per-op record of what the tape retains: inside a tf.function the gradient
ops simply read forward tensors, so those tensors stay alive until their last backward reader
ran. That is what is counted here, from static shapes and dtypes (no allocator-level
information: fused kernels' temporaries, in-place reuse and the executor's buffer forwarding are
not seen). See docs/tensorflow.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.tf_convert import dtype_of, shape_of

# dtypes whose tensors hold no data of their own (handles) or whose size shapes cannot tell
_NO_DATA = frozenset({"resource", "variant"})
_UNSIZED = frozenset({"string"})


def tensor_bytes(tensor: Any) -> int | None:
    """Bytes of a tensor from its static shape and dtype; None when a dimension (or the rank)
    is unknown or the dtype's size is not fixed (strings); 0 for handles."""
    name = dtype_of(tensor)
    if name in _NO_DATA:
        return 0
    shape = shape_of(tensor)
    if shape is None or any(d < 0 for d in shape):
        return None
    return _bytes_of(shape, tensor)


def runtime_shapes(fills: list[tuple[str, list[tuple[str, int]]]],
                   summaries: list[dict]) -> dict[str, list[int]]:
    """Node -> the runtime shape of its output from this run's value summary, where the
    summary has a fully known one (the first run summarises in numpy: real shapes)."""
    out = {}
    for node, attrs in fills:
        for attr, i in attrs:
            shape = summaries[i].get("shape") if attr == "value" else None
            if isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape):
                out[node] = shape
    return out


def annotate_memory(g: nx.DiGraph, graph: Any, node_of: Mapping[str, str],
                    shapes: Mapping[str, list[int]] | None = None) -> None:
    """Set `output_bytes` on g's executed forward op nodes and `saved_bytes`/`saved` on the
    backward nodes that read forward tensors (g: the template, converted from `graph`). An
    output (or saved tensor) with unknown dimensions takes its node's runtime shape from
    `shapes` when it is the node's first output (and, for output_bytes, its only one)."""
    nodes = g.nodes
    shapes = shapes or {}
    out_bytes: dict[str, int | None] = {}
    readers: dict[str, tuple[Any, str, list[str]]] = {}  # tensor -> (tensor, producer, readers)
    for op in graph.get_operations():
        nid = node_of.get(op.name, op.name)
        a = nodes.get(nid) if nid in nodes else None
        if a is None:
            continue
        if _is_forward_op(a) and nid == op.name:
            sizes = [tensor_bytes(t) for t in op.outputs]
            if sizes == [None] and nid in shapes:
                sizes = [_bytes_of(shapes[nid], op.outputs[0])]
            out_bytes[nid] = None if None in sizes else sum(s for s in sizes if s)
        if a["phase"] != "backward":
            continue
        for t in op.inputs:
            src = node_of.get(t.op.name, t.op.name)
            if src in nodes and nodes[src]["phase"] == "forward" and t.op.type != "Const" and \
                    src != nid:
                readers.setdefault(t.name, (t, src, []))[2].append(nid)
    for nid, size in out_bytes.items():
        if size is not None:
            nodes[nid]["output_bytes"] = size
    for t, src, users in readers.values():
        size = tensor_bytes(t)
        if size is None and t.value_index == 0 and src in shapes:
            size = _bytes_of(shapes[src], t)
        if not size:
            continue
        first = min(users, key=lambda n: (nodes[n]["order"] < 0, nodes[n]["order"]))
        a = nodes[first]
        a["saved_bytes"] = a.get("saved_bytes", 0) + size
        a.setdefault("saved", []).append({"name": t.name, "shape": shape_of(t),
                                          "dtype": dtype_of(t), "from": src, "bytes": size})


def _bytes_of(shape: list[int], tensor: Any) -> int | None:
    if dtype_of(tensor) in _UNSIZED:
        return None
    n = int(getattr(tensor.dtype, "size", 0) or 0)
    for d in shape:
        n *= d
    return n


def _is_forward_op(a: Mapping[str, Any]) -> bool:
    return a["phase"] == "forward" and a["kind"] not in SOURCE_KINDS and a["order"] >= 0
