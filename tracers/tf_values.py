"""Per-step values: which tensors a step graph shows values for, and their summaries.

The step run (tracers/tf_function.py's StepRunner) returns the chosen tensors, or their
in-graph reductions, from the same execution (no re-run); this module picks the tensors and
turns what comes back into the contract's summaries (min, max, mean, std, norm, and the full
values when a tensor has at most contract.FULL_VALUE_LIMIT elements; light summaries leave out
min and max).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from graphstage.tracers.contract import FULL_VALUE_LIMIT
from graphstage.tracers.tf_convert import ValueSlot
from graphstage.tracers.tf_scopes import is_variable

AUTO_INTERMEDIATE_BUDGET = 1_000_000   # elements of intermediate outputs summarised per step
AUTO_INTERMEDIATE_COUNT = 256          # intermediate tensors summarised per step


def static_size(shape: list[int] | None) -> int | None:
    """Number of elements for a fully known static shape, else None."""
    if shape is None or any(d < 0 for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


_FUSABLE = frozenset({"MatMul", "BatchMatMulV2", "Conv2D", "Conv3D", "DepthwiseConv2dNative"})
_BIAS_ADDS = frozenset({"BiasAdd", "AddV2", "Add"})
_ACTIVATIONS = frozenset({"Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Tanh", "Sigmoid",
                          "Softplus", "Softsign"})


def fused_away(g: nx.DiGraph) -> set[str]:
    """Forward ops whose output TensorFlow's optimizer folds into the next kernel when nothing
    else reads it (MatMul or Conv -> BiasAdd -> activation run as one _FusedMatMul or
    _FusedConv2D): fetching it would make TensorFlow run different, unfused kernels."""
    out = set()
    for n, a in g.nodes(data=True):
        if a["phase"] != "forward" or a["kind"] != "op" or g.out_degree(n) != 1:
            continue
        nxt = g.nodes[next(iter(g.successors(n)))]["op"]
        if a["op"] in _FUSABLE and nxt in _BIAS_ADDS or a["op"] in _BIAS_ADDS and \
                nxt in _ACTIVATIONS and any(g.nodes[p]["op"] in _FUSABLE
                                            for p in g.predecessors(n)):
            out.add(n)
    return out


def choose_slots(slots: list[ValueSlot], nodes: dict[str, dict], policy: str,
                 skip: set[str] = frozenset()) -> tuple[list[ValueSlot], set[str]]:
    """The slots worth fetching under a values policy, and the tensors among them that only
    need a light summary (mean, std, norm).

    'all': every numeric op output, in full. 'auto' (default): every variable, gradient,
    input, output and the loss in full, plus forward/backward intermediate outputs (not the
    optimizer's internals, not the ops in skip) as light summaries while
    AUTO_INTERMEDIATE_BUDGET elements / AUTO_INTERMEDIATE_COUNT tensors last. 'params':
    variables, gradients, loss, inputs and outputs only. 'none': nothing.
    """
    if policy == "all":
        return list(slots), set()
    if policy == "none":
        return [], set()
    essential = {"parameter", "input", "loss", "output", "grad_acc"}
    chosen, rest = [], []
    for s in slots:
        a = nodes.get(s.node, {})
        kind = a.get("kind", "op")
        if s.attr == "grad" or kind in essential or bool(a and is_variable(a)):
            chosen.append(s)
        elif policy == "auto" and a.get("phase") in ("forward", "backward") and \
                kind == "op" and s.dtype.startswith(("float", "bfloat")) and s.node not in skip:
            rest.append(s)
    full = {s.tensor for s in chosen}
    light: set[str] = set()
    budget, count = AUTO_INTERMEDIATE_BUDGET, AUTO_INTERMEDIATE_COUNT
    for s in rest:
        size = static_size(s.shape)
        if size is not None and size <= budget and count > 0:
            chosen.append(s)
            if s.tensor not in full:
                light.add(s.tensor)
            budget -= size
            count -= 1
    return chosen, light


@dataclass
class Fetched:
    """One step run's values: float64 matrices of (min, max, sum, norm) and of (sum, norm)
    columns, the concatenated full values of tiny tensors, the tensors returned whole, and
    the runner's Decoder that knows where each planned tensor landed."""

    stats: Any
    moments: Any
    full: Any
    raw: list[Any]
    decoder: Decoder

    def summaries(self) -> list[dict]:
        """The contract summaries of the planned tensors, in plan order."""
        return self.decoder(self)


@dataclass
class SummaryPlan:
    """The unique tensors a step run returns (besides the function's own outputs), the
    (shape, dtype, device) their summaries carry, and whether each gets a light summary
    (mean, std and norm, without min and max: half the in-graph reductions)."""

    tensors: list[str]
    meta: list[tuple[list[int] | None, str, str]]
    light: list[bool]


def plan_summaries(slots: list[ValueSlot], light: set[str] = frozenset()) -> SummaryPlan:
    """The unique tensor names of the chosen slots in fetch order; tensors named in light get
    light summaries."""
    meta = {s.tensor: (s.shape, s.dtype, s.device) for s in slots}
    return SummaryPlan(list(meta), list(meta.values()), [t in light for t in meta])


class Decoder:
    """Turns one step run's Fetched into contract summaries, with everything that does not
    change per step (where each tensor landed, its shape, dtype, device, 1/n and n/(n-1))
    worked out once per runner. Plain float arithmetic: a few numbers per tensor are cheaper
    to decode in Python than through numpy calls."""

    def __init__(self, plan: SummaryPlan, layout: list[tuple[str, int, int]]) -> None:
        self.count = len(plan.tensors)
        self.reduced: list[tuple[int, bool, list[int] | None, str, str, int, float, float]] = []
        self.other: list[tuple[int, bool, list[int] | None, str, str, str, int, int]] = []
        for j, ((shape, dtype, device), light, (kind, i, n)) in enumerate(
                zip(plan.meta, plan.light, layout, strict=True)):
            if kind in ("stats", "moments"):
                self.reduced.append((j, kind == "moments", shape, dtype, device, i, 1.0 / n,
                                     n / (n - 1)))
            else:
                self.other.append((j, light, shape, dtype, device, kind, i, n))

    def __call__(self, fetched: Fetched) -> list[dict]:
        """Summary dicts (the contract's value format), one per planned tensor."""
        mn, mx, s1, nrm = fetched.stats.tolist()
        ls1, lnrm = fetched.moments.tolist()
        out: list[Any] = [None] * self.count
        for j, light, shape, dtype, device, i, inv_n, bessel in self.reduced:
            if light:
                norm, mean = lnrm[i], ls1[i] * inv_n
            else:
                norm, mean = nrm[i], s1[i] * inv_n
            var = norm * norm * inv_n - mean * mean
            d = {"shape": shape, "dtype": dtype, "device": device, "mean": mean,
                 "std": math.sqrt(var * bessel) if var > 0 else 0.0, "norm": norm}
            if not light:
                d["min"], d["max"] = mn[i], mx[i]
            out[j] = d
        if self.other:
            full = fetched.full.tolist()
            for j, light, shape, dtype, device, kind, i, n in self.other:
                if kind == "full":
                    out[j] = summarize_values(full[i:i + n], shape, dtype, device)
                    continue
                d = summarize_np(np.asarray(fetched.raw[i]), shape, dtype, device)
                if light and "values" not in d:  # as the reducing runner would summarise it
                    d.pop("min", None)
                    d.pop("max", None)
                out[j] = d
        return out


def summarize_values(vals: list[float], shape: list[int], dtype: str, device: str) -> dict:
    """The contract summary of a tiny tensor given as its (at least one) values."""
    n = len(vals)
    if n == 1:  # scalars (the loss, counters, learning rates) are most of them
        v = vals[0]
        return {"shape": shape, "dtype": dtype, "device": device, "min": v, "max": v,
                "mean": v, "std": 0.0, "norm": abs(v), "values": vals}
    mean = sum(vals) / n
    dev = [v - mean for v in vals]
    return {"shape": shape, "dtype": dtype, "device": device, "min": min(vals),
            "max": max(vals), "mean": mean,
            "std": math.sqrt(sum([d * d for d in dev]) / (n - 1)),
            "norm": math.sqrt(sum([v * v for v in vals])), "values": vals}


def summarize_np(a: np.ndarray, shape: list[int] | None, dtype: str, device: str) -> dict:
    """min/max/mean/std/norm of an array (full values when tiny) as a contract summary."""
    d: dict[str, Any] = {"shape": list(a.shape) if shape is None or -1 in shape else shape,
                         "dtype": dtype, "device": device}
    n = a.size
    if n == 0 or a.dtype.kind not in "biuf":
        return d
    if n <= FULL_VALUE_LIMIT:
        return summarize_values(a.astype(np.float64).ravel().tolist(), d["shape"], dtype, device)
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
