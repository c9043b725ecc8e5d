"""Capture of TF1-style graphs: a tf.Graph built with tf.compat.v1 (placeholders, tf.gradients)
and run by a Session with a feed_dict, without disabling TF2 behaviour globally.

The script's setup() returns {"step": step, "graph": g, "fetches": [...], "feed_dict": {...},
"session": sess, "loss": tensor, "grads": {x: dx}}; the tracer runs session.run(fetches +
value tensors, feed_dict) itself once per step, which is what step() does plus the values.
"""

from __future__ import annotations

import time
from typing import Any

import networkx as nx
import numpy as np

from graphstage.tracers.contract import make_graph
from graphstage.tracers.script import ModelScript, ScriptError
from graphstage.tracers.tf_convert import (
    Converter,
    GraphSpec,
    VarInfo,
    ancestors,
    dtype_of,
    shape_of,
)
from graphstage.tracers.tf_env import default_device, import_tf
from graphstage.tracers.tf_values import choose_slots, summarize_np


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, dict):
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Tf1Tracer:
    """Traces Session.run steps of a tf.Graph; the structure is converted once."""

    def __init__(self, ms: ModelScript, *, fold: bool = True, values: str = "auto") -> None:
        tf = self.tf = import_tf()
        self.ms = ms
        ex = ms.extras
        graph = ex["graph"]
        if not isinstance(graph, tf.Graph):
            raise ScriptError(f"{ms.where}: setup()['graph'] is a {type(graph).__name__}, "
                              "not a tf.Graph")
        self.graph = graph
        self.session = ex.get("session") or tf.compat.v1.Session(graph=graph)
        self.fetches = _as_list(ex.get("fetches"))
        loss = ex.get("loss", self.fetches[0] if self.fetches else None)
        if loss is None:
            raise ScriptError(f"{ms.where}: a TF1 script needs 'fetches' (or 'loss') in "
                              "the dict setup() returns")
        self.loss = loss
        if loss not in self.fetches:
            self.fetches.insert(0, loss)
        self.feed = ex.get("feed_dict", {})
        spec = self._spec(ex.get("grads") or {})
        if not spec.grad_tensors and not spec.input_grads and not any(
                "gradients" in op.name.split("/")[0] for op in graph.get_operations()):
            raise ScriptError(f"{ms.where}: the TF1 graph computes no gradient (add "
                              "tf.gradients(loss, xs) and pass 'grads': {x: dx})")
        conv = Converter(fold=fold, device=default_device(),
                         resolve_function=lambda name: None)
        t0 = time.perf_counter()
        self.template = conv.convert(graph, spec)
        self.first_capture_s = time.perf_counter() - t0
        executed = spec.executed or set()
        nodes = dict(self.template.graph.nodes(data=True))
        self.slots = [s for s in choose_slots(self.template.slots, nodes, values)[0]
                      if s.tensor.rsplit(":", 1)[0] in executed]
        self.tensors = list(dict.fromkeys(s.tensor for s in self.slots))
        self.fold, self.values = fold, values

    def _spec(self, grads: dict) -> GraphSpec:
        graph = self.graph
        spec = GraphSpec(exclude_prefix="")
        trainable = {id(v) for v in graph.get_collection("trainable_variables")}
        by_handle = {}
        for v in graph.get_collection("variables"):
            h = getattr(v, "handle", None)
            op = h.op if h is not None else v.op
            by_handle[op.name] = v
        for op in graph.get_operations():
            if op.type in ("VarHandleOp",) or (op.type.startswith("Variable") and op.outputs):
                v = by_handle.get(op.name)
                name = (v.name[:-2] if v is not None and v.name.endswith(":0") else op.name)
                out = op.outputs[0]
                try:  # the attr is a TensorShapeProto: TensorShape reads it
                    dims = self.tf.TensorShape(op.get_attr("shape")).as_list()
                    vshape = [-1 if d is None else d for d in dims]
                    vdtype = self.tf.as_dtype(op.get_attr("dtype")).name
                except (ValueError, TypeError):
                    vshape, vdtype = shape_of(out), dtype_of(out)
                spec.variables[op.name] = VarInfo(name, v is None or id(v) in trainable,
                                                  vshape, vdtype)
            elif op.type in ("Placeholder", "PlaceholderWithDefault"):
                spec.inputs.add(op.name)
        for x, dx in grads.items():
            if dx is None:
                continue
            h = getattr(x, "handle", None)
            key = h.op.name if h is not None else x.op.name
            if key in spec.variables:
                spec.grad_tensors[key] = dx.name
            else:
                spec.input_grads[key] = dx.name
        spec.loss_tensors = [self.loss.name]
        spec.output_tensors = [t.name for t in self.fetches if hasattr(t, "name")]
        preds = {op.name: [t.op.name for t in op.inputs] + [c.name for c in op.control_inputs]
                 for op in graph.get_operations()}
        spec.executed = ancestors([getattr(t, "op", t).name for t in self.fetches], preds)
        return spec

    def step(self, i: int) -> tuple[nx.DiGraph, float | None, float]:
        """One Session.run of the fetches plus the value tensors."""
        feed = self.feed(i) if callable(self.feed) else self.feed
        t0 = time.perf_counter()
        try:
            out = self.session.run(list(self.fetches) + self.tensors, feed_dict=feed)
        except Exception as exc:  # noqa: BLE001 - the user's graph failed to run
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ScriptError(f"{self.ms.where}: Session.run failed at step {i}: "
                              f"{type(exc).__name__}: {first}"[:400]) from None
        wall = (time.perf_counter() - t0) * 1000
        vals = dict(zip(self.tensors, out[len(self.fetches):], strict=True))
        g = self.template.graph.copy()
        for s in self.slots:
            g.nodes[s.node][s.attr] = summarize_np(np.asarray(vals[s.tensor]), None, s.dtype,
                                                   s.device)
        loss_val = out[0]
        try:
            loss = float(loss_val.sum()) if hasattr(loss_val, "sum") else float(loss_val)
        except (TypeError, ValueError):
            loss = None
        attrs = make_graph(framework="tensorflow", model=self.ms.name, step=i,
                           capture="tf1 graph", loss=loss).graph
        g.graph = {**attrs, "graph_ops": len(self.graph.get_operations()),
                   "op_count": self.template.op_count, "folded_ops": self.template.folded,
                   "fold": self.fold, "values_policy": self.values, "retraced": False,
                   "reused_concrete_function": i > 0, "retrace_reason": None,
                   "order_source": "topological"}
        return g, loss, wall
