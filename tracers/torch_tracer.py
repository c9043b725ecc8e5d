"""PyTorch tracer: one contract step graph per call of a model script's step().

What is recorded, and how (docs/pytorch.md has the long form):
- forward ops at torch-function level through a TorchFunctionMode, with the module scope from
  global module forward hooks (a module called 3 times gives 3 keyed call scopes);
- the autograd graph, walked from the roots handed to ``torch.autograd.backward``/``grad`` just
  before the engine runs, with a pre-hook per node recording the order the engine fired them;
- update ops (inside ``Optimizer.step`` or in-place on a parameter after backward), folded into
  one update node per parameter.
Everything patched or hooked is restored when the step ends, also when it raises.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

import networkx as nx
import torch
import torch.utils.data
from torch.overrides import TorchFunctionMode

from graphstage.tracers.contract import make_graph
from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.script import ModelScript, ScriptError, user_traceback
from graphstage.tracers.session import TraceSession
from graphstage.tracers.torch_autograd import AutogradMixin
from graphstage.tracers.torch_compat import check_version, checkpoint_hooks_active
from graphstage.tracers.torch_hooks import HooksMixin
from graphstage.tracers.torch_names import _Names
from graphstage.tracers.torch_scopes import ScopesMixin
from graphstage.tracers.torch_sources import SourcesMixin
from graphstage.tracers.torch_updates import UpdatesMixin
from graphstage.tracers.torch_util import _device, _dtype, _nbytes, _tensors
from graphstage.tracers.torch_values import ValuesMixin

_SKIP = frozenset({
    "size", "dim", "numel", "item", "tolist", "__len__", "__repr__", "__format__", "__bool__",
    "__index__", "__int__", "__float__", "data_ptr", "stride", "is_contiguous", "element_size",
    "storage_offset", "__hash__", "__reduce_ex__", "__deepcopy__", "untyped_storage", "backward",
    "register_hook", "retain_grad", "requires_grad_", "is_floating_point", "is_complex", "type",
    "get_device", "__array__", "numpy",
})
# Tensor properties that are real ops (they create autograd nodes); other property reads are not.
_OP_PROPERTIES = frozenset({"T", "mT", "H", "mH", "real", "imag"})
_ALIAS_PROPERTIES = frozenset({"data", "grad"})
_IDENTITY_MOVES = frozenset({"to", "cpu", "cuda", "contiguous", "type_as", "float"})

_DUNDER = {
    "__add__": "add", "__radd__": "add", "__sub__": "sub", "__rsub__": "rsub", "__mul__": "mul",
    "__rmul__": "mul", "__truediv__": "div", "__rtruediv__": "div", "__matmul__": "matmul",
    "__rmatmul__": "matmul", "__pow__": "pow", "__rpow__": "pow", "__neg__": "neg",
    "__getitem__": "getitem", "__setitem__": "setitem_", "__iadd__": "add_", "__isub__": "sub_",
    "__imul__": "mul_", "__itruediv__": "div_", "__floordiv__": "floor_divide", "__mod__":
    "remainder", "__and__": "logical_and", "__or__": "logical_or", "__invert__": "bitwise_not",
    "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__eq__": "eq", "__ne__": "ne",
    "__abs__": "abs",
}


_RECORDED_AS: dict[Any, str] = {}


def _recorded_as(func: Any) -> str | None:
    """The op name a torch function is recorded under ("" if it is skipped, None for a
    property read, decided per call); cached per function."""
    name = getattr(func, "__name__", None) or str(func)
    if name == "__get__":
        return None  # a fresh method-wrapper per read: not cached
    if name in _SKIP or name.startswith("_") and name not in _DUNDER and not \
            name.startswith("_foreach"):
        name = ""
    name = _DUNDER.get(name, name)
    try:
        _RECORDED_AS[func] = name
    except TypeError:  # unhashable
        pass
    return name


def trace(
    ms: ModelScript,
    steps: int,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_step: Callable[[TraceSession], None] | None = None,
) -> TraceSession:
    """Run ms.step() ``steps`` times, recording each call as one step graph (``on_step`` sees
    the session after each)."""
    check_version()
    names = _Names.discover(ms)
    session = TraceSession(framework="torch", model=ms.name,
                           meta={"script": str(ms.path), "torch": torch.__version__})
    if progress:
        progress(0, steps, f"tracing {ms.name}")
    for i in range(steps):
        if cancel and cancel():
            raise TraceCancelled(f"cancelled after {i} of {steps} steps")
        rec = _Recorder(names)
        start = time.perf_counter()
        try:
            with rec:
                ms.step()
        except Exception as exc:  # the user's step failed: report it with their traceback
            rec.release_autograd()
            raise ScriptError(_step_error(ms, i, exc), user_traceback(exc, ms.path)) from None
        wall_ms = (time.perf_counter() - start) * 1e3
        if not rec.roots:
            raise ScriptError(f"{ms.where}: step {i} ran no backward pass; step() must call "
                              "loss.backward() (or torch.autograd.grad) on a loss that requires "
                              "grad")
        graph = rec.build(ms.name, i)
        session.add_step(graph, loss=graph.graph["loss"], wall_ms=round(wall_ms, 3))
        if on_step:
            on_step(session)
        if progress:
            progress(i + 1, steps, f"step {i}: loss {graph.graph['loss']}")
    return session


def _step_error(ms: ModelScript, index: int, exc: Exception) -> str:
    msg = f"{ms.where}: step() raised {type(exc).__name__} at step {index}: {exc}"
    if "does not require grad" in str(exc):
        msg += (" (the loss does not depend on any tensor with requires_grad=True: no gradient "
                "can flow; check that parameters are not detached or created under no_grad)")
    return msg.splitlines()[0]


class _Mode(TorchFunctionMode):
    """Routes every torch-function call to the recorder (nested calls are not seen)."""

    def __init__(self, rec: _Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        start = time.perf_counter_ns()
        out = func(*args, **kwargs)
        self.rec.op_span = (start, time.perf_counter_ns())
        self.rec.on_op(func, args, kwargs, out)
        return out


class _Recorder(HooksMixin, ScopesMixin, SourcesMixin, AutogradMixin, UpdatesMixin,
                ValuesMixin):
    """Collects one step: forward ops, autograd graph, firing order, updates; then builds it."""

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.nodes: dict[str, dict] = {}
        self.edges: list[tuple[str, str, dict]] = []
        self.produced: dict[int, tuple[str, weakref.ref]] = {}   # id(tensor) -> producer node
        self.created_by: dict[Any, str] = {}                     # autograd node -> forward node
        self.bnode_of: dict[Any, str] = {}                       # autograd node -> backward id
        self.acc_of: dict[str, str] = {}                         # parameter id -> grad_acc id
        self.scope_stack: list[tuple[int, str]] = []             # (id(module), scope string)
        self.module_calls: dict[int, int] = {}
        self.op_calls: dict[str, int] = {}
        self.forward_order = 0
        self.backward_order = 0
        self.update_order = 0
        self.roots: list[torch.Tensor] = []
        self.pending_stats: list[tuple[dict, int, tuple]] = []     # (summary, n, reductions)
        self.pending_values: list[tuple[dict, torch.Tensor]] = []  # tiny tensors' copies
        self.in_optimizer: torch.optim.Optimizer | None = None
        self.backward_done = False
        self.owner: dict[int, tuple[int, weakref.ref]] = {}      # update tensor -> id(param)
        self.muted = False                                       # our own ops are not the user's
        self.in_function = False                                 # inside a custom Function
        self.checkpointing = 0                                   # inside reentrant checkpoints
        self.updates: dict[int, dict] = {}                       # id(param) -> update node attrs
        self.loss_nodes: list[str] = []
        self.output_nodes: set[str] = set()
        self.optimizer_seen = False
        self.t0 = time.perf_counter_ns()                          # step start, for start_us
        self.op_span = (self.t0, self.t0)                        # the op on_op is told about
        self.backward_start: dict[str, int] = {}
        self.batch: dict[int, str] = {}                          # DataLoader batch tensors
        self.input_count = 0                                     # input nodes made
        self._undo: list[Callable[[], None]] = []
        self._handles: list[Any] = []
        self._mode = _Mode(self)
        # graphstage.record: called where a step ends (after an optimizer step, or at the next
        # top-level module call after a backward when no optimizer steps); hooks stay installed
        self.on_boundary: Callable[[], None] | None = None
        self.active = True

    # ---- forward / update ops ---------------------------------------------------------------

    def on_op(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        """One torch-function call the mode saw (after it ran): record it unless skipped."""
        if self.muted:
            return
        try:
            name = _RECORDED_AS[func]  # the name an op is recorded under; "" if skipped
        except (KeyError, TypeError):
            name = _recorded_as(func)
        if name:
            self.record_op(name, args, kwargs, out)
        elif name is None:  # a property read: an op, an alias of a parameter or gradient, or not
            self._on_property(func, args, out)

    def _on_property(self, func: Any, args: tuple, out: Any) -> None:
        prop = getattr(getattr(func, "__self__", None), "__name__", "")
        if prop in _ALIAS_PROPERTIES:
            if args and isinstance(out, torch.Tensor):
                pid = self._owner(args[0])
                if pid is None and id(args[0]) in self.names.params:
                    pid = id(args[0])
                if pid is not None:
                    self._own(out, pid)
        elif prop in _OP_PROPERTIES:
            self.record_op(prop, args, {}, out)

    def record_op(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        """Record one op under its name: a forward op, or part of a parameter's update."""
        if name == "setitem_" and args:
            out = args[0]
        outs = _tensors(out)
        if not outs:
            return
        inputs = _tensors(args) + (_tensors(kwargs) if kwargs else [])
        if name in _IDENTITY_MOVES and inputs and outs[0] is inputs[0]:
            return  # .to(device) / .contiguous() that returned the tensor itself: no op ran
        if self.in_optimizer is not None or self.backward_done and self._is_update(inputs, outs):
            self._on_update_op(name, inputs, outs)
        else:
            self._on_forward_op(name, inputs, outs)

    def _on_forward_op(self, name: str, inputs: list[torch.Tensor],
                       outs: list[torch.Tensor]) -> None:
        scope = self.scope_stack[-1][1] if self.scope_stack else ""
        ck = f"{scope}/{name}" if scope else name
        k = self.op_calls.get(ck, 0)
        self.op_calls[ck] = k + 1
        nid = f"f{self.forward_order}"
        first = outs[0]
        inplace = any(first is t for t in inputs)
        # the autograd nodes this op made, claimed before its inputs are: an in-place op's input
        # already carries the op's own grad_fn
        input_fns = {t.grad_fn for t in inputs if t.grad_fn is not None and t is not first}
        for t in outs:
            self._claim_grad_fns(t.grad_fn, nid, input_fns)
        start, end = self.op_span
        attrs = {
            "label": name, "op": name, "kind": "op", "phase": "forward", "scope": scope,
            "order": self.forward_order, "key": f"{ck}#{k}", "backward": [],
            "requires_grad": first.requires_grad, "inplace": inplace,
            "output_bytes": sum(_nbytes(t) for t in outs),
            "start_us": round((start - self.t0) / 1e3, 3),
            "duration_us": round((end - start) / 1e3, 3),
            "shape": list(first.shape), "dtype": _dtype(first), "device": _device(first),
        }
        if self.checkpointing or checkpoint_hooks_active():
            attrs["checkpointed"] = True
        self.forward_order += 1
        self.nodes[nid] = attrs
        for t in inputs:
            src = self._source(t)
            self.edges.append((src, nid, {"phase": "forward", "role": "data",
                                          "shape": list(t.shape), "dtype": _dtype(t)}))
        self._stats(attrs, "value", first)
        for t in outs:
            self.produced[id(t)] = (nid, weakref.ref(t))

    def _timing(self, start_ns: int, end_ns: int) -> dict:
        """start_us (from the step's start) and duration_us of a span of perf_counter_ns."""
        return {"start_us": round((start_ns - self.t0) / 1e3, 3),
                "duration_us": round((end_ns - start_ns) / 1e3, 3)}

    def build(self, model: str, step: int) -> nx.DiGraph:
        """The finished step graph (valid under the contract)."""
        for name, t in self.names.by_name.items():
            if f"p:{name}" not in self.nodes:
                if t.requires_grad:
                    self.nodes[f"p:{name}"] = self._param_attrs(name, t)
        self._add_update_nodes()
        for nid in self.output_nodes:
            self.nodes[nid]["kind"] = "output"
        for nid in self.loss_nodes:
            self.nodes[nid]["kind"] = "loss"
        self._flush_stats()
        losses = [float(r.detach().sum()) for r in self.roots if r.numel() == 1]
        g = make_graph(framework="torch", model=model, step=step, capture="autograd",
                       loss=losses[0] if losses else None, backward_calls=len(self.roots),
                       losses=losses)
        g.add_nodes_from(self.nodes.items())
        for u, v, attrs in self.edges:
            if u != v and not g.has_edge(u, v):
                g.add_edge(u, v, **attrs)
        self._add_saved_edges(g)
        self.release_autograd()
        return g
