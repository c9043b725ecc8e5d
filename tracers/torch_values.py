"""Value summaries (min/max/mean/std/norm, full values when tiny) queued on the tensor's device and
read back once per step.

A mixin of the PyTorch recorder (tracers/torch_tracer.py ``_Recorder``): it reads and writes the
recorder's step state.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.utils.data

from graphstage.tracers.contract import FULL_VALUE_LIMIT
from graphstage.tracers.torch_util import (
    _AMINMAX_FROM,
    _dtype,
)


class ValuesMixin:
    """Value summaries of the tensors a step makes, read back once per step."""

    def _stats(self, attrs: dict, field: str, t: torch.Tensor) -> None:
        """Queue a value summary; reductions stay on t's device until one transfer at the end."""
        with torch.no_grad():
            x = t.detach()
            n = x.numel()
            summary = {"shape": list(x.shape), "dtype": _dtype(x), "device": str(x.device)}
            attrs[field] = summary
            if n == 0 or x.is_complex() or x.layout != torch.strided:
                return
            if x.dtype not in (torch.float32, torch.float64):
                x = x.double() if not x.is_floating_point() else x.float()
            v = x.reshape(-1)
            if n <= FULL_VALUE_LIMIT:
                # a copy: the step may change the tensor in place later (grad.zero_(), w -= ..),
                # and the value shown must be the one at this moment (the gradient the update used)
                summary["values"] = v.clone()
            # min, max, sum, sum of squares: mean, std and norm follow; aminmax is one pass but
            # only pays off on big tensors
            lo_hi = torch.aminmax(v) if n > _AMINMAX_FROM else (v.amin(), v.amax())
            stats = torch.stack((*lo_hi, v.sum(), torch.dot(v, v)))
            self.pending_stats.append((summary, n, stats))

    def _flush_stats(self) -> None:
        by_device: dict[Any, list] = {}
        for item in self.pending_stats:
            by_device.setdefault(item[2].device, []).append(item)
        for items in by_device.values():
            rows = torch.stack([s for _, _, s in items]).tolist()  # promotes mixed dtypes
            for (summary, n, _), (mn, mx, total, sq) in zip(items, rows, strict=True):
                mean = total / n
                var = (sq - n * mean * mean) / (n - 1) if n > 1 else 0.0
                summary.update(min=mn, max=mx, mean=mean, std=math.sqrt(max(var, 0.0)),
                               norm=math.sqrt(max(sq, 0.0)))
                if "values" in summary:
                    summary["values"] = summary["values"].tolist()
        self.pending_stats.clear()
