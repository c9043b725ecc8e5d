"""Readable scopes for TensorFlow ops: name scopes mapped onto the layer paths of the variables.

TensorFlow makes a name scope unique each time it is entered, so a Keras layer's ops land in
``dynamic_net_1/hidden_layer_3`` while its variables keep the layer's path
(``dynamic_net/hidden_layer/kernel``). Mapping each suffixed scope component back to its layer,
numbered per call like the PyTorch tracer's module scopes (``hidden_layer``, ``hidden_layer#1``,
...), puts a layer's ops in the group of its variables. Which layer a scope belongs to is learnt
from the ops in it that read the layer's variables, not guessed from names: Keras' own naming
(layers ``dense`` and ``dense_1`` called in scopes ``dense_1`` and ``dense_1_2``) defeats that.
A gradient op (``gradient_tape/dynamic_net_1/hidden_layer_3/MatMul/MatMul_1``) takes the scope
of the forward op it differentiates, as the PyTorch tracer's backward nodes take their module's:
each layer's group holds its forward ops, their gradients and its variables. The raw TF op name,
tape scope included, stays in ``name``.
"""

from __future__ import annotations

import re

import networkx as nx

VARIABLE_OPS = frozenset({"Variable", "VarHandleOp"})  # the op of tf_convert's variable nodes


def is_variable(attrs: dict) -> bool:
    """Whether a converted node stands for a tf.Variable (trainable or not), by its attributes."""
    return attrs["op"] in VARIABLE_OPS and attrs["kind"] in ("parameter", "constant")


class ScopeMap:
    """Raw TF scope -> readable scope, learnt from ops that read a layer's variables.

    ``learn(raw, layer)`` aligns the scope of such an op with the variable's layer path
    component by component (``net_1/dense_1`` with ``net/dense``: each raw component is the
    layer's or has a ``_<n>`` suffix); the calls of one layer under one parent are numbered in
    the order they are learnt (``dense``, ``dense#1``, ...). Call it in execution order.
    """

    def __init__(self) -> None:
        self.known: dict[str, str] = {}
        self.calls: dict[str, list[str]] = {}   # readable parent + layer component -> raw scopes

    def learn(self, raw: str, layer: str) -> None:
        """Evidence: an op in scope raw reads a variable of the layer at path layer."""
        r, lp = raw.split("/"), layer.split("/")
        if not layer or len(r) < len(lp) or not all(
                rc == lc or (rc.startswith(lc + "_") and rc[len(lc) + 1:].isdigit())
                for rc, lc in zip(r, lp, strict=False)):
            return
        mapped = ""
        for k, lc in enumerate(lp, start=1):
            rk = "/".join(r[:k])
            if rk not in self.known:
                slot = f"{mapped}/{lc}" if mapped else lc
                calls = self.calls.setdefault(slot, [])
                calls.append(rk)
                self.known[rk] = slot if len(calls) == 1 else f"{slot}#{len(calls) - 1}"
            mapped = self.known[rk]

    def __call__(self, raw: str) -> str:
        """The readable form of raw: its longest learnt prefix mapped, the rest kept."""
        parts = raw.split("/")
        for k in range(len(parts), 0, -1):
            mapped = self.known.get("/".join(parts[:k]))
            if mapped is not None:
                rest = "/".join(parts[k:])
                return f"{mapped}/{rest}" if rest else mapped
        return raw


def tidy_scopes(g: nx.DiGraph, grad_component: re.Pattern) -> None:
    """Rewrite the `scope` of every op node of a converted graph (parameters keep theirs)."""
    scopes = ScopeMap()
    for n, a in g.nodes(data=True):
        if is_variable(a):
            continue
        for p in g.predecessors(n):
            pa = g.nodes[p]
            if is_variable(pa):
                scopes.learn(_scope(a.get("name", n)), _scope(pa["name"]))
    forward_scope: dict[str, str] = {}
    grads: list[tuple[dict, list[str]]] = []
    for n, a in g.nodes(data=True):
        if is_variable(a):
            continue
        parts = a.get("name", n).split("/")
        idx = max((i for i, c in enumerate(parts[:-1]) if grad_component.match(c)), default=None)
        if idx is None:
            a["scope"] = forward_scope[a.get("name", n)] = scopes("/".join(parts[:-1]))
        else:
            grads.append((a, parts[idx + 1:-1]))
    for a, rest in grads:
        fwd = g.nodes[a["forward"]] if a.get("forward") in g else None
        if fwd is not None:
            a["scope"] = fwd["scope"]
            continue
        for k in range(len(rest), 0, -1):  # under a forward op's name: that op's scope
            owner = forward_scope.get("/".join(rest[:k]))
            if owner is not None:
                a["scope"] = owner
                break
        else:
            a["scope"] = scopes("/".join(rest))


def _scope(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""
