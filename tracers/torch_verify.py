"""Check a PyTorch trace against records made independently in the same run (graphstage verify).

Each step runs once, under graphstage's recorder and, around it, two loggers of our own: a
TorchFunctionMode that notes the tensors each ``backward()`` starts from, and a TorchDispatchMode
that logs every ATen op with the traced forward op it ran under. After the step:
- the autograd graph walked from those roots (``grad_fn.next_functions``) must hold exactly the
  trace's backward nodes (op names and counts);
- every backward node except AccumulateGrad must be linked to the forward op that created it;
- every traced forward op must have run at least one ATen op, and the leaves the autograd walk
  reaches must be the trace's parameters/inputs.
Mismatches are listed by the trace's node key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from graphstage.tracers.script import ModelScript, ScriptError, user_traceback
from graphstage.tracers.torch_compat import dispatch_mode_class
from graphstage.tracers.torch_tracer import _Names, _Recorder


@dataclass
class StepCheck:
    """The verdict for one step: what was compared and every mismatch found."""

    step: int
    backward_nodes: int
    forward_ops: int
    aten_ops: int
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


class _Roots(TorchFunctionMode):
    """Independent record of backward roots: the tensors Tensor.backward is called on."""

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "backward" and args and \
                isinstance(args[0], torch.Tensor):
            self.roots.append(args[0])
        return func(*args, **(kwargs or {}))


class _Aten(dispatch_mode_class()):
    """Every ATen op, with the index the recorder's next forward op will get (its owner)."""

    def __init__(self, rec: _Recorder) -> None:
        super().__init__()
        self.rec = rec
        self.by_forward: Counter = Counter()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        rec = self.rec  # a custom Function's forward runs muted, under no_grad: still its op
        if rec.in_function or not rec.muted and rec.in_optimizer is None and \
                torch.is_grad_enabled():
            self.by_forward[self.rec.forward_order] += 1
            self.total += 1
        return out


def walk(roots: list[torch.Tensor]) -> list[Any]:
    """Every autograd node reachable from the roots (each once)."""
    seen: dict[Any, None] = {}
    todo = [r.grad_fn for r in roots if r.grad_fn is not None]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen[fn] = None
        todo.extend(nxt for nxt, _ in fn.next_functions)
    return list(seen)


def _op_name(fn: Any) -> str:
    return fn.name().removeprefix("torch::autograd::")


def check_step(ms: ModelScript, names: _Names, index: int) -> StepCheck:
    """Run one step under the recorder and the independent loggers; compare."""
    rec = _Recorder(names)
    roots, aten = _Roots(), _Aten(rec)
    try:
        with roots, rec, aten:
            ms.step()
    except Exception as exc:
        raise ScriptError(f"{ms.where}: step() raised {type(exc).__name__} at step {index}: "
                          f"{exc}".splitlines()[0], user_traceback(exc, ms.path)) from None
    graph = rec.build(ms.name, index)
    nodes = walk(roots.roots)
    traced = {n: a for n, a in graph.nodes(data=True) if a["phase"] == "backward"}
    result = StepCheck(index, len(nodes), sum(1 for a in graph.nodes.values()
                                             if a["phase"] == "forward" and a["order"] >= 0),
                       aten.total)
    want, got = Counter(_op_name(fn) for fn in nodes), Counter(a["op"] for a in traced.values())
    for op in sorted(set(want) | set(got)):
        if want[op] != got[op]:
            keys = [a["key"] for a in traced.values() if a["op"] == op][:3]
            result.mismatches.append(f"backward {op}: {got[op]} traced, {want[op]} in the "
                                     f"autograd graph (traced keys: {', '.join(keys) or '-'})")
    for a in traced.values():
        if a["op"] != "AccumulateGrad" and not a.get("forward"):
            result.mismatches.append(f"{a['key']}: backward node without its forward op")
    for a in graph.nodes.values():
        if a["phase"] == "forward" and a["order"] >= 0 and a.get("requires_grad") \
                and not a.get("inplace") and aten.by_forward[a["order"]] == 0:
            result.mismatches.append(f"{a['key']}: traced forward op that ran no ATen op")
    leaves = {id(fn.variable) for fn in nodes if _op_name(fn) == "AccumulateGrad"}
    unnamed = [t for t in leaves if t not in names.params and t not in names.inputs]
    traced_leaves = sum(1 for a in graph.nodes.values() if a["kind"] == "grad_acc")
    if len(leaves) != traced_leaves:
        result.mismatches.append(f"{traced_leaves} gradient accumulators traced, {len(leaves)} "
                                 f"leaves in the autograd graph ({len(unnamed)} unnamed)")
    return result


def verify(ms: ModelScript, steps: int) -> list[StepCheck]:
    """Check ``steps`` steps of a loaded PyTorch model script."""
    names = _Names.discover(ms)
    return [check_step(ms, names, i) for i in range(steps)]
