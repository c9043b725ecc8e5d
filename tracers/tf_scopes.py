"""Readable scopes for TensorFlow ops: each Keras layer's ops, gradients, variables and optimizer
updates in that layer's group.

TensorFlow makes a name scope unique each time it is entered, so a Keras layer's ops land in
``dynamic_net_1/hidden_layer_3`` (or ``mobilenetv2_1.00_64_1/bn_Conv1_1``) while its variables
keep the layer's path (``dynamic_net/hidden_layer/kernel``, ``bn_Conv1/gamma``). Each suffixed
scope is mapped back to its layer, numbered per call like the PyTorch tracer's module scopes
(``hidden_layer``, ``hidden_layer#1``, ...); the traced model itself is no scope level.

Which layer a scope belongs to comes from Keras itself where TensorFlow traced the step under
the tracer (tracers/tf_keras_scopes.py records the layer that opened every name scope: layers
without variables, nested models and losses included); otherwise it is learnt from the ops in a
scope that read a layer's variables (Keras' own naming defeats a guess from names: layers
``dense`` and ``dense_1`` are called in scopes ``dense_1`` and ``dense_1_2``).

A gradient op (``gradient_tape/dynamic_net_1/hidden_layer_3/MatMul/MatMul_1``) takes the scope
of the forward op it differentiates; gradient code TensorFlow names outside any scope (``AddN``
accumulations, custom gradients such as swish's) joins the layer it belongs to
(tracers/tf_scope_fixups.py), and so do optimizer updates, grouped per variable. The raw TF op
name, tape scope included, stays in ``name``. Last, the flat layer lists of functional models
get the groups their names spell (``block/block_1/block_1_expand``; tracers/tf_layer_groups.py).
"""

from __future__ import annotations

import re
from typing import Any

import networkx as nx

from graphstage.tracers.tf_scope_fixups import (  # noqa: F401 - is_variable is used here too
    VARIABLE_OPS,
    attach_strays,
    group_updates,
    is_variable,
)


class ScopeMap:
    """Raw TF scope -> readable scope.

    From Keras' records (``names``: raw scope -> Keras name, None for a dropped model scope)
    every prefix of a raw scope maps on first use; without them ``learn(raw, layer)`` aligns
    the scope of an op that reads a variable with the variable's layer path component by
    component (``net_1/dense_1`` with ``net/dense``). Either way the calls of one layer under
    one parent are numbered in the order they are first seen (``dense``, ``dense#1``, ...):
    use it in execution order.
    """

    def __init__(self, names: dict[str, str | None] | None = None) -> None:
        self.names = names
        self.known: dict[str, str] = {}
        self.calls: dict[str, list[str]] = {}   # readable parent + layer component -> raw scopes

    def _slot(self, rk: str, parent: str, name: str) -> str:
        slot = f"{parent}/{name}" if parent else name
        calls = self.calls.setdefault(slot, [])
        calls.append(rk)
        return slot if len(calls) == 1 else f"{slot}#{len(calls) - 1}"

    def learn(self, raw: str, layer: str) -> None:
        """Evidence: an op in scope raw reads a variable of the layer at path layer. Raw
        components before the layer's path (a functional model's own scope, whose layers'
        variables do not carry its name) are no scope level, like the traced model."""
        r, lp = raw.split("/"), layer.split("/")
        if not layer:
            return
        for i in range(len(r) - len(lp) + 1):
            if all(rc == lc or (rc.startswith(lc + "_") and rc[len(lc) + 1:].isdigit())
                   for rc, lc in zip(r[i:], lp, strict=False)):
                break
        else:
            return
        for k in range(1, i + 1):
            self.known.setdefault("/".join(r[:k]), "")
        mapped = ""
        for k, lc in enumerate(lp, start=i + 1):
            rk = "/".join(r[:k])
            if rk not in self.known:
                self.known[rk] = self._slot(rk, mapped, lc)
            mapped = self.known[rk]

    def _from_names(self, raw: str) -> str:
        assert self.names is not None
        parts = raw.split("/")
        mapped = ""
        for k in range(1, len(parts) + 1):
            rk = "/".join(parts[:k])
            got = self.known.get(rk)
            if got is None:
                if rk in self.names:
                    name = self.names[rk]
                    got = mapped if name is None else self._slot(rk, mapped, name)
                else:
                    got = f"{mapped}/{parts[k - 1]}" if mapped else parts[k - 1]
                self.known[rk] = got
            mapped = got
        return mapped

    def __call__(self, raw: str) -> str:
        """The readable form of raw: its longest learnt prefix mapped, the rest kept."""
        if self.names is not None and raw:
            return self._from_names(raw)
        parts = raw.split("/")
        for k in range(len(parts), 0, -1):
            mapped = self.known.get("/".join(parts[:k]))
            if mapped is not None:
                rest = "/".join(parts[k:])
                return f"{mapped}/{rest}" if rest and mapped else mapped or rest
        return raw


