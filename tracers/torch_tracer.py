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

import math
import time
import weakref
from collections.abc import Callable
from typing import Any

import networkx as nx
import torch
import torch.optim.optimizer as optim_hooks
import torch.utils.data
from torch.nn.modules import module as module_hooks
from torch.overrides import TorchFunctionMode

from graphstage.tracers.contract import FULL_VALUE_LIMIT, make_graph
from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.script import ModelScript, ScriptError, user_traceback
from graphstage.tracers.session import TraceSession

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
_AMINMAX_FROM = 32_768  # elements: above this one aminmax pass beats amin + amax

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


class _Recorder:
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
        self.pending_stats: list[tuple[dict, str, torch.Tensor]] = []
        self.in_optimizer: torch.optim.Optimizer | None = None
        self.backward_done = False
        self.owner: dict[int, tuple[int, weakref.ref]] = {}      # update tensor -> id(param)
        self.muted = False                                       # our own ops are not the user's
        self.updates: dict[int, dict] = {}                       # id(param) -> update node attrs
        self.loss_nodes: list[str] = []
        self.output_nodes: set[str] = set()
        self.optimizer_seen = False
        self.t0 = time.perf_counter_ns()                          # step start, for start_us
        self.op_span = (self.t0, self.t0)                        # the op on_op is told about
        self.backward_start: dict[str, int] = {}
        self.batch: dict[int, str] = {}                          # DataLoader batch tensors
        self._undo: list[Callable[[], None]] = []
        self._handles: list[Any] = []
        self._mode = _Mode(self)
        # graphstage.record: called where a step ends (after an optimizer step, or at the next
        # top-level module call after a backward when no optimizer steps); hooks stay installed
        self.on_boundary: Callable[[], None] | None = None
        self.active = True

    # ---- patching ---------------------------------------------------------------------------

    def __enter__(self) -> _Recorder:
        try:
            self._hook_everything()
        except BaseException:
            self._unhook()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._unhook()

    def reset(self) -> None:
        """Start a new step on the same hooks (graphstage.record between two steps)."""
        keep = (self._undo, self._handles, self._mode, self.on_boundary, self.active,
                self.optimizer_seen)
        self.__init__(self.names)
        (self._undo, self._handles, self._mode, self.on_boundary, self.active,
         self.optimizer_seen) = keep

    def deactivate(self) -> None:
        """Stop recording now: the op mode and patches go at once; the module and optimizer
        hooks (which may be mid-iteration in torch) stay as no-ops until __exit__."""
        self.active = False
        while self._undo:
            self._undo.pop()()

    def _hook_everything(self) -> None:
        self._handles = [
            module_hooks.register_module_forward_pre_hook(self._module_pre),
            module_hooks.register_module_forward_hook(self._module_post, always_call=True),
            optim_hooks.register_optimizer_step_pre_hook(self._optim_pre),
            optim_hooks.register_optimizer_step_post_hook(self._optim_post),
        ]
        autograd = torch.autograd
        real_backward, real_grad = autograd.backward, autograd.grad

        def backward(tensors, *args, **kwargs):
            return self._run_backward(real_backward, tensors, args, kwargs)

        def grad(outputs, *args, **kwargs):
            return self._run_backward(real_grad, outputs, args, kwargs)

        autograd.backward, autograd.grad = backward, grad
        loader_iter = torch.utils.data.dataloader._BaseDataLoaderIter
        real_next, real_init = loader_iter.__next__, loader_iter.__init__

        def next_batch(it):  # loading data is not the model: its ops are not recorded
            muted, self.muted = self.muted, True
            try:
                batch = real_next(it)
            finally:
                self.muted = muted
            for k, t in enumerate(_tensors(batch)):  # the batch's tensors read batch[0], ...
                self.batch[id(t)] = f"batch[{k}]"
            return batch

        def new_iterator(it, *args, **kwargs):  # iter(loader) seeds its sampler with torch ops
            muted, self.muted = self.muted, True
            try:
                real_init(it, *args, **kwargs)
            finally:
                self.muted = muted

        loader_iter.__next__, loader_iter.__init__ = next_batch, new_iterator

        def restore() -> None:
            autograd.backward, autograd.grad = real_backward, real_grad
            loader_iter.__next__, loader_iter.__init__ = real_next, real_init

        self._undo.append(restore)
        self._mode.__enter__()
        self._undo.append(lambda: self._mode.__exit__(None, None, None))

    def _unhook(self) -> None:
        self.deactivate()
        while self._handles:
            self._handles.pop().remove()

    # ---- module scopes ----------------------------------------------------------------------

    def _module_pre(self, module: torch.nn.Module, args: Any) -> None:
        if self.on_boundary is not None and self.active and self.backward_done \
                and not self.optimizer_seen and not self.scope_stack:
            self.on_boundary()  # no optimizer: a new top-level forward starts the next step
        if not self.active:
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
        if not self.active:
            return
        if self.scope_stack and self.scope_stack[-1][0] == id(module):
            self.scope_stack.pop()
        if id(module) in self.names.roots and not self.scope_stack:
            for t in _tensors(output):
                hit = self._producer(t)
                if hit:
                    self.output_nodes.add(hit)

    # ---- forward / update ops ---------------------------------------------------------------

    def on_op(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        if self.muted:
            return
        name = getattr(func, "__name__", None) or str(func)
        if name == "__get__":
            prop = getattr(getattr(func, "__self__", None), "__name__", "")
            if prop in _ALIAS_PROPERTIES:
                if args and isinstance(out, torch.Tensor):
                    pid = self._owner(args[0])
                    if pid is None and id(args[0]) in self.names.params:
                        pid = id(args[0])
                    if pid is not None:
                        self._own(out, pid)
                return
            if prop not in _OP_PROPERTIES:
                return
            name = prop
        elif name in _SKIP or name.startswith("_") and name not in _DUNDER and not \
                name.startswith("_foreach"):
            return
        name = _DUNDER.get(name, name)
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

    def _is_update(self, inputs: list[torch.Tensor], outs: list[torch.Tensor]) -> bool:
        """After backward: an op is part of an update if it reads a gradient (or something
        derived from one) or writes a parameter in place. Reading a parameter is not an update:
        the next forward pass (a GAN's second discriminator call) reads them too."""
        params = self.names.params
        if any(id(t) not in params and self._owner(t) is not None for t in inputs):
            return True
        first = outs[0]
        return id(first) in self.names.params and any(first is t for t in inputs)

    def _owner(self, t: torch.Tensor) -> int | None:
        hit = self.owner.get(id(t))
        return hit[0] if hit is not None and hit[1]() is t else None

    def _own(self, t: torch.Tensor, pid: int) -> None:
        self.owner[id(t)] = (pid, weakref.ref(t))

    def _on_forward_op(self, name: str, inputs: list[torch.Tensor],
                       outs: list[torch.Tensor]) -> None:
        scope = self.scope_stack[-1][1] if self.scope_stack else ""
        ck = f"{scope}/{name}" if scope else name
        k = self.op_calls.get(ck, 0)
        self.op_calls[ck] = k + 1
        nid = f"f{self.forward_order}"
        first = outs[0]
        inplace = any(first is t for t in inputs)
        attrs = {
            "label": name, "op": name, "kind": "op", "phase": "forward", "scope": scope,
            "order": self.forward_order, "key": f"{ck}#{k}", "backward": [],
            "requires_grad": bool(first.requires_grad), "inplace": inplace,
            "output_bytes": sum(_nbytes(t) for t in outs), **self._timing(*self.op_span),
            **_meta(first),
        }
        self.forward_order += 1
        self.nodes[nid] = attrs
        for t in inputs:
            src = self._source(t)
            self.edges.append((src, nid, {"phase": "forward", "role": "data", **_edge_meta(t)}))
        self._stats(attrs, "value", first)
        input_fns = {t.grad_fn for t in inputs if t.grad_fn is not None and t is not first}
        for t in outs:
            self.produced[id(t)] = (nid, weakref.ref(t))
            self._claim_grad_fns(t.grad_fn, nid, input_fns)

    def _claim_grad_fns(self, fn: Any, nid: str, stop: set) -> None:
        """Mark the autograd nodes this op created (from its output back to its inputs')."""
        todo = [fn]
        while todo:
            fn = todo.pop()
            if fn is None or fn in stop or fn in self.created_by or fn.name() == \
                    "torch::autograd::AccumulateGrad":
                continue
            self.created_by[fn] = nid
            todo.extend(f for f, _ in fn.next_functions)

    def _on_update_op(self, name: str, inputs: list[torch.Tensor],
                      outs: list[torch.Tensor]) -> None:
        owners = {self._owner(t) for t in inputs} - {None}
        if not owners:
            owners = {id(t) for t in inputs if id(t) in self.names.params}
        if len(owners) == 1:
            for t in outs:
                self._own(t, next(iter(owners)))
        for pid in owners:
            upd = self.updates.get(pid)
            if upd is None:
                upd = self.updates[pid] = {"ops": [], "order": self.update_order,
                                           "optimizer": type(self.in_optimizer).__name__
                                           if self.in_optimizer else None,
                                           **self._timing(self.op_span[0], self.op_span[0])}
                self.update_order += 1
            upd["ops"].append(name)
            # an op updating several parameters at once (_foreach_*) is shared among them
            share = (self.op_span[1] - self.op_span[0]) / 1e3 / len(owners)
            upd["duration_us"] = round(upd["duration_us"] + share, 3)

    def _optim_pre(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self.active:
            return
        self.in_optimizer = opt
        self.optimizer_seen = True
        for group in opt.param_groups:
            for p in group["params"]:
                self._own(p, id(p))
                if p.grad is not None:
                    self._own(p.grad, id(p))
                for v in opt.state.get(p, {}).values():
                    if isinstance(v, torch.Tensor):
                        self._own(v, id(p))

    def _optim_post(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self.active:
            return
        self.in_optimizer = None
        if self.on_boundary is not None:
            self.on_boundary()

    # ---- sources (parameters, inputs) ---------------------------------------------------------

    def _producer(self, t: torch.Tensor) -> str | None:
        hit = self.produced.get(id(t))
        if hit is not None and hit[1]() is t:
            return hit[0]
        return None

    def _source(self, t: torch.Tensor) -> str:
        """The node a consumed tensor comes from: its producing op, or a parameter/input."""
        nid = self._producer(t)
        if nid is not None:
            if t.grad_fn is not None and t.grad_fn not in self.created_by:
                # made outside the mode's sight (custom autograd.Function): credit its producer
                self._claim_grad_fns(t.grad_fn, nid, set())
            return nid
        tid = id(t)
        pname = self.names.params.get(tid)
        if pname is None and t.requires_grad and t.is_leaf:
            pname = f"leaf{len(self.names.params)}"
            self.names._add_param(pname, t)
        bname = self.names.buffers.get(tid)
        if pname is not None:
            nid = f"p:{pname}"
            if nid not in self.nodes:
                self.nodes[nid] = self._param_attrs(pname, t)
        elif bname is not None:  # BatchNorm running stats and other module state
            nid = f"c:{bname}"
            if nid not in self.nodes:
                self.nodes[nid] = {"label": bname, "op": "buffer", "kind": "constant",
                                   "phase": "forward", "scope": _param_scope(bname), "order": -1,
                                   "key": f"buffer:{bname}", "name": bname, **_meta(t)}
                self._stats(self.nodes[nid], "value", t)
        else:
            vname = self.names.inputs.get(tid) or self.batch.get(tid) or \
                f"input{sum(n[:3] == 'in:' for n in self.nodes)}"
            nid = f"in:{vname}"
            if nid not in self.nodes:
                kind = "input" if t.numel() > 1 or vname in self.names.inputs.values() \
                    else "constant"
                self.nodes[nid] = {"label": vname, "op": "input" if kind == "input" else
                                   "constant", "kind": kind, "phase": "forward", "scope": "",
                                   "order": -1, "key": f"input:{vname}", **_meta(t)}
                self._stats(self.nodes[nid], "value", t)
        self.produced[tid] = (nid, weakref.ref(t))
        return nid

    def _param_attrs(self, pname: str, t: torch.Tensor) -> dict:
        attrs = {"label": pname, "op": "Parameter" if isinstance(t, torch.nn.Parameter) else
                 "leaf", "kind": "parameter", "phase": "forward",
                 "scope": _param_scope(pname), "order": -1, "key": f"param:{pname}",
                 "name": pname, "no_grad": True, **_meta(t)}
        self._stats(attrs, "value", t)
        return attrs

    # ---- backward ---------------------------------------------------------------------------

    def _run_backward(self, real: Callable, tensors: Any, args: tuple, kwargs: dict) -> Any:
        if self.muted:  # a backward inside a custom Function's backward: not a new pass
            return real(tensors, *args, **kwargs)
        self.muted = True
        handles: list[Any] = []
        try:
            handles = self._walk_autograd(_tensors(tensors))
            return real(tensors, *args, **kwargs)
        finally:
            for h in handles:
                h.remove()
            self.backward_done = True
            self._after_backward()
            self.muted = False

    def _walk_autograd(self, roots: list[torch.Tensor]) -> list[Any]:
        """Add every autograd node reachable from the roots; hook each to record firing order."""
        handles = []
        seen_names: dict[str, int] = {}
        todo = []
        for r in roots:
            self.roots.append(r)
            producer = self._producer(r)
            if producer is not None:
                self.loss_nodes.append(producer)
                if r.grad_fn is not None and r.grad_fn not in self.created_by:
                    self._claim_grad_fns(r.grad_fn, producer, set())
            if r.grad_fn is not None:
                todo.append((r.grad_fn, producer))
        saved_names: dict[type, list[str]] = {}
        hooked: set[str] = set()  # once per backward call: a node run again takes its last index
        while todo:
            fn, parent = todo.pop()
            bid = self.bnode_of.get(fn)
            if bid is None:
                bid = f"b{len(self.bnode_of)}"
                self.bnode_of[fn] = bid
                self.nodes[bid] = self._backward_attrs(fn, bid, seen_names, saved_names)
            if bid not in hooked:
                hooked.add(bid)
                handles.append(fn.register_prehook(self._fired(bid)))
                handles.append(fn.register_hook(self._finished(bid)))
                todo.extend((nxt, bid) for nxt, _ in fn.next_functions if nxt is not None)
            if parent is not None:
                self.edges.append((parent, bid, {"phase": "backward", "role": "gradient"}))
        return handles

    def _timing(self, start_ns: int, end_ns: int) -> dict:
        """start_us (from the step's start) and duration_us of a span of perf_counter_ns."""
        return {"start_us": round((start_ns - self.t0) / 1e3, 3),
                "duration_us": round((end_ns - start_ns) / 1e3, 3)}

    def _finished(self, bid: str) -> Callable:
        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            start = self.backward_start.get(bid)
            if start is not None:
                self.nodes[bid].update(self._timing(start, time.perf_counter_ns()))
        return hook

    def _fired(self, bid: str) -> Callable:
        def hook(grad_outputs: Any) -> None:  # a node run again keeps its last run's index
            self.backward_start[bid] = time.perf_counter_ns()
            self.nodes[bid]["order"] = self.backward_order
            self.backward_order += 1
        return hook

    def _backward_attrs(self, fn: Any, bid: str, seen: dict[str, int], saved_names: dict) -> dict:
        op = fn.name()
        if op == "torch::autograd::AccumulateGrad":
            var = fn.variable
            pid = self._source(var)
            pname = self.nodes[pid]["label"]
            self.acc_of[pid] = bid
            return {"label": f"∇ {pname}", "op": "AccumulateGrad", "kind": "grad_acc",
                    "phase": "backward", "scope": self.nodes[pid]["scope"], "order": -1,
                    "key": f"grad:{pname}", "param": pid, **_meta(var)}
        fwd = self.created_by.get(fn)
        base = self.nodes[fwd]["key"] if fwd else "backward"
        n = seen.get(f"{base}/{op}", 0)
        seen[f"{base}/{op}"] = n + 1
        attrs = {"label": op, "op": op, "kind": "op", "phase": "backward",
                 "scope": self.nodes[fwd]["scope"] if fwd else "", "order": -1,
                 "key": f"{base}/{op}#{n}", "forward": fwd, "saved": self._saved(fn, saved_names)}
        attrs["saved_bytes"] = sum(s["bytes"] for s in attrs["saved"])
        if fwd:
            self.nodes[fwd]["backward"].append(bid)
        return attrs

    def _saved(self, fn: Any, cache: dict) -> list[dict]:
        """Shapes of the tensors this node saved for backward (read before the engine frees
        them)."""
        attrs = cache.get(type(fn))
        if attrs is None:
            attrs = cache[type(fn)] = [a for a in dir(fn) if a.startswith("_saved_")]
        out = []
        for a in attrs:
            try:
                v = getattr(fn, a)
            except RuntimeError:  # already freed by an earlier backward
                continue
            tensors = [v] if isinstance(v, torch.Tensor) else \
                [t for t in v if isinstance(t, torch.Tensor)] if isinstance(v, (list, tuple)) \
                else []
            for j, t in enumerate(tensors):
                name = a[7:] if len(tensors) == 1 else f"{a[7:]}[{j}]"
                out.append({"name": name, "shape": list(t.shape), "dtype": _dtype(t),
                            "from": self._producer(t), "bytes": _nbytes(t)})
        return out

    def _after_backward(self) -> None:
        """Record each parameter's gradient as it is right after the engine finished."""
        for attrs in self.nodes.values():
            if attrs["kind"] != "parameter":
                continue
            t = self.names.by_name.get(attrs["name"])
            if t is not None and t.grad is not None:
                attrs["no_grad"] = False
                self._own(t.grad, id(t))
                self._stats(attrs, "grad", t.grad)

    # ---- build --------------------------------------------------------------------------------

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

    def _add_update_nodes(self) -> None:
        pid_of = {tid: f"p:{name}" for tid, name in self.names.params.items()}
        by_param = {pid: upd for pid, upd in self.updates.items() if pid in pid_of}
        for tid, upd in sorted(by_param.items(), key=lambda kv: kv[1]["order"]):
            pnode = pid_of[tid]
            if pnode not in self.nodes:
                continue
            pname = self.nodes[pnode]["name"]
            opt = upd["optimizer"] or "update"
            nid = f"u:{pname}"
            t = self.names.by_name.get(pname)
            self.nodes[nid] = {
                "label": f"{opt} {pname}", "op": f"{opt}.step" if upd["optimizer"] else "update",
                "kind": "update", "phase": "update", "scope": self.nodes[pnode]["scope"],
                "order": upd["order"], "key": f"update:{pname}", "param": pnode,
                "ops": upd["ops"], "start_us": upd["start_us"],
                "duration_us": upd["duration_us"], **_meta(t),
            }
            acc = self.acc_of.get(pnode)
            if acc is not None:
                self.edges.append((acc, nid, {"phase": "update", "role": "update"}))

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
        return g

    def _add_saved_edges(self, g: nx.DiGraph) -> None:
        for bid, attrs in list(g.nodes(data=True)):
            for s in attrs.get("saved", ()):
                src = s.get("from")
                if src and src in g and not g.has_edge(src, bid):
                    g.add_edge(src, bid, phase="backward", role="saved", shape=s["shape"],
                               dtype=s["dtype"])


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
