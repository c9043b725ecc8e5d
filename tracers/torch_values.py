"""Value summaries (min/max/mean/std/norm, full values when tiny) queued on the tensor's device and
read back once per step.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from graphstage.tracers.contract import FULL_VALUE_LIMIT
from graphstage.tracers.torch_util import _meta

# how a dtype is summarized: as is, converted to float/double first, or not at all (complex)
_AS_IS, _TO_FLOAT, _TO_DOUBLE, _NONE = range(4)
_HOW: dict[torch.dtype, int] = {}


def _how(x: torch.Tensor) -> int:
    """How tensors of x's dtype are summarized (decided once per dtype)."""
    how = _HOW.get(x.dtype)
    if how is None:
        how = _HOW[x.dtype] = _NONE if x.is_complex() else _AS_IS if x.dtype in (
            torch.float32, torch.float64) else _TO_FLOAT if x.is_floating_point() \
            else _TO_DOUBLE
    return how


class ValuesMixin:
    """Value summaries of the tensors a step makes, read back once per step."""

    def _stats(self, attrs: dict, field: str, t: torch.Tensor) -> None:
        """Queue a value summary: a copy of a tiny tensor (its summary follows from the values),
        or min, max, sum and sum of squares of a bigger one, left on t's device until one
        transfer at the end. Detached, so no autograd graph is built (no no_grad needed)."""
        x = t.detach()
        n = x.numel()
        summary = _meta(x)
        attrs[field] = summary
        how = _how(x)
        if n == 0 or how == _NONE or x.layout is not torch.strided:
            return
        if how != _AS_IS:
            x = x.float() if how == _TO_FLOAT else x.double()
        v = x.reshape(-1)
        if n <= FULL_VALUE_LIMIT:
            # a copy: the step may change the tensor in place later (grad.zero_(), w -= ..),
            # and the value shown must be the one at this moment (the gradient the update used)
            self.pending_values.append((summary, v.clone()))
            return
        # min, max, sum, sum of squares (mean, std and norm follow), stacked at the end: four
        # cheap kernels (aminmax is one pass; dot runs in BLAS)
        self.pending_stats.append((summary, n, (*torch.aminmax(v), v.sum(), torch.dot(v, v))))

    def _flush_stats(self) -> None:
        """Read every queued summary back: one transfer per device for the reductions, one for
        the tiny tensors' values."""
        by_device: dict[Any, list] = {}
        for item in self.pending_stats:
            by_device.setdefault(item[2][0].device, []).append(item)
        for items in by_device.values():
            # one stack of every scalar (promotes mixed dtypes), one transfer
            flat = torch.stack([s for _, _, four in items for s in four]).tolist()
            for k, (summary, n, _) in enumerate(items):
                _summarize(summary, n, *flat[4 * k:4 * k + 4])
        by_device = {}
        for item in self.pending_values:
            by_device.setdefault(item[1].device, []).append(item)
        for items in by_device.values():
            flat = torch.cat([v for _, v in items]).tolist()
            start = 0
            for summary, v in items:
                values = flat[start:start + v.numel()]
                start += len(values)
                summary["values"] = values
                _summarize(summary, len(values), *_python_stats(values))
        self.pending_stats.clear()
        self.pending_values.clear()


def _python_stats(values: list[float]) -> tuple[float, float, float, float]:
    """min, max, sum, sum of squares of a few values (NaN anywhere: min and max are NaN, as
    torch's amin/amax give)."""
    if any(math.isnan(x) for x in values):
        return math.nan, math.nan, sum(values), sum(x * x for x in values)
    return min(values), max(values), sum(values), sum(x * x for x in values)


def _summarize(summary: dict, n: int, mn: float, mx: float, total: float, sq: float) -> None:
    mean = total / n
    var = (sq - n * mean * mean) / (n - 1) if n > 1 else 0.0
    summary.update(min=mn, max=mx, mean=mean, std=math.sqrt(max(var, 0.0)),
                   norm=math.sqrt(max(sq, 0.0)))
