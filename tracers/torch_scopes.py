"""Module call scopes: a global forward pre/post hook keeps the stack of module calls, each call
keyed (a module called 3 times gives 3 call scopes), and notes the root model's outputs.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

from typing import Any

import torch

from graphstage.tracers.torch_util import _tensors


class ScopesMixin:
    """Module call scopes."""

    def _module_pre(self, module: torch.nn.Module, args: Any) -> None:
        if self.on_boundary is not None and self.active and self.backward_done \
                and not self.optimizer_seen and not self.scope_stack:
            self.on_boundary()  # no optimizer: a new top-level forward starts the next step
        if not self.active or self.muted:  # a checkpoint's rerun in backward, a Function's inside
            return
        mid = id(module)
        k = self.module_calls.get(mid, 0)
        self.module_calls[mid] = k + 1
        full = self.names.modules.get(mid)
        parent = self.scope_stack[-1] if self.scope_stack else None
        if full is None:
            full = type(module).__name__.lower()
            self.names.modules[mid] = full
        if mid in self.names.roots and k == 0:
            scope = parent[1] if parent else ""
        else:
            parent_full = self.names.modules.get(parent[0], "") if parent else ""
            seg = full[len(parent_full) + 1:] if parent_full and full.startswith(
                parent_full + ".") else full
            seg = seg.replace(".", "/") if seg else type(module).__name__.lower()
            if k:
                seg += f"#{k}"
            scope = f"{parent[1]}/{seg}" if parent and parent[1] else seg
        self.scope_stack.append((mid, scope))

    def _module_post(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if not self.active or self.muted:
            return
        if self.scope_stack and self.scope_stack[-1][0] == id(module):
            self.scope_stack.pop()
        if id(module) in self.names.roots and not self.scope_stack:
            for t in _tensors(output):
                hit = self._producer(t)
                if hit:
                    self.output_nodes.add(hit)
