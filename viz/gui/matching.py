"""The same layer across frameworks: a node of one pane's step graph and its counterpart in the
other's, matched by layer call (module path ↔ Keras layer, call index kept), phase, kind and,
for parameters, the role of the tensor (weight ↔ kernel, bias ↔ bias). A node inside a layer's
own sub-scope (Keras's 'hidden_layer/adam/kernel' update ops) matches through its layer when
the other framework has no such sub-scope, and a folded layer group matches the other pane's
same layer call in the same phase. Layers named differently in the two scripts (torch's fc1, fc2
and Keras's dense, dense_1) are paired by order when their parameters have the same shapes (a
weight [512, 784] and a kernel [784, 512] alike). Pure Python."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from graphstage.viz.hgroups import scope_prefixes

_ROLE = {"weight": "kernel", "kernel": "kernel", "bias": "bias"}
_SEP = re.compile(r"[/.]")


def layer_call(scope: str) -> str:
    """The last scope segment with its call index: 'dynamic_net/hidden_layer#2' and
    'hidden_layer#2' both give 'hidden_layer#2'."""
    return _SEP.split(scope or "")[-1]


@lru_cache(maxsize=1 << 14)
def layer_calls(scope: str) -> tuple[str, ...]:
    """The layer calls enclosing scope, innermost first: 'hidden_layer/adam/kernel' gives
    ('kernel', 'adam', 'hidden_layer')."""
    return tuple(layer_call(p) for p in reversed(scope_prefixes(scope or "")))


def _role(attrs: dict) -> str:
    name = str(attrs.get("name") or attrs.get("label") or "")
    return _ROLE.get(_SEP.split(name)[-1].lower(), "")


_PAIRS: WeakKeyDictionary = WeakKeyDictionary()   # graph -> {other graph: {layer: layer}}


def _layers(graph: Any) -> list[tuple[str, tuple]]:
    """The layers holding parameters, in the order they first run forward, each with its
    parameters' shapes (each shape's sizes sorted: a weight and its transposed kernel agree)."""
    shapes: dict[str, list[tuple]] = {}
    first: dict[str, int] = {}
    for _, a in graph.nodes(data=True):
        call = layer_call(a.get("scope", ""))
        if a.get("kind") == "parameter" and call:
            shapes.setdefault(call, []).append(tuple(sorted(a.get("shape") or ())))
    for _, a in graph.nodes(data=True):
        if a.get("phase") == "forward" and a.get("order", -1) >= 0:
            for call in layer_calls(a.get("scope", "")):
                base = call.split("#")[0]
                if base in shapes:
                    first[base] = min(first.get(base, a["order"]), a["order"])
    ranked = sorted(shapes, key=lambda c: first.get(c, 1 << 60))
    return [(c, tuple(sorted(shapes[c]))) for c in ranked]


def layer_pairs(graph: Any, other: Any) -> dict[str, str]:
    """Layer names of graph -> other's layer of the same rank when the two are named
    differently but hold parameters of the same shapes (fc1 -> dense, fc2 -> dense_1)."""
    known = _PAIRS.setdefault(graph, WeakKeyDictionary())
    if other not in known:
        mine, theirs = _layers(graph), _layers(other)
        names = {c for c, _ in theirs}
        pairs = {}
        if len(mine) == len(theirs):
            for (a, sa), (b, sb) in zip(mine, theirs, strict=True):
                if sa == sb and a != b and a not in names:
                    pairs[a] = b
        known[other] = pairs
    return known[other]


def _aliases(scope: str, graph: Any, other: Any) -> list[str]:
    """scope's layer calls, innermost first, each followed by its paired name in other (the
    call index kept: 'fc1#1' -> 'dense#1')."""
    pairs = layer_pairs(graph, other) if graph is not None else {}
    out = []
    for call in layer_calls(scope):
        out.append(call)
        base, sep, idx = call.partition("#")
        if base in pairs:
            out.append(pairs[base] + sep + idx)
    return out


def _same_layer(scope: str, phase: Any, other: Any,
                graph: Any = None) -> list[tuple[str, dict, int]]:
    """Nodes of other in the same phase and the innermost of scope's layer calls that other
    has (by name, else by rank and parameter shapes), each with how deep under that call it
    sits (0: directly in it)."""
    for call in _aliases(scope, graph, other):
        found = []
        for n, b in other.nodes(data=True):
            if b.get("phase") != phase:
                continue
            calls = layer_calls(b.get("scope", ""))
            if call in calls:
                found.append((n, b, calls.index(call)))
        if found:
            return found
    return []


def counterpart(graph: Any, node: str, other: Any, scope: str | None = None) -> str | None:
    """The node of ``other`` that plays the part ``node`` plays in ``graph``, or None; with
    ``scope`` (a folded group's scope), the first node of that layer call in node's phase."""
    a = graph.nodes[node]
    found = _same_layer(a.get("scope", "") if scope is None else scope, a.get("phase"), other,
                        graph)
    if not found:
        return None
    if scope is None:
        found = [f for f in found if f[1].get("kind") == a.get("kind")] or found
        if a.get("kind") == "parameter":
            role = _role(a)
            found = [f for f in found if _role(f[1]) == role] or found
    ran = sorted(found, key=lambda f: (f[2], f[1].get("order", -1) < 0, f[1].get("order", 0)))
    return ran[0][0]
