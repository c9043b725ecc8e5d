"""Per-step values: which tensors a step graph shows values for, and their summaries.

The step run returns the chosen tensors as extra outputs of the same execution (no re-run, no
copy on CPU); numpy turns each into the contract's summary (min, max, mean, std, norm, and the
full values when it has at most contract.FULL_VALUE_LIMIT elements).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracers.contract import FULL_VALUE_LIMIT
from tracers.tf_convert import ValueSlot

AUTO_INTERMEDIATE_BUDGET = 1_000_000   # elements of intermediate outputs summarised per step
AUTO_INTERMEDIATE_COUNT = 256          # intermediate tensors summarised per step


def static_size(shape: list[int] | None) -> int | None:
    """Number of elements for a fully known static shape, else None."""
    if shape is None or any(d < 0 for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def choose_slots(slots: list[ValueSlot], nodes: dict[str, dict], policy: str) -> list[ValueSlot]:
    """The slots worth fetching under a values policy.

    'all': every numeric op output. 'auto' (default): every variable, gradient, input, output
    and the loss, plus forward/backward intermediate outputs (not the optimizer's internals)
    while AUTO_INTERMEDIATE_BUDGET elements / AUTO_INTERMEDIATE_COUNT tensors last. 'params':
    variables, gradients, loss, inputs and outputs only. 'none': nothing.
    """
    if policy == "all":
        return list(slots)
    if policy == "none":
        return []
    essential = {"parameter", "input", "loss", "output", "grad_acc"}
    chosen, rest = [], []
    for s in slots:
        a = nodes.get(s.node, {})
        kind = a.get("kind", "op")
        if s.attr == "grad" or kind in essential or a.get("key", "").startswith("param:"):
            chosen.append(s)
        elif policy == "auto" and a.get("phase") in ("forward", "backward") and \
                kind == "op" and s.dtype.startswith(("float", "bfloat")):
            rest.append(s)
    budget, count = AUTO_INTERMEDIATE_BUDGET, AUTO_INTERMEDIATE_COUNT
    for s in rest:
        size = static_size(s.shape)
        if size is not None and size <= budget and count > 0:
            chosen.append(s)
            budget -= size
            count -= 1
    return chosen


@dataclass
class SummaryPlan:
    """The unique tensors a step run returns (besides the function's own outputs)."""

    tensors: list[str]


def plan_summaries(slots: list[ValueSlot]) -> SummaryPlan:
    """The unique tensor names of the chosen slots, in fetch order."""
    return SummaryPlan(list(dict.fromkeys(s.tensor for s in slots)))


def summarize_fetched(plan: SummaryPlan, fetched: tuple[Any, list, list],
                      meta: dict[str, tuple[list[int] | None, str, str]]) -> dict[str, dict]:
    """Summary dicts (the contract's value format) per tensor name from one step run.

    ``fetched`` is (packed, raw, layout) from StepRunner: big tensors come back reduced in the
    step's own execution to [min, max, sum, sum of squares] in ``packed``; tiny ones (shown in
    full) and those of unknown size come back whole in ``raw`` and numpy summarises them.
    """
    packed, raw, layout = fetched
    stats = np.asarray(packed).reshape(-1, 4).tolist()
    out: dict[str, dict] = {}
    for name, (where, i, n) in zip(plan.tensors, layout, strict=True):
        shape, dtype, device = meta[name]
        if where == "raw":
            out[name] = summarize_np(np.asarray(raw[i]), shape, dtype, device)
            continue
        mn, mx, s1, s2 = stats[i]
        mean = s1 / n
        var = max(s2 / n - mean * mean, 0.0)
        out[name] = {"shape": shape, "dtype": dtype, "device": device, "min": mn, "max": mx,
                     "mean": mean, "std": math.sqrt(var * n / (n - 1)) if n > 1 else 0.0,
                     "norm": math.sqrt(s2)}
    return out


def summarize_np(a: np.ndarray, shape: list[int] | None, dtype: str, device: str) -> dict:
    """min/max/mean/std/norm of an array (full values when tiny) as a contract summary."""
    d: dict[str, Any] = {"shape": list(a.shape) if shape is None or -1 in shape else shape,
                         "dtype": dtype, "device": device}
    n = a.size
    if n == 0 or a.dtype.kind not in "biuf":
        return d
    if n <= FULL_VALUE_LIMIT:
        vals = a.astype(np.float64).ravel().tolist()
        mean = sum(vals) / n
        d.update(min=min(vals), max=max(vals), mean=mean,
                 std=math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0,
                 norm=math.sqrt(sum(v * v for v in vals)), values=vals)
        return d
    x = a.ravel()
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        x = x.astype(np.float32)
    s1 = float(x.sum(dtype=np.float64)) if n < 4096 else float(x.sum())
    s2 = float(np.dot(x, x))
    mean = s1 / n
    var = max(s2 / n - mean * mean, 0.0)
    d.update(min=float(x.min()), max=float(x.max()), mean=mean,
             std=math.sqrt(var * n / (n - 1)), norm=math.sqrt(s2))
    return d


def summarize_array(arr: np.ndarray, dtype: str, device: str) -> dict:
    """A contract summary of a host array (for constants and captured inputs, computed once)."""
    a = np.asarray(arr)
    d: dict[str, Any] = {"shape": [int(s) for s in a.shape], "dtype": dtype, "device": device}
    if a.dtype.kind not in "biuf" or a.size == 0:
        return d
    x = a.astype(np.float64).ravel()
    d.update(min=float(x.min()), max=float(x.max()), mean=float(x.mean()),
             std=float(x.std(ddof=1)) if x.size > 1 else 0.0,
             norm=float(np.sqrt(np.dot(x, x))))
    if x.size <= FULL_VALUE_LIMIT:
        d["values"] = [float(v) for v in x]
    return d
