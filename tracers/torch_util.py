"""Small tensor helpers shared by the PyTorch recorder's modules (no state)."""

from __future__ import annotations

from typing import Any

import torch

_AMINMAX_FROM = 32_768  # elements: above this one aminmax pass beats amin + amax


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
    return str(t.dtype).removeprefix("torch.")


def _meta(t: torch.Tensor | None) -> dict:
    if t is None:
        return {}
    return {"shape": list(t.shape), "dtype": _dtype(t), "device": str(t.device)}


def _nbytes(t: torch.Tensor) -> int:
    """Bytes of a tensor's elements (its view's numel, not its whole storage)."""
    return t.numel() * t.element_size()


def _edge_meta(t: torch.Tensor) -> dict:
    return {"shape": list(t.shape), "dtype": _dtype(t)}


def _param_scope(name: str) -> str:
    """Scope of a parameter from its dotted name: 'layer1.0.conv1.weight' -> 'layer1/0/conv1'."""
    return "/".join(name.split(".")[:-1])
