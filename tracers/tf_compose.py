"""One step graph from the graphs of several tf.function calls made in one step.

A GAN step that runs the discriminator's train function and then the generator's is one step
graph: each call is a top-level group (scope = the call's label, e.g. ``train_d``,
``train_g``, ``one_step_on_data#1``), node ids and keys are prefixed with it so they stay unique
and stable across steps (``train_d/dense/MatMul``, ``grad:train_d/dense/kernel``), the
variables both calls read are one node (``param:dense/kernel``: value before the step's first
call, gradient from the call that computed one), and ``order`` runs on through the calls.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

_PREFIXED = ("input:", "grad:", "update:")


def _is_variable(a: dict) -> bool:
    return a["kind"] == "parameter" or (a["kind"] == "constant" and
                                        str(a.get("key", "")).startswith(("param:", "buffer:")))


def _key(label: str, key: str) -> str:
    for p in _PREFIXED:
        if key.startswith(p):
            return f"{p}{label}/{key[len(p):]}"
    return f"{label}/{key}"


def compose(calls: list[tuple[str, nx.DiGraph]]) -> nx.DiGraph:
    """The step graph of several calls' graphs (one call: its graph as is)."""
    if len(calls) == 1:
        return calls[0][1]
    out = nx.DiGraph()
    variables: dict[str, str] = {}  # variable key -> node id in out
    offsets = {"forward": 0, "backward": 0, "update": 0}
    folded: dict[str, list[str]] = {}
    for label, g in calls:
        idmap = _add_nodes(out, label, g, variables, offsets)
        for u, v, a in g.edges(data=True):
            out.add_edge(idmap[u], idmap[v], **a)
        for n in idmap.values():
            _remap_refs(out.nodes[n], idmap)
        for var, ops in (g.graph.get("folded_ops") or {}).items():
            folded.setdefault(idmap.get(var, var), []).extend(f"{label}/{op}" for op in ops)
        for phase in offsets:
            top = [a["order"] for a in g.nodes.values() if a["phase"] == phase]
            offsets[phase] += max(top, default=-1) + 1
    out.graph["folded_ops"] = folded
    return out


def _add_nodes(out: nx.DiGraph, label: str, g: nx.DiGraph, variables: dict[str, str],
               offsets: dict[str, int]) -> dict[str, str]:
    idmap: dict[str, str] = {}
    for n, a in g.nodes(data=True):
        if _is_variable(a):
            seen = variables.get(a["key"])
            if seen is not None:
                idmap[n] = seen
                _merge_variable(out.nodes[seen], a)
                continue
            new = n if n not in out else f"{label}/{n}"
            variables[a["key"]] = new
            attrs = dict(a)
        else:
            new = f"{label}/{n}"
            attrs = dict(a)
            attrs["key"] = _key(label, a["key"])
            if attrs["order"] >= 0:
                attrs["order"] += offsets[attrs["phase"]]
        attrs["scope"] = f"{label}/{a['scope']}" if a["scope"] else label
        out.add_node(new, **attrs)
        idmap[n] = new
    return idmap


def _merge_variable(kept: dict, other: dict) -> None:
    """A variable read by a later call: keep the first value, take a gradient it lacks."""
    if other.get("grad") and not kept.get("grad"):
        kept["grad"] = other["grad"]
        kept["no_grad"] = False


def _remap_refs(a: dict, idmap: dict[str, str]) -> None:
    for attr in ("param", "forward"):
        if a.get(attr) is not None:
            a[attr] = idmap.get(a[attr], a[attr])
    if a.get("backward"):
        a["backward"] = [idmap.get(b, b) for b in a["backward"]]
    if a.get("saved"):
        a["saved"] = [{**s, "from": idmap.get(s["from"], s["from"]) if s.get("from") else None}
                      for s in a["saved"]]


def call_attrs(records: list[Any]) -> dict[str, Any]:
    """Graph attributes of a step from its calls (CallRecords): the concrete function(s), and
    whether any was traced anew or retraced, with the reasons."""
    one = len(records) == 1
    reasons = [(r.label, r.retrace_reason) for r in records if r.retrace_reason]
    attrs: dict[str, Any] = {
        "concrete_function": ", ".join(r.concrete_function for r in records),
        "traced_new": any(r.traced_new for r in records),
        "retraced": any(r.retraced for r in records),
        "reused_concrete_function": all(r.reused for r in records),
        "retrace_reason": (records[0].retrace_reason if one else
                           "; ".join(f"{lab}: {why}" for lab, why in reasons) or None),
        "calls": [r.summary() for r in records],
    }
    if not one:
        gs = [r.graph.graph for r in records]
        attrs["graph_ops"] = sum(g.get("graph_ops", 0) for g in gs)
        attrs["op_count"] = sum(g.get("op_count", 0) for g in gs)
        sources = {g.get("order_source") for g in gs}
        attrs["order_source"] = "runtime" if sources == {"runtime"} else "topological"
        attrs["order_recorded_ops"] = sum(g.get("order_recorded_ops", 0) for g in gs)
    return attrs