def tidy_scopes(g: nx.DiGraph, grad_component: re.Pattern, keras: Any = None,
                optimizer_scopes: frozenset[str] | set[str] = frozenset()) -> None:
    """Rewrite the `scope` of every node of a converted graph: ops to their layer's call scope,
    gradients to their forward op's, variables to their layer's, optimizer updates per variable
    (keras: a tracers.tf_keras_scopes.KerasScopes, or None to learn from variable reads)."""
    scopes = ScopeMap(keras.names if keras is not None else None)
    if keras is None:
        _learn_from_reads(g, scopes)
    forward_scope: dict[str, str] = {}
    grads: list[tuple[str, dict, list[str]]] = []
    unplaced: set[str] = set()
    for n, a in g.nodes(data=True):
        if is_variable(a):
            continue
        parts = a.get("name", n).split("/")
        idx = max((i for i, c in enumerate(parts[:-1]) if grad_component.match(c)), default=None)
        if idx is None:
            a["scope"] = forward_scope[a.get("name", n)] = scopes("/".join(parts[:-1]))
            if len(parts) == 1:
                unplaced.add(n)
        else:
            grads.append((n, a, parts[idx + 1:-1]))
    for n, a, rest in grads:
        a["scope"] = _grad_scope(g, a, rest, forward_scope, scopes)
        if not rest and a.get("forward") not in g:
            unplaced.add(n)
    if keras is not None:
        _param_scopes(g, keras.params)
    attach_strays(g, unplaced)
    opt = {s.lower() for s in [*optimizer_scopes, *(keras.optimizers if keras else ())]}
    group_updates(g, opt)
    if keras is not None and keras.nest:
        nest_layers(g, keras.nest)


def nest_layers(g: nx.DiGraph, nest: dict[str, str]) -> None:
    """Put each layer's scope (ops, gradients, variables, updates alike) under the name groups
    of its layer path (``block_1_expand/adam/kernel`` -> ``block/block_1/block_1_expand/...``;
    nest from tracers/tf_layer_groups.py via KerasScopes.nest)."""
    done: dict[str, str] = {}
    for _, a in g.nodes(data=True):
        scope = a["scope"]
        if scope and scope not in done:
            out: list[str] = []
            path = ""
            for part in scope.split("/"):
                path = f"{path}/{part.split('#')[0]}" if path else part.split("#")[0]
                group = nest.get(path)
                if group:
                    out.append(group)
                out.append(part)
            done[scope] = "/".join(out)
        if scope:
            a["scope"] = done[scope]


def _learn_from_reads(g: nx.DiGraph, scopes: ScopeMap) -> None:
    for n, a in g.nodes(data=True):
        if is_variable(a):
            continue
        for p in g.predecessors(n):
            pa = g.nodes[p]
            if is_variable(pa):
                scopes.learn(_scope(a.get("name", n)), _scope(pa["name"]))


def _grad_scope(g: nx.DiGraph, a: dict, rest: list[str], forward_scope: dict[str, str],
                scopes: ScopeMap) -> str:
    """A gradient op's scope: its forward op's, else the forward op's whose name its TF scope
    mirrors, else the mirrored scope itself."""
    fwd = g.nodes[a["forward"]] if a.get("forward") in g else None
    if fwd is not None:
        return fwd["scope"]
    for k in range(len(rest), 0, -1):
        owner = forward_scope.get("/".join(rest[:k]))
        if owner is not None:
            return owner
    return scopes("/".join(rest))


def _param_scopes(g: nx.DiGraph, params: dict[str, str]) -> None:
    """Variables into the scope of the layer that owns them (its first call)."""
    for _, a in g.nodes(data=True):
        if is_variable(a) and a.get("name") in params:
            a["scope"] = params[a["name"]]


def _scope(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""
