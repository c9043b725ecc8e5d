"""A purely eager TensorFlow step (no tf.function), recorded op by op as it runs.

While the step runs, an op callback sees every eager op with its input and output tensors;
``tape.gradient`` marks the ops it runs as ``backward`` (and records the loss, the sources and
the gradients it returns), an eager ``optimizer.apply_gradients`` and every variable write mark
``update``. Variable reads fold into one node per variable, as in a tf.function's graph
(docs/tensorflow.md, "Folding variables"). The step runs exactly as it would untraced; only its
ops are seen. Scopes are Keras' name-scope stack at each op (layer names).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graphstage.tracers.contract import graph_attrs
from graphstage.tracers.tf_compat import (
    add_op_callback,
    keras_scope_path,
    remove_op_callback,
    replace_apply_gradients,
)
from graphstage.tracers.tf_convert import dtype_of, is_update_type, shape_of
from graphstage.tracers.tf_function import collect_variables_into, tf_variable, var_info
from graphstage.tracers.tf_values import summarize_array

log = logging.getLogger("graphstage.tracers.tf_eager")


@dataclass
class EagerOp:
    """One eager op as it ran."""

    type: str
    inputs: list[Any]
    outputs: list[Any]
    phase: str
    scope: str


@dataclass
class GradCall:
    """One eager tape.gradient call: the target and each (variable or tensor, gradient)."""

    targets: list[Any]
    pairs: list[tuple[Any, Any]]


@dataclass
class EagerStep:
    """What one eager step ran."""

    ops: list[EagerOp] = field(default_factory=list)
    grads: list[GradCall] = field(default_factory=list)
    variables: dict[int, Any] = field(default_factory=dict)  # id(handle) -> variable


class EagerRecorder:
    """Context manager: records the eager ops of whatever runs while it is open."""

    def __init__(self, tf: Any, variables: dict[int, Any]) -> None:
        self.tf = tf
        self.step = EagerStep(variables=dict(variables))
        self.phase = "forward"
        self.active = True
        self.errors: list[str] = []
        self._undo: list[Any] = []

    def __enter__(self) -> EagerRecorder:
        add_op_callback(self._on_op)
        orig_gradient = self.tf.GradientTape.gradient
        self.tf.GradientTape.gradient = lambda *a, **k: self._gradient(orig_gradient, *a, **k)
        self._undo.append(lambda: setattr(self.tf.GradientTape, "gradient", orig_gradient))
        undo = replace_apply_gradients(lambda orig: lambda *a, **k: self._apply(orig, *a, **k))
        if undo is not None:
            self._undo.append(undo)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop recording now (idempotent): the step turned out to call a tf.function, and an
        op callback left in place would slow TensorFlow's tracing of it by seconds."""
        if not self.active:
            return
        self.active = False
        remove_op_callback(self._on_op)
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def reset(self) -> EagerStep:
        """Start a new step (the variables seen so far are kept); returns the finished one."""
        done = self.step
        self.step = EagerStep(variables=dict(done.variables))
        self.phase = "forward"
        return done

    def _in_phase(self, phase: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.tf.executing_eagerly():
            return fn(*args, **kwargs)
        before, self.phase = self.phase, phase
        try:
            return fn(*args, **kwargs)
        finally:
            self.phase = before

    def _gradient(self, orig: Any, tape: Any, target: Any, sources: Any, *a: Any,
                  **k: Any) -> Any:
        result = self._in_phase("backward", orig, tape, target, sources, *a, **k)
        if self.tf.executing_eagerly() and self.active:
            try:
                self._record_gradient(target, sources, result)
            except Exception as exc:  # noqa: BLE001 - never break the user's step
                log.debug("eager tape.gradient call not recorded: %s: %s",
                          type(exc).__name__, exc)
                self.errors.append(f"{type(exc).__name__}: {exc}")
        return result

    def _record_gradient(self, target: Any, sources: Any, result: Any) -> None:
        tf = self.tf
        flat_s, flat_r = tf.nest.flatten(sources), tf.nest.flatten(result)
        for s in flat_s:
            collect_variables_into(self.step.variables, s)
        if len(flat_s) == len(flat_r):
            self.step.grads.append(GradCall(tf.nest.flatten(target),
                                            list(zip(flat_s, flat_r, strict=True))))

    def _apply(self, orig: Any, opt: Any, grads_and_vars: Any, *a: Any, **k: Any) -> Any:
        pairs = list(grads_and_vars)
        if self.active:
            for v in [v for _, v in pairs] + list(getattr(opt, "variables", ())):
                collect_variables_into(self.step.variables, v)
        return self._in_phase("update", orig, opt, pairs, *a, **k)

    def _on_op(self, op_type: str, inputs: Any, attrs: Any, outputs: Any,
               op_name: Any = None, graph: Any = None) -> None:
        if graph is not None or not self.active or not self.tf.executing_eagerly():
            return
        try:  # never let recording break the user's op
            op_type = op_type.decode() if isinstance(op_type, bytes) else str(op_type)
            phase = "update" if is_update_type(op_type) else self.phase
            self.step.ops.append(EagerOp(op_type, list(inputs), list(outputs or ()), phase,
                                         keras_scope_path()))
        except Exception as exc:  # noqa: BLE001
            log.debug("eager op %s not recorded: %s: %s", op_type, type(exc).__name__, exc)
            self.errors.append(f"{type(exc).__name__}: {exc}")


_ROLE = {("forward", "forward"): "data", ("forward", "backward"): "saved",
         ("backward", "backward"): "gradient"}


class EagerGraph:
    """Builds the contract step graph of one recorded eager step."""

    def __init__(self, rec: EagerStep, device: str) -> None:
        self.rec = rec
        self.device = device
        self.g = nx.DiGraph()
        self.producer: dict[int, str] = {}   # id(tensor) -> node id
        self.var_nodes: dict[int, str] = {}  # id(handle) -> node id
        self.counts: dict[str, int] = {}
        self.orders = {"forward": 0, "backward": 0, "update": 0}
        self.sources = 0

    def build(self) -> tuple[nx.DiGraph, float | None]:
        """The graph (without graph attributes) and the loss of the step's first gradient."""
        for k, op in enumerate(self.rec.ops):
            handle = op.inputs[0] if op.inputs else None
            if op.type == "ReadVariableOp" and self._variable(handle, op.phase) is not None:
                vid = self._variable(handle, op.phase)
                self.producer[id(op.outputs[0])] = vid
                node = self.g.nodes[vid]
                if node.get("value") is None:
                    node["value"] = self._summary(op.outputs[0])
                continue
            self._op(k, op)
        return self.g, self._gradients()

    def _count(self, key: str) -> str:
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        return key if n == 0 and ":" in key else f"{key}#{n}"

    def _summary(self, t: Any) -> dict | None:
        try:
            return summarize_array(t.numpy(), dtype_of(t), self.device)
        except Exception as exc:  # noqa: BLE001 - a resource, string or variant tensor
            log.debug("no value summary for a %s tensor: %s: %s", getattr(t, "dtype", "?"),
                      type(exc).__name__, exc)
            return None

    def _variable(self, handle: Any, phase: str) -> str | None:
        if handle is None or id(handle) not in self.rec.variables:
            return None
        vid = self.var_nodes.get(id(handle))
        if vid is not None:
            return vid
        v = self.rec.variables[id(handle)]
        info = var_info(v)
        base, k = info.name, 1
        while f"param:{info.name}" in self.g:
            info.name, k = f"{base}_{k}", k + 1
        vid = f"param:{info.name}"
        key = ("param:" if info.trainable else "buffer:") + info.name
        self.g.add_node(vid, label=info.name, op="Variable", name=info.name, key=key,
                        kind="parameter" if info.trainable else "constant", phase=phase,
                        scope="", order=-1, shape=info.shape, dtype=info.dtype,
                        device=self.device, value=None)
        self.var_nodes[id(handle)] = vid
        return vid

    def _source(self, t: Any, phase: str) -> str:
        n = self.sources
        self.sources += 1
        shape = shape_of(t)
        small = shape is not None and all(d >= 0 for d in shape) and \
            _numel(shape) <= 16 and not t.dtype.is_floating
        kind, key = ("constant", f"const#{n}") if small else ("input", f"input:x{n}")
        nid = key
        self.g.add_node(nid, label=key, op="Const" if small else "Input", name=key, key=key,
                        kind=kind, phase=phase, scope="", order=-1, shape=shape,
                        dtype=dtype_of(t), device=self.device, value=self._summary(t))
        self.producer[id(t)] = nid
        return nid

    def _op(self, k: int, op: EagerOp) -> None:
        nid = f"{op.type}_{k}"
        out = op.outputs[0] if op.outputs else None
        var = self._variable(op.inputs[0], op.phase) if is_update_type(op.type) and \
            op.inputs else None
        if var is not None:
            kind, key = "update", self._count(f"update:{self.g.nodes[var]['name']}")
        else:
            kind, key = "op", self._count(f"{op.scope}/{op.type}" if op.scope else op.type)
        shape = shape_of(out) if out is not None else None
        self.g.add_node(nid, label=op.type if not shape else
                        f"{op.type}\n{'x'.join(str(d) for d in shape)}", op=op.type,
                        name=nid, key=key, kind=kind, phase=op.phase, scope=op.scope,
                        order=self.orders[op.phase], shape=shape,
                        dtype=dtype_of(out) if out is not None else None, device=self.device,
                        value=self._summary(out) if out is not None else None)
        self.orders[op.phase] += 1
        if var is not None:
            self.g.nodes[nid]["param"] = var
        for t in op.inputs:
            src = self.producer.get(id(t)) or self._variable(t, op.phase) or \
                self._source(t, op.phase)
            if src == nid or self.g.has_edge(src, nid):
                continue
            src_phase = self.g.nodes[src]["phase"]
            role = "update" if op.phase == "update" else _ROLE.get((src_phase, op.phase),
                                                                   "data")
            self.g.add_edge(src, nid, phase=op.phase, role=role, shape=shape_of(t),
                            dtype=dtype_of(t))
        for t in op.outputs:
            self.producer[id(t)] = nid

    def _gradients(self) -> float | None:
        loss = None
        for call in self.rec.grads:
            for t in call.targets:
                nid = self.producer.get(id(t))
                if nid is not None and self.g.nodes[nid]["kind"] == "op":
                    self.g.nodes[nid]["kind"] = "loss"
                if loss is None and hasattr(t, "numpy"):
                    loss = float(t.numpy().sum())
            for src, grad in call.pairs:
                self._grad(src, grad)
        return loss

    def _grad(self, src: Any, grad: Any) -> None:
        var = self.var_nodes.get(id(getattr(tf_variable(src), "handle", None)))
        if var is not None and grad is None:
            self.g.nodes[var].setdefault("no_grad", True)
            return
        gt = getattr(grad, "values", grad)
        nid = self.producer.get(id(gt)) if gt is not None else None
        if nid is None or self.g.nodes[nid]["kind"] != "op" or var is None:
            return
        node = self.g.nodes[nid]
        node.update(kind="grad_acc", param=var,
                    key=self._count(f"grad:{self.g.nodes[var]['name']}"))
        self.g.nodes[var].update(grad=node.get("value"), no_grad=False)


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def eager_step_graph(rec: EagerStep, *, model: str, step: int, device: str,
                     loss: float | None) -> tuple[nx.DiGraph, float | None]:
    """The contract step graph of a recorded eager step and its loss (the first gradient's
    target, else ``loss``)."""
    g, grad_loss = EagerGraph(rec, device).build()
    loss = grad_loss if grad_loss is not None else loss
    g.graph = graph_attrs(framework="tensorflow", model=model, step=step, capture="tf eager",
                          loss=loss, op_count=sum(1 for a in g.nodes.values()
                                                  if a["op"] not in ("Variable", "Input",
                                                                     "Const")),
                          eager_ops=len(rec.ops))
    return nx.freeze(g), loss
