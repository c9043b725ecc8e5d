"""The TensorFlow tracer: one contract step graph per step() call of a TensorFlow model script.

A tf.function step is captured as the concrete function TensorFlow really runs (traced once,
then reused); an eager step is wrapped in tf.function first; a TF1 tf.Graph is run through its
Session (see tracers/tf1_graph.py). The converted structure is cached per concrete function, so
a step that reuses it only pays for one graph run with in-graph value summaries attached.
See docs/tensorflow.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from graphstage.tracers import tf_compat
from graphstage.tracers.contract import graph_attrs
from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.script import ModelScript, ScriptError, user_traceback
from graphstage.tracers.session import TraceSession
from graphstage.tracers.tf_convert import Converter, Template, ValueSlot
from graphstage.tracers.tf_env import default_device, import_tf, is_tf_function
from graphstage.tracers.tf_function import (
    FunctionInfo,
    StepRunner,
    TapeRecorder,
    collect_variables,
    describe,
    flatten_args,
    signature_reason,
    tf_variable,
)
from graphstage.tracers.tf_keras_scopes import KerasScopeRecorder, keras_scopes
from graphstage.tracers.tf_memory import annotate_memory, runtime_shapes
from graphstage.tracers.tf_order import OrderRecorder, apply_order
from graphstage.tracers.tf_timing import record_timing, timing_mode, wants_profile
from graphstage.tracers.tf_values import (
    Fetched,
    SummaryPlan,
    choose_slots,
    fused_away,
    plan_summaries,
    summarize_array,
)

Progress = Callable[[int, int, str], None]

# A reused concrete function of at most this many ops gets the runner that summarises in-graph:
# it saves the per-tensor Python work that dominates small, fast steps (dynamicnet_tf: 1.4x ->
# 1.15x), while for big graphs building it costs seconds and saves nothing measurable
# (resnet18_tf, 2,721 ops: 0.31 s per step either way, 3 s to build and optimise).
REDUCE_MAX_OPS = 1500


@dataclass
class Captured:
    """Everything cached for one concrete function: template (with its constant values
    filled in), runner, value plan and the node attributes each planned tensor fills."""

    cf: Any
    info: FunctionInfo
    template: Template
    runner: StepRunner
    plan: SummaryPlan
    fills: list[tuple[str, list[tuple[str, int]]]]   # node -> (attribute, summary index)
    loss_index: int | None
    first_capture_s: float


@dataclass
class StepTarget:
    """The tf.function a script's steps run and how to get each step's arguments."""

    fn: Any
    args: Any            # tuple, or callable(step_index) -> tuple
    wrapped: bool        # an eager step() wrapped in tf.function by the tracer
    static_args: bool


def _fail(ms: ModelScript, what: str, exc: BaseException) -> ScriptError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ScriptError(f"{ms.where}: {what}: {type(exc).__name__}: {first}"[:400],
                       user_traceback(exc, ms.path))


def resolve_target(tf: Any, ms: ModelScript) -> StepTarget:
    """Find the tf.function to trace (the step itself, extras['function'], Keras fit's train
    function, or the eager step wrapped in tf.function)."""
    ex = ms.extras
    step = ms.step
    if _is_keras_object(step):
        raise ScriptError(f"{ms.where}: setup() returned a Keras {type(step).__name__} as the "
                          "step; return a step() that trains it, or {'step': step, 'model': model}")
    if "function" in ex:
        fn = ex["function"]
        if not is_tf_function(fn):
            raise ScriptError(f"{ms.where}: setup()['function'] is a {type(fn).__name__}, "
                              "not a tf.function")
        args = ex.get("args", ())
        return StepTarget(fn, args, False, not callable(args))
    if "fit_data" in ex:
        fn = keras_train_function(ms)
        return StepTarget(fn, (tuple(ex["fit_data"]),), False, True)
    if is_tf_function(step):
        return StepTarget(step, (), False, True)
    return StepTarget(tf.function(step), (), True, True)


def _is_keras_object(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith(("keras", "tf_keras")) and hasattr(obj, "trainable_variables") and \
        hasattr(obj, "call")


def keras_train_function(ms: ModelScript) -> Any:
    """The tf.function Keras' fit() runs per batch (one_step_on_data) for a compiled model."""
    model = ms.model
    if model is None or not hasattr(model, "make_train_function"):
        raise ScriptError(f"{ms.where}: 'fit_data' needs 'model': a compiled Keras model")
    if getattr(model, "optimizer", None) is None:
        raise ScriptError(f"{ms.where}: the Keras model is not compiled (call "
                          "model.compile(...) in setup())")
    train = model.make_train_function()
    one = _find_in_closures(train, "one_step_on_data", depth=3)
    if one is not None:
        return one
    import_tf()
    import tensorflow as tf

    return tf.function(model.train_step)


