"""Scopes for the ops TensorFlow names outside their layer, and optimizer updates per variable.

- ``attach_strays``: ops left at the top level that are not forward ops (gradient
  accumulations ``AddN_7``, the ops of a custom gradient such as swish's ``Sigmoid_37``,
  ``sub_74``, the ``ones`` seed, an optimizer's ``iteration`` increment) join the group their
  data belongs to: each connected cluster of them takes the scope of the variable it writes,
  else the layer of the forward ops that read the same forward tensors (a custom gradient reads
  its layer's input), else of the gradient ops that consume it (an ``AddN`` accumulates the
  gradient its consumer differentiates), else of its producers. Dead ones (``zeros_4``) join
  the op after them. A constant or captured input named under an op (``sub_74/x``,
  ``net_1/dense_1/MatMul/a``) or read by ops of one scope joins them.
- ``group_updates``: a Keras optimizer runs every variable's update in its one name scope
  (``adam/Mul_373``: about 7,300 of ResNet50's 12,875 ops). Each op there that only feeds the
  update of one trainable variable (directly or through the variable's slots, ``m`` and ``v``)
  moves to ``<variable's scope>/<optimizer>/<variable>``, e.g. ``conv1_conv/adam/kernel``, the
  slot variables with it; what several variables share (iteration counter, learning rate)
  stays in the optimizer's scope. Phases do not change.
"""

from __future__ import annotations

from collections import Counter

import networkx as nx

VARIABLE_OPS = frozenset({"Variable", "VarHandleOp"})  # the op of tf_convert's variable nodes


def is_variable(attrs: dict) -> bool:
    """Whether a converted node stands for a tf.Variable (trainable or not), by its attributes."""
    return attrs["op"] in VARIABLE_OPS and attrs["kind"] in ("parameter", "constant")


def attach_strays(g: nx.DiGraph, unplaced: set[str]) -> None:
    """Give top-level non-forward ops and constants the scope of the layer they belong to
    (unplaced: the ops whose name says nothing of where they belong; a gradient op that
    mirrors a top-level forward op stays beside it)."""
    nodes = g.nodes
    # in graph order (not set order): a cluster's scope votes read the scopes set before it
    stray_order = [n for n in g if n in unplaced and not nodes[n]["scope"]
                   and nodes[n]["phase"] != "forward" and nodes[n]["op"] != "Const"]
    stray = set(stray_order)
    done: set[str] = set()
    for n in stray_order:
        if n in done:
            continue
        cluster = _cluster(g, n, stray)
        done |= cluster
        scope = _cluster_scope(g, [m for m in stray_order if m in cluster])
        if scope:
            for m in cluster:
                nodes[m]["scope"] = scope
    _attach_dead(g, unplaced)
    for n, a in g.nodes(data=True):
        if (a["op"] != "Const" and a["kind"] != "input") or is_variable(a):
            continue
        owner = a.get("name", n).rpartition("/")[0]
        if owner in g and nodes[owner]["scope"] != a["scope"]:
            a["scope"] = nodes[owner]["scope"]
        elif not a["scope"]:
            used = {nodes[s]["scope"] for s in g.successors(n)}
            if len(used) == 1:
                a["scope"] = used.pop()


def _attach_dead(g: nx.DiGraph, unplaced: set[str]) -> None:
    """Dead top-level ops (zeros TensorFlow's gradient code makes for an unused output's
    gradient, right before the custom gradient that ignores them) join the next placed op in
    the graph's order (topological, ties in creation order)."""
    nodes = g.nodes
    order = list(g)
    dead = {n for n in unplaced if not nodes[n]["scope"] and g.out_degree(n) == 0
            and nodes[n]["kind"] in ("op", "constant") and nodes[n]["op"] != "NoOp"}
    if not dead:
        return
    scope = ""
    for n in reversed(order):
        a = nodes[n]
        if n in dead:
            a["scope"] = scope
        elif a["scope"] and a["op"] != "Const" and not is_variable(a):
            scope = a["scope"]


