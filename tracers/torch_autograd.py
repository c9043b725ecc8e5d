"""The autograd side of a step: the graph walked from the backward roots before the engine runs,
the order and time the engine fired each node, saved tensors and their bytes, gradients after
the pass.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import torch
import torch.utils.data

from graphstage.tracers.torch_compat import saved_tensor_attrs
from graphstage.tracers.torch_util import (
    _dtype,
    _meta,
    _nbytes,
    _tensors,
)

_SAVED_ATTRS: dict[type, list[str]] = {}


class AutogradMixin:
    """The autograd side of a step."""

    def _run_backward(self, real: Callable, tensors: Any, args: tuple, kwargs: dict) -> Any:
        if self.muted:  # a backward inside a custom Function's backward: not a new pass
            return real(tensors, *args, **kwargs)
        self.muted = True
        handles: list[Any] = []
        try:
            handles = self._walk_autograd(_tensors(tensors))
            return real(tensors, *args, **kwargs)
        finally:
            for h in handles:
                h.remove()
            self.backward_done = True
            self._after_backward()
            self.muted = False

    def _run_function(self, real: Callable, cls: type, args: tuple, kwargs: dict) -> Any:
        """A custom autograd.Function's apply: one forward op named after the Function (its
        backward node is the Function's own), the ops inside its forward not drawn. torch's own
        Functions stay transparent; the reentrant checkpoint's marks the ops it runs."""
        if self.muted:
            return real(cls, *args, **kwargs)
        if cls.__module__.startswith("torch."):
            checkpoint = cls.__name__ == "CheckpointFunction"
            self.checkpointing += checkpoint
            try:
                return real(cls, *args, **kwargs)
            finally:
                self.checkpointing -= checkpoint
        start = time.perf_counter_ns()
        self.muted = self.in_function = True
        try:
            out = real(cls, *args, **kwargs)
            self.in_function = False
            self.op_span = (start, time.perf_counter_ns())
            self.record_op(cls.__name__, args, kwargs, out)  # muted: the mode sees our own ops
        finally:
            self.muted = self.in_function = False
        return out

    def _walk_autograd(self, roots: list[torch.Tensor]) -> list[Any]:
        """Add every autograd node reachable from the roots; hook each to record firing order."""
        handles = []
        seen_names: dict[str, int] = {}
        todo = []
        for r in roots:
            self.roots.append(r)
            producer = self._producer(r)
            if producer is not None:
                self.loss_nodes.append(producer)
                if r.grad_fn is not None and r.grad_fn not in self.created_by:
                    self._claim_grad_fns(r.grad_fn, producer, set())
            if r.grad_fn is not None:
                todo.append((r.grad_fn, producer))
        hooked: set[str] = set()  # once per backward call: a node run again takes its last index
        while todo:
            fn, parent = todo.pop()
            bid = self.bnode_of.get(fn)
            if bid is None:
                bid = f"b{len(self.bnode_of)}"
                self.bnode_of[fn] = bid
                self.nodes[bid] = self._backward_attrs(fn, bid, seen_names)
            if bid not in hooked:
                hooked.add(bid)
                handles.append(fn.register_prehook(self._fired(bid)))
                handles.append(fn.register_hook(self._finished(bid)))
                todo.extend((nxt, bid) for nxt, _ in fn.next_functions if nxt is not None)
            if parent is not None:
                self.edges.append((parent, bid, {"phase": "backward", "role": "gradient"}))
        return handles

    def release_autograd(self) -> None:
        """Drop the step's autograd nodes parents-first, so each one freed frees nothing below it.

        A node reached from Python keeps a Python wrapper, and torch frees a chain of wrapped
        nodes by recursion: dropped in any other order (a garbage collection of the recorder),
        an RNN unrolled over thousands of steps overflows the C stack (segfault).
        """
        parents = dict.fromkeys(self.bnode_of, 0)
        parents.update(dict.fromkeys(self.created_by, 0))
        self.bnode_of.clear()
        self.created_by.clear()
        self.roots.clear()
        for fn in parents:
            for nxt, _ in fn.next_functions:
                if nxt in parents:
                    parents[nxt] += 1
        ready = [fn for fn, n in parents.items() if n == 0]
        while ready:  # Kahn's order: a node goes once every node that feeds it has gone
            fn = ready.pop()
            del parents[fn]
            for nxt, _ in fn.next_functions:
                if nxt in parents:
                    parents[nxt] -= 1
                    if parents[nxt] == 0:
                        ready.append(nxt)
            del fn
        parents.clear()

    def _finished(self, bid: str) -> Callable:
        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            start = self.backward_start.get(bid)
            if start is not None:
                self.nodes[bid].update(self._timing(start, time.perf_counter_ns()))
        return hook

    def _fired(self, bid: str) -> Callable:
        def hook(grad_outputs: Any) -> None:  # a node run again keeps its last run's index
            self.backward_start[bid] = time.perf_counter_ns()
            self.nodes[bid]["order"] = self.backward_order
            self.backward_order += 1
        return hook

    def _backward_attrs(self, fn: Any, bid: str, seen: dict[str, int]) -> dict:
        op = fn.name()
        if op == "torch::autograd::AccumulateGrad":
            var = fn.variable
            pid = self._source(var)
            pname = self.nodes[pid]["label"]
            self.acc_of[pid] = bid
            return {"label": f"∇ {pname}", "op": "AccumulateGrad", "kind": "grad_acc",
                    "phase": "backward", "scope": self.nodes[pid]["scope"], "order": -1,
                    "key": f"grad:{pname}", "param": pid, **_meta(var)}
        fwd = self.created_by.get(fn)
        base = self.nodes[fwd]["key"] if fwd else "backward"
        n = seen.get(f"{base}/{op}", 0)
        seen[f"{base}/{op}"] = n + 1
        attrs = {"label": op, "op": op, "kind": "op", "phase": "backward",
                 "scope": self.nodes[fwd]["scope"] if fwd else "", "order": -1,
                 "key": f"{base}/{op}#{n}", "forward": fwd,
                 # checkpointed: nothing is saved, the forward runs again in backward
                 "saved": [] if fwd and self.nodes[fwd].get("checkpointed") else
                 self._saved(fn)}
        attrs["saved_bytes"] = sum(s["bytes"] for s in attrs["saved"])
        if fwd:
            self.nodes[fwd]["backward"].append(bid)
        return attrs

    def _saved(self, fn: Any) -> list[dict]:
        """Shapes of the tensors this node saved for backward (read before the engine frees
        them)."""
        attrs = _SAVED_ATTRS.get(type(fn))
        if attrs is None:  # dir() is slow: once per node type (their attributes are the type's)
            attrs = _SAVED_ATTRS[type(fn)] = saved_tensor_attrs(fn)
        out = []
        for a in attrs:
            try:
                v = getattr(fn, a)
            except RuntimeError:  # already freed by an earlier backward
                continue
            tensors = [v] if isinstance(v, torch.Tensor) else \
                [t for t in v if isinstance(t, torch.Tensor)] if isinstance(v, (list, tuple)) \
                else []
            for j, t in enumerate(tensors):
                name = a[7:] if len(tensors) == 1 else f"{a[7:]}[{j}]"
                out.append({"name": name, "shape": list(t.shape), "dtype": _dtype(t),
                            "from": self._producer(t), "bytes": _nbytes(t)})
        return out

    def _after_backward(self) -> None:
        """Record each parameter's gradient as it is right after the engine finished."""
        for attrs in self.nodes.values():
            if attrs["kind"] != "parameter":
                continue
            t = self.names.by_name.get(attrs["name"])
            if t is not None and t.grad is not None:
                attrs["no_grad"] = False
                self._own(t.grad, id(t))
                self._stats(attrs, "grad", t.grad)

    def _add_saved_edges(self, g: nx.DiGraph) -> None:
        for bid, attrs in list(g.nodes(data=True)):
            for s in attrs.get("saved", ()):
                src = s.get("from")
                if src and src in g and not g.has_edge(src, bid):
                    g.add_edge(src, bid, phase="backward", role="saved", shape=s["shape"],
                               dtype=s["dtype"])