def _find_in_closures(fn: Any, name: str | None, depth: int) -> Any:
    """The tf.function bound to `name` in fn's closure, looking through wrapper functions."""
    code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None) or ()
    if code is None or depth < 0:
        return None
    for var, cell in zip(code.co_freevars, cells, strict=False):
        try:
            val = cell.cell_contents
        except ValueError:
            continue
        if var == name and is_tf_function(val):
            return val
        if var == name and callable(val):
            return _find_in_closures(val, None, depth - 1)
        if name is None and is_tf_function(val):
            return val  # the tf.function a wrapper (e.g. Keras' _autoconvert_optionals) calls
    return None


def _resolve_function(graph: Any) -> Callable[[str], Any]:
    def resolve(name: str) -> Any:
        g = graph
        while g is not None:
            try:
                fn = tf_compat.graph_function(g, name)
            except (AttributeError, KeyError, ValueError):
                fn = None
            if fn is not None and getattr(fn, "graph", None) is not None:
                return fn.graph
            g = getattr(g, "outer_graph", None)
        return tf_compat.function_from_library(graph, name)

    return resolve


def capture(tf: Any, ms: ModelScript, cf: Any, records: list, variables: dict[int, Any], *,
            fold: bool, values: str, scope_records: list | None = None) -> Captured:
    """Convert a concrete function and build its runner (done once per concrete function)."""
    t0 = time.perf_counter()
    info = describe(tf, cf, variables, records, ms.optimizer)
    _check_gradients(ms, info, cf, bool(records))
    if scope_records:
        var_names = {id(tf_variable(v).handle): info.spec.variables[h].name
                     for h, v in info.var_by_handle_op.items()}
        info.spec.keras_scopes = keras_scopes(scope_records, cf.graph, ms.model, var_names)
    conv = Converter(fold=fold, device=default_device(), resolve_function=_resolve_function(
        cf.graph))
    tmpl = conv.convert(cf.graph, info.spec)
    g = tmpl.graph
    kinds = {n: a["kind"] for n, a in g.nodes(data=True)}
    captured_ops = _captured_tensors(cf, info)
    dyn_slots: list[ValueSlot] = []
    for s in tmpl.slots:
        op_name = s.tensor.rsplit(":", 1)[0]
        if s.attr == "value" and op_name in captured_ops:
            arr = captured_ops[op_name]
            g.nodes[s.node]["value"] = summarize_array(arr, s.dtype, s.device)
        elif s.attr == "value" and kinds.get(s.node) == "constant" and \
                g.nodes[s.node].get("op") == "Const":
            arr = _const_value(tf, cf.graph, op_name)
            if arr is not None:
                g.nodes[s.node]["value"] = summarize_array(arr, s.dtype, s.device)
        else:
            dyn_slots.append(s)
    chosen, light = choose_slots(dyn_slots, dict(g.nodes(data=True)), values, fused_away(g))
    post_dtypes: dict[str, str] = {}
    if values == "all":
        for upd, handle in tmpl.post_update:
            var = info.spec.variables.get(handle)
            if var is not None and var.dtype:
                chosen.append(ValueSlot(upd, "value", "post:" + upd, var.shape, var.dtype,
                                        g.nodes[upd]["device"]))
                post_dtypes[upd] = var.dtype
    plan = plan_summaries(chosen, light)
    index = {t: i for i, t in enumerate(plan.tensors)}
    fills: dict[str, list[tuple[str, int]]] = {}
    for s in chosen:
        fills.setdefault(s.node, []).append((s.attr, index[s.tensor]))
    try:
        runner = StepRunner(tf, cf, plan, post_dtypes)
    except Exception as exc:  # noqa: BLE001 - report any TF failure as one line
        raise _fail(ms, "could not build the instrumented step", exc) from None
    g.graph["graph_ops"] = len(cf.graph.get_operations())
    return Captured(cf, info, tmpl, runner, plan, list(fills.items()),
                    index.get(info.loss_tensor or ""),
                    time.perf_counter() - t0)


