"""Human names for what a PyTorch script uses: modules, parameters, inputs, buffers,
optimizers, found in setup()'s result, step()'s closure and the script's globals."""

from __future__ import annotations

from typing import Any

import torch
import torch.utils.data

from graphstage.tracers.script import ModelScript


class _Names:
    """Human names for the tensors and modules a script uses, discovered once per trace."""

    def __init__(self) -> None:
        self.modules: dict[int, str] = {}      # id(module) -> dotted path ("" for the root)
        self.roots: set[int] = set()           # ids of top-level models (left out of scopes)
        self.params: dict[int, str] = {}       # id(tensor) -> parameter name
        self.by_name: dict[str, torch.Tensor] = {}
        self.inputs: dict[int, str] = {}       # id(tensor) -> variable name
        self.buffers: dict[int, str] = {}      # id(tensor) -> module buffer name
        self.optimizers: list[torch.optim.Optimizer] = []

    @classmethod
    def discover(cls, ms: ModelScript) -> _Names:
        """Find modules, leaf tensors and optimizers in setup's result, step's closure and the
        script's globals; name them by the variables that hold them."""
        found: dict[str, Any] = {}
        step = ms.step
        code = getattr(step, "__code__", None)
        if code is not None and step.__closure__:
            for var, cell in zip(code.co_freevars, step.__closure__, strict=False):
                try:
                    found.setdefault(var, cell.cell_contents)
                except ValueError:  # empty cell
                    pass
        if ms.module is not None:
            for var, val in vars(ms.module).items():
                found.setdefault(var, val)
        self = cls()
        models = [m for m in [ms.model] if isinstance(m, torch.nn.Module)]
        models += sorted((v for v in found.values() if isinstance(v, torch.nn.Module)
                          and v is not ms.model), key=_param_count, reverse=True)
        primary = models[0] if models else None
        var_of = {id(v): k for k, v in found.items()}
        for model in models:
            prefix = "" if model is primary else var_of.get(id(model), type(model).__name__)
            if id(model) in self.modules:
                continue
            for path, sub in model.named_modules():
                full = ".".join(p for p in (prefix, path) if p)
                self.modules.setdefault(id(sub), full)
            if model is primary:
                self.roots.add(id(model))
            for path, p in model.named_parameters():
                self._add_param(".".join(x for x in (prefix, path) if x), p)
            for path, b in model.named_buffers():
                self.buffers.setdefault(id(b), ".".join(x for x in (prefix, path) if x))
        for name, t in ms.params.items():
            self._add_param(name, t)
        for var, val in found.items():
            if isinstance(val, torch.Tensor):
                if val.requires_grad and val.is_leaf:
                    self._add_param(var, val)
                else:
                    self.inputs.setdefault(id(val), var)
            elif isinstance(val, torch.optim.Optimizer):
                self.optimizers.append(val)
        if isinstance(ms.optimizer, torch.optim.Optimizer) and ms.optimizer not in self.optimizers:
            self.optimizers.append(ms.optimizer)
        for opt in self.optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    self._add_param(f"param{len(self.params)}", p)
        return self

    def _add_param(self, name: str, t: torch.Tensor) -> None:
        if id(t) not in self.params:
            self.params[id(t)] = name
            self.by_name[name] = t


def _param_count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
