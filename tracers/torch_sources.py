"""Where a consumed tensor comes from: the forward op that produced it, or a parameter, buffer,
input or constant node; and which autograd nodes each forward op created.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from graphstage.tracers.torch_util import _meta, _param_scope


class SourcesMixin:
    """Sources of tensors, and the autograd nodes forward ops created."""

    def _claim_grad_fns(self, fn: Any, nid: str, stop: set) -> None:
        """Mark the autograd nodes this op created (from its output back to its inputs')."""
        todo = [fn]
        while todo:
            fn = todo.pop()
            if fn is None or fn in stop or fn in self.created_by or fn.name() == \
                    "torch::autograd::AccumulateGrad":
                continue
            self.created_by[fn] = nid
            todo.extend(f for f, _ in fn.next_functions)

    def _producer(self, t: torch.Tensor) -> str | None:
        hit = self.produced.get(id(t))
        if hit is not None and hit[1]() is t:
            return hit[0]
        return None

    def _source(self, t: torch.Tensor) -> str:
        """The node a consumed tensor comes from: its producing op, or a parameter/input."""
        nid = self._producer(t)
        if nid is not None:
            if t.grad_fn is not None and t.grad_fn not in self.created_by:
                # made outside the mode's sight (custom autograd.Function): credit its producer
                self._claim_grad_fns(t.grad_fn, nid, set())
            return nid
        tid = id(t)
        pname = self.names.params.get(tid)
        if pname is None and t.requires_grad and t.is_leaf:
            pname = f"leaf{len(self.names.params)}"
            self.names._add_param(pname, t)
        bname = self.names.buffers.get(tid)
        if pname is not None:
            nid = f"p:{pname}"
            if nid not in self.nodes:
                self.nodes[nid] = self._param_attrs(pname, t)
        elif bname is not None:  # BatchNorm running stats and other module state
            nid = f"c:{bname}"
            if nid not in self.nodes:
                self.nodes[nid] = {"label": bname, "op": "buffer", "kind": "constant",
                                   "phase": "forward", "scope": _param_scope(bname), "order": -1,
                                   "key": f"buffer:{bname}", "name": bname, **_meta(t)}
                self._stats(self.nodes[nid], "value", t)
        else:
            vname = self.names.inputs.get(tid) or self.batch.get(tid) or \
                f"input{self.input_count}"
            nid = f"in:{vname}"
            if nid not in self.nodes:
                self.input_count += 1  # input nodes so far: the next unnamed one's number
                kind = "input" if t.numel() > 1 or vname in self.names.inputs.values() \
                    else "constant"
                self.nodes[nid] = {"label": vname, "op": "input" if kind == "input" else
                                   "constant", "kind": kind, "phase": "forward", "scope": "",
                                   "order": -1, "key": f"input:{vname}", **_meta(t)}
                self._stats(self.nodes[nid], "value", t)
        self.produced[tid] = (nid, weakref.ref(t))
        return nid

    def _param_attrs(self, pname: str, t: torch.Tensor) -> dict:
        attrs = {"label": pname, "op": "Parameter" if isinstance(t, torch.nn.Parameter) else
                 "leaf", "kind": "parameter", "phase": "forward",
                 "scope": _param_scope(pname), "order": -1, "key": f"param:{pname}",
                 "name": pname, "no_grad": True, **_meta(t)}
        self._stats(attrs, "value", t)
        return attrs