def _runtime_order(c: Captured, recorder: OrderRecorder, timing: str,
                   fetched: Fetched) -> None:
    """Number the template's ops in the order TensorFlow's runtime ran them on this first run
    of the concrete function (kept for every step that reuses it; topological order stays
    where the profiler recorded nothing, e.g. another profiler was running) and set its memory
    attributes; on every profiled run put the measured durations on the template."""
    g = c.template.graph
    node_of = {op: pid for pid, ops in c.template.folded.items() for op in ops}
    names = {op.name for op in c.cf.graph.get_operations()}
    if "order_source" not in g.graph:
        recorded = recorder.order(prefix=c.runner.prefix, names=names)
        placed = apply_order(g, recorded, node_of) if recorded else 0
        g.graph["order_source"] = "runtime" if placed else "topological"
        g.graph["order_recorded_ops"] = placed
        annotate_memory(g, c.cf.graph, node_of, runtime_shapes(c.fills, fetched.summaries()))
    record_timing(g, recorder.spans(c.runner.prefix, names), node_of, timing,
                  recorder.spans(c.runner.prefix))


def _captured_tensors(cf: Any, info: FunctionInfo) -> dict[str, Any]:
    """op name -> numpy value of captured (constant per concrete function) non-resource inputs."""
    out = {}
    inputs = list(cf.graph.inputs)
    for internal, external in zip(inputs[info.n_args:], cf.captured_inputs, strict=True):
        if internal.dtype.name != "resource" and hasattr(external, "numpy"):
            try:
                out[internal.op.name] = external.numpy()
            except Exception:  # noqa: BLE001, S112 - a symbolic capture has no value
                continue
    return out


def _const_value(tf: Any, graph: Any, op_name: str) -> Any:
    try:
        op = graph.get_operation_by_name(op_name)
        return tf.make_ndarray(op.get_attr("value"))
    except Exception:  # noqa: BLE001 - not a plain Const
        return None


def _check_gradients(ms: ModelScript, info: FunctionInfo, cf: Any, recorded: bool) -> None:
    """A step must compute a gradient: raise a clear error when the tape watched nothing."""
    spec = info.spec
    grads = list(spec.grad_tensors.values()) + list(spec.input_grads.values())
    if recorded and spec.grad_tensors and not any(grads):
        raise ScriptError(f"{ms.where}: step() computes no gradient: tape.gradient returned "
                          "None for every source (did the tape watch nothing, e.g. "
                          "watch_accessed_variables=False without tape.watch?)")
    if not recorded:
        from graphstage.tracers.tf_convert import is_grad_name

        if not any(is_grad_name(op.name) for op in cf.graph.get_operations()) and \
                not _has_nested_gradients(cf):
            raise ScriptError(f"{ms.where}: step() computes no gradient: its graph has no "
                              "gradient ops (use tf.GradientTape and tape.gradient in step())")


