"""The same layer across frameworks: a node of one pane's step graph and its counterpart in the
other's, matched by layer call (module path ↔ Keras layer, call index kept), phase, kind and,
for parameters, the role of the tensor (weight ↔ kernel, bias ↔ bias). Pure Python."""

from __future__ import annotations

import re
from typing import Any

_ROLE = {"weight": "kernel", "kernel": "kernel", "bias": "bias"}
_SEP = re.compile(r"[/.]")


def layer_call(scope: str) -> str:
    """The last scope segment with its call index: 'dynamic_net/hidden_layer#2' and
    'hidden_layer#2' both give 'hidden_layer#2'."""
    return _SEP.split(scope or "")[-1]


def _role(attrs: dict) -> str:
    name = str(attrs.get("name") or attrs.get("label") or "")
    return _ROLE.get(_SEP.split(name)[-1].lower(), "")


def counterpart(graph: Any, node: str, other: Any) -> str | None:
    """The node of ``other`` that plays the part ``node`` plays in ``graph``, or None."""
    a = graph.nodes[node]
    call = layer_call(a.get("scope", ""))
    if not call:
        return None
    same_layer = [(n, b) for n, b in other.nodes(data=True)
                  if layer_call(b.get("scope", "")) == call and b.get("phase") == a.get("phase")]
    if not same_layer:
        return None
    same_kind = [(n, b) for n, b in same_layer if b.get("kind") == a.get("kind")] or same_layer
    if a.get("kind") == "parameter":
        role = _role(a)
        same_kind = [(n, b) for n, b in same_kind if _role(b) == role] or same_kind
    ran = sorted(same_kind, key=lambda nb: (nb[1].get("order", -1) < 0, nb[1].get("order", 0)))
    return ran[0][0]