def _data(g: nx.DiGraph, u: str, v: str) -> bool:
    return g.edges[u, v].get("role") != "control"


def _cluster(g: nx.DiGraph, start: str, stray: set[str]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        n = stack.pop()
        for m in [p for p in g.predecessors(n) if _data(g, p, n)] + \
                [s for s in g.successors(n) if _data(g, n, s)]:
            if m in stray and m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _cluster_scope(g: nx.DiGraph, ordered: list[str]) -> str:
    """The scope most votes give a cluster (its ops in graph order: ties go to the first)."""
    nodes = g.nodes
    cluster = set(ordered)
    writes: Counter = Counter()
    saved: Counter = Counter()
    consumers: Counter = Counter()
    producers: Counter = Counter()
    for n in ordered:
        target = nodes[n].get("param") if nodes[n]["kind"] == "update" else None
        if target in g and nodes[target]["scope"]:
            writes[nodes[target]["scope"]] += 1
        for p in g.predecessors(n):
            if p in cluster or not _data(g, p, n):
                continue
            pa = nodes[p]
            if pa["scope"] and not is_variable(pa):
                producers[pa["scope"]] += 1
            if pa["phase"] == "forward" and pa["op"] != "Const":
                for s in g.successors(p):
                    sa = nodes[s]
                    if sa["phase"] == "forward" and sa["scope"] and sa["scope"] != pa["scope"]:
                        saved[sa["scope"]] += 1
        for s in g.successors(n):
            sa = nodes[s]
            if s not in cluster and sa["scope"] and sa["phase"] != "forward" and _data(g, n, s):
                consumers[sa["scope"]] += 1
    for votes in (writes, saved, consumers, producers):
        if votes:
            return votes.most_common(1)[0][0]
    return ""


def group_updates(g: nx.DiGraph, optimizers: set[str]) -> None:
    """Move each trainable variable's optimizer ops into ``<its scope>/<optimizer>/<name>``."""
    nodes = g.nodes
    in_opt = {n for n, a in g.nodes(data=True)
              if a["phase"] == "update" and a["scope"].split("/", 1)[0].lower() in optimizers}
    if not in_opt:
        return
    writes: dict[str, list[str]] = {}
    for n in in_opt:
        target = nodes[n].get("param")
        if nodes[n]["kind"] == "update" and target:
            writes.setdefault(target, []).append(n)
    owner: dict[str, str | None] = {}
    for p, a in g.nodes(data=True):
        if a["kind"] == "parameter" and p in writes:
            _claim(g, p, writes, in_opt, owner)
    for n in in_opt - owner.keys():  # read one gradient and feed no update (dead Identity)
        grads = {nodes[q].get("param") for q in g.predecessors(n) if nodes[q]["kind"] == "grad_acc"}
        if len(grads) == 1 and (p := grads.pop()) in g:
            owner[n] = p
    for n, p in owner.items():
        if p is None:
            continue
        pa = nodes[p]
        opt = nodes[n]["scope"].split("/", 1)[0]
        short = pa.get("name", p).rsplit("/", 1)[-1]
        nodes[n]["scope"] = f"{pa['scope']}/{opt}/{short}" if pa["scope"] else f"{opt}/{short}"


def _claim(g: nx.DiGraph, p: str, writes: dict[str, list[str]], in_opt: set[str],
           owner: dict[str, str | None]) -> None:
    """Mark the optimizer ops (and slot variables) that feed p's updates as p's, or as shared
    (None) when another variable's updates claimed them first. Slot variables are optimizer
    variable nodes, in the optimizer's scope like its ops."""
    stack = list(writes.get(p, ()))
    seen = set(stack)
    while stack:
        n = stack.pop()
        prev = owner.get(n, p)
        owner[n] = p if prev == p else None
        for q in g.predecessors(n):
            if q in seen or q not in in_opt:
                continue
            seen.add(q)
            stack.append(q)
            if q in writes:  # a slot variable: its own updates feed p too
                for w in writes[q]:
                    if w not in seen:
                        seen.add(w)
                        stack.append(w)