def _has_nested_gradients(cf: Any) -> bool:
    return any("gradient" in f.signature.name or "grad" in f.signature.name
               for f in cf.graph.as_graph_def().library.function)


def build_step_graph(c: Captured, ms: ModelScript, step: int, outs: Any, fetched: Fetched,
                     extra: dict[str, Any]) -> tuple[nx.DiGraph, float | None]:
    """The template's structure with this step's values, gradients and graph attrs."""
    summaries = fetched.summaries()
    g = step_copy(c.template.graph, c.fills, summaries)
    loss = None
    d = summaries[c.loss_index] if c.loss_index is not None else {}
    if "mean" in d:
        loss = float(d["mean"]) * (1 if not d["shape"] else _numel(d["shape"]))
    elif outs:
        try:
            loss = float(outs[0].numpy().sum())
        except Exception:  # noqa: BLE001 - a non-numeric output
            loss = None
    g.graph = {**c.template.graph.graph, **graph_attrs(
        framework="tensorflow", model=ms.name, step=step, capture="tf.function", loss=loss),
        **extra}
    return g, loss


def step_copy(template: nx.DiGraph, fills: list[tuple[str, list[tuple[str, int]]]],
              summaries: list[dict]) -> nx.DiGraph:
    """A frozen step graph sharing the template's structure and the attribute dicts of every
    node whose attributes do not change per step; each node in fills gets a copy with its
    (attribute, summary index) pairs set. Copying a few dozen dicts instead of the whole graph
    keeps a reused concrete function's step cheap. Step graphs are read-only
    (docs/contract.md): copy one before changing it."""
    tnode = template._node  # noqa: SLF001
    node = tnode.copy()
    for n, attrs in fills:
        a = node[n] = tnode[n].copy()
        for attr, i in attrs:
            a[attr] = summaries[i]
    # the attributes DiGraph.__init__ sets, without networkx's backend dispatch on creation
    # (tens of microseconds right after a TensorFlow run); adjacency shared, read-only
    g = object.__new__(nx.DiGraph)
    g.__dict__.update(graph={}, _node=node, _adj=template._succ, _succ=template._succ,  # noqa: SLF001
                      _pred=template._pred, __networkx_cache__={})  # noqa: SLF001
    return nx.freeze(g)


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= max(d, 0)
    return n


