"""Small tensor helpers shared by the PyTorch recorder's modules (no state)."""

from __future__ import annotations

from typing import Any

import torch

_DTYPE_NAMES: dict[torch.dtype, str] = {}
_DEVICE_NAMES: dict[torch.device, str] = {}


def _tensors(obj: Any) -> list[torch.Tensor]:
    """Tensors in obj, looking one level into lists/tuples/dicts (ops rarely nest deeper)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        out = []
        for x in obj:
            if isinstance(x, torch.Tensor):
                out.append(x)
            elif isinstance(x, (list, tuple)):
                out.extend(y for y in x if isinstance(y, torch.Tensor))
        return out
    if isinstance(obj, dict):
        return [v for v in obj.values() if isinstance(v, torch.Tensor)]
    return []


def _dtype(t: torch.Tensor) -> str:
    """'float32' for torch.float32 (names cached: called for every op, edge and summary)."""
    d = t.dtype
    name = _DTYPE_NAMES.get(d)
    if name is None:
        name = _DTYPE_NAMES[d] = str(d).removeprefix("torch.")
    return name


def _device(t: torch.Tensor) -> str:
    """'cpu', 'cuda:0' (cached like _dtype)."""
    d = t.device
    name = _DEVICE_NAMES.get(d)
    if name is None:
        name = _DEVICE_NAMES[d] = str(d)
    return name


def _meta(t: torch.Tensor | None) -> dict:
    if t is None:
        return {}
    return {"shape": list(t.shape), "dtype": _dtype(t), "device": _device(t)}


def _nbytes(t: torch.Tensor) -> int:
    """Bytes of a tensor's elements (its view's numel, not its whole storage)."""
    return t.numel() * t.element_size()


def _param_scope(name: str) -> str:
    """Scope of a parameter from its dotted name: 'layer1.0.conv1.weight' -> 'layer1/0/conv1'."""
    return "/".join(name.split(".")[:-1])
