"""Optimizer updates: ops inside Optimizer.step or writing a parameter after backward, folded into
one update node per parameter.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
import torch.utils.data

from graphstage.tracers.torch_util import (
    _meta,
)


class UpdatesMixin:
    """Optimizer updates."""

    def _is_update(self, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> bool:
        """After backward: an op is part of an update if it reads a gradient (or something
        derived from one) or writes a parameter in place. Reading a parameter is not an update:
        the next forward pass (a GAN's second discriminator call) reads them too."""
        params = self.names.params
        if any(id(t) not in params and self._owner(t) is not None for t in inputs):
            return True
        first = outs[0]
        return id(first) in self.names.params and any(first is t for t in inputs)

    def _owner(self, t: torch.Tensor) -> int | None:
        hit = self.owner.get(id(t))
        return hit[0] if hit is not None and hit[1]() is t else None

    def _own(self, t: torch.Tensor, pid: int) -> None:
        self.owner[id(t)] = (pid, weakref.ref(t))

    def _on_update_op(self, name: str, inputs: list[torch.Tensor],
                      outs: list[torch.Tensor]) -> None:
        owners = {self._owner(t) for t in inputs} - {None}
        if not owners:
            owners = {id(t) for t in inputs if id(t) in self.names.params}
        if len(owners) == 1:
            for t in outs:
                self._own(t, next(iter(owners)))
        for pid in owners:
            upd = self.updates.get(pid)
            if upd is None:
                upd = self.updates[pid] = {"ops": [], "order": self.update_order,
                                           "optimizer": type(self.in_optimizer).__name__
                                           if self.in_optimizer else None,
                                           **self._timing(self.op_span[0], self.op_span[0])}
                self.update_order += 1
            upd["ops"].append(name)
            # an op updating several parameters at once (_foreach_*) is shared among them
            share = (self.op_span[1] - self.op_span[0]) / 1e3 / len(owners)
            upd["duration_us"] = round(upd["duration_us"] + share, 3)

    def _optim_pre(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self.active:
            return
        self.in_optimizer = opt
        self.optimizer_seen = True
        for group in opt.param_groups:
            for p in group["params"]:
                self._own(p, id(p))
                if p.grad is not None:
                    self._own(p.grad, id(p))
                for v in opt.state.get(p, {}).values():
                    if isinstance(v, torch.Tensor):
                        self._own(v, id(p))

    def _optim_post(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self.active:
            return
        self.in_optimizer = None
        if self.on_boundary is not None:
            self.on_boundary()

    def _add_update_nodes(self) -> None:
        pid_of = {tid: f"p:{name}" for tid, name in self.names.params.items()}
        by_param = {pid: upd for pid, upd in self.updates.items() if pid in pid_of}
        for tid, upd in sorted(by_param.items(), key=lambda kv: kv[1]["order"]):
            pnode = pid_of[tid]
            if pnode not in self.nodes:
                continue
            pname = self.nodes[pnode]["name"]
            opt = upd["optimizer"] or "update"
            nid = f"u:{pname}"
            t = self.names.by_name.get(pname)
            self.nodes[nid] = {
                "label": f"{opt} {pname}", "op": f"{opt}.step" if upd["optimizer"] else "update",
                "kind": "update", "phase": "update", "scope": self.nodes[pnode]["scope"],
                "order": upd["order"], "key": f"update:{pname}", "param": pnode,
                "ops": upd["ops"], "start_us": upd["start_us"],
                "duration_us": upd["duration_us"], **_meta(t),
            }
            acc = self.acc_of.get(pnode)
            if acc is not None:
                self.edges.append((acc, nid, {"phase": "update", "role": "update"}))