class FunctionTracer:
    """Traces the steps of a tf.function target, caching captures per concrete function."""

    def __init__(self, ms: ModelScript, *, fold: bool = True, values: str = "auto") -> None:
        self.tf = import_tf()
        self.ms = ms
        self.fold = fold
        self.values = values
        self.timing = timing_mode(ms.extras, ms.where)
        self.target = resolve_target(self.tf, ms)
        self.variables = collect_variables(ms.params, ms.model, ms.optimizer,
                                           ms.extras.get("variables"))
        self.cache: dict[int, Captured] = {}
        self.prev_cf: Any = None
        self.last: Captured | None = None
        self.scope_records: list = []

    def _args(self, i: int) -> tuple:
        a = self.target.args
        a = a(i) if callable(a) else a
        return tuple(a) if isinstance(a, (list, tuple)) else (a,)

    def concrete(self, args: tuple) -> tuple[Any, bool, list]:
        """The concrete function these args run, whether it was newly traced, tape records
        (the Keras name scopes entered while tracing go to self.scope_records)."""
        fn = self.target.fn
        if self.target.static_args and self.prev_cf is not None:
            return self.prev_cf, False, []
        before = fn.experimental_get_tracing_count()
        try:
            with TapeRecorder(self.tf) as rec, KerasScopeRecorder(self.tf) as scopes:
                cf = fn.get_concrete_function(*args)
            self.scope_records = scopes.records
        except ScriptError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's function failed to trace
            hint = " (an eager step is wrapped in tf.function: .numpy() and Python-side " \
                   "tensor logic fail there)" if self.target.wrapped else ""
            raise _fail(self.ms, f"tracing step() as a tf.function failed{hint}", exc) from None
        return cf, fn.experimental_get_tracing_count() > before, rec.records

    def step(self, i: int) -> tuple[nx.DiGraph, float | None, float]:
        """Run and capture step i: (graph, loss, wall ms of the step run)."""
        args = self._args(i)
        cf, traced, records = self.concrete(args)
        c = self.cache.get(id(cf))
        if c is None or c.cf is not cf:
            c = capture(self.tf, self.ms, cf, records, self.variables, fold=self.fold,
                        values=self.values, scope_records=self.scope_records)
            self.scope_records = []  # they hold the graph and its layers
            self.cache[id(cf)] = c
        flat = flatten_args(self.tf, args, c.info.n_args) if c.info.n_args else []
        reused = self.prev_cf is cf
        reason = None if reused else signature_reason(self.prev_cf, cf)
        if reused and not c.runner.reduces and \
                c.template.graph.graph["graph_ops"] <= REDUCE_MAX_OPS:
            c.runner = c.runner.reducing()  # reused: worth the one-off cost of the faster runner
        recorder = OrderRecorder(self.tf) if wants_profile(c.template.graph.graph, self.timing) \
            else contextlib.nullcontext()
        try:
            with recorder:
                t0 = time.perf_counter()
                outs, fetched = c.runner(flat)
                wall = (time.perf_counter() - t0) * 1000
        except Exception as exc:  # noqa: BLE001 - a runtime error in the user's graph
            raise _fail(self.ms, f"step {i} failed while running", exc) from None
        if isinstance(recorder, OrderRecorder):
            _runtime_order(c, recorder, self.timing, fetched)
        name = cf.name.decode() if isinstance(cf.name, bytes) else str(cf.name)
        extra = {"concrete_function": name, "retraced": bool(traced and self.prev_cf is not None),
                 "reused_concrete_function": reused, "retrace_reason": reason,
                 "traced_new": bool(traced), "wrapped_eager_step": self.target.wrapped,
                 "op_count": c.template.op_count, "folded_ops": c.template.folded,
                 "fold": self.fold, "values_policy": self.values}
        g, loss = build_step_graph(c, self.ms, i, outs, fetched, extra)
        self.prev_cf = cf
        self.last = c
        return g, loss, wall


def trace(ms: ModelScript, steps: int, *, progress: Progress | None = None,
          cancel: Callable[[], bool] | None = None, fold: bool | None = None,
          values: str | None = None,
          on_step: Callable[[TraceSession], None] | None = None) -> TraceSession:
    """Trace `steps` calls of a TensorFlow script's step into a TraceSession.

    fold=False keeps the raw resource placeholders and ReadVariableOps; values is 'auto'
    (default), 'all', 'params' or 'none' (what is summarised per step; see docs/tensorflow.md).
    Both can also be set by the script's setup() dict ('fold', 'values').
    """
    fold = bool(ms.extras.get("fold", True)) if fold is None else fold
    values = str(ms.extras.get("values", "auto")) if values is None else values
    session = TraceSession(framework="tensorflow", model=ms.name)
    tf_compat.check_version()
    if progress:
        progress(0, steps, f"tracing {ms.name} with TensorFlow")
    if "graph" in ms.extras:
        from graphstage.tracers.tf1_graph import Tf1Tracer

        tracer: Any = Tf1Tracer(ms, fold=fold, values=values)
    else:
        tracer = FunctionTracer(ms, fold=fold, values=values)
    for i in range(steps):
        if cancel is not None and cancel():
            raise TraceCancelled(f"cancelled after {i} of {steps} steps")
        g, loss, wall = tracer.step(i)
        session.add_step(g, loss=loss, wall_ms=wall)
        if on_step:
            on_step(session)
        if progress:
            progress(i + 1, steps, f"step {i + 1}/{steps}: loss {loss}")
    session.meta.update(capture=session.steps[0].graph["capture"] if session.steps else None)
    return session
