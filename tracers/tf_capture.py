"""One concrete function's capture, made once and reused by every call that runs it: the
converted template (with constant values filled in), the instrumented runner and its value
plan; the runtime op order, durations and memory read on its first runs; and the step graph
built from one run (a frozen copy sharing the template's structure)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from graphstage.tracers import tf_compat
from graphstage.tracers.contract import graph_attrs
from graphstage.tracers.nx_compat import node_dicts, share_structure
from graphstage.tracers.script import ModelScript, ScriptError, user_traceback
from graphstage.tracers.tf_convert import Converter, Template, ValueSlot
from graphstage.tracers.tf_env import default_device
from graphstage.tracers.tf_function import (
    FunctionInfo,
    StepRunner,
    describe,
    tf_variable,
)
from graphstage.tracers.tf_keras_scopes import keras_scopes
from graphstage.tracers.tf_memory import annotate_memory, runtime_shapes
from graphstage.tracers.tf_order import OrderRecorder, apply_order
from graphstage.tracers.tf_timing import record_timing
from graphstage.tracers.tf_values import (
    Fetched,
    SummaryPlan,
    choose_slots,
    fused_away,
    plan_summaries,
    summarize_array,
)

log = logging.getLogger("graphstage.tracers.tf_tracer")


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
    problem: str | None = None   # why this function computes no gradient (None: it does)


def script_failure(ms: ModelScript, what: str, exc: BaseException) -> ScriptError:
    """The ScriptError for a failure in user code: where, what, the first line of the error."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ScriptError(f"{ms.where}: {what}: {type(exc).__name__}: {first}"[:400],
                       user_traceback(exc, ms.path))


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
    problem = gradient_problem(info, cf, bool(records))
    if scope_records:
        var_names = {id(tf_variable(v).handle): info.spec.variables[h].name
                     for h, v in info.var_by_handle_op.items()}
        info.spec.keras_scopes = keras_scopes(scope_records, cf.graph, ms.model, var_names)
    conv = Converter(fold=fold, device=default_device(), resolve_function=_resolve_function(
        cf.graph))
    tmpl = conv.convert(cf.graph, info.spec)
    g = tmpl.graph
    dyn_slots = _fill_known_values(tf, cf, info, tmpl)
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
        raise script_failure(ms, "could not build the instrumented step", exc) from None
    g.graph["graph_ops"] = len(cf.graph.get_operations())
    return Captured(cf, info, tmpl, runner, plan, list(fills.items()),
                    index.get(info.loss_tensor or ""),
                    time.perf_counter() - t0, problem)


def _fill_known_values(tf: Any, cf: Any, info: FunctionInfo, tmpl: Template
                       ) -> list[ValueSlot]:
    """Give the template's constants and captured inputs their (fixed) values; the slots
    whose values change per step."""
    g = tmpl.graph
    kinds = {n: a["kind"] for n, a in g.nodes(data=True)}
    captured_ops = _captured_tensors(cf, info)
    summaries = _Summaries()
    dyn_slots: list[ValueSlot] = []
    for s in tmpl.slots:
        op_name = s.tensor.rsplit(":", 1)[0]
        if s.attr == "value" and op_name in captured_ops:
            arr = captured_ops[op_name]
            g.nodes[s.node]["value"] = summaries(arr, s.dtype, s.device)
        elif s.attr == "value" and kinds.get(s.node) == "constant" and \
                g.nodes[s.node].get("op") == "Const":
            arr = _const_value(tf, cf.graph, op_name)
            if arr is not None:
                g.nodes[s.node]["value"] = summaries(arr, s.dtype, s.device)
        else:
            dyn_slots.append(s)
    return dyn_slots


class _Summaries:
    """summarize_array, worked out once per distinct value (MobileNetV2's 2,680 constants
    hold 90 distinct values); each node gets its own copy."""

    def __init__(self) -> None:
        self.done: dict[tuple, dict] = {}

    def __call__(self, arr: Any, dtype: str, device: str) -> dict:
        a = np.asarray(arr)
        key = (dtype, device, a.dtype.str, a.shape, a.tobytes())
        d = self.done.get(key)
        if d is None:
            d = self.done[key] = summarize_array(a, dtype, device)
        out = {**d, "shape": list(d["shape"])}
        if "values" in d:
            out["values"] = list(d["values"])
        return out


def runtime_order(c: Captured, recorder: OrderRecorder, timing: str,
                   fetched: Fetched) -> None:
    """Number the template's ops in the order TensorFlow's runtime ran them on this first run
    of the concrete function (kept for every step that reuses it; topological order stays
    where the profiler recorded nothing, e.g. another profiler was running) and set its memory
    attributes; on every profiled run put the measured durations on the template."""
    g = c.template.graph
    node_of = {op: pid for pid, ops in c.template.folded.items() for op in ops}
    names = {op.name for op in c.cf.graph.get_operations()}
    spans = recorder.spans(c.runner.prefix, names)
    if "order_source" not in g.graph:
        recorded = list(spans)  # recorder.order(), without mapping the record again
        placed = apply_order(g, recorded, node_of) if recorded else 0
        g.graph["order_source"] = "runtime" if placed else "topological"
        g.graph["order_recorded_ops"] = placed
        annotate_memory(g, c.cf.graph, node_of, runtime_shapes(c.fills, fetched.summaries()))
    record_timing(g, spans, node_of, timing, recorder.spans(c.runner.prefix))


def _captured_tensors(cf: Any, info: FunctionInfo) -> dict[str, Any]:
    """op name -> numpy value of captured (constant per concrete function) non-resource inputs."""
    out = {}
    inputs = list(cf.graph.inputs)
    for internal, external in zip(inputs[info.n_args:], cf.captured_inputs, strict=True):
        if internal.dtype.name != "resource" and hasattr(external, "numpy"):
            try:
                out[internal.op.name] = external.numpy()
            except Exception as exc:  # noqa: BLE001 - a symbolic capture has no value
                log.debug("captured input %s has no value: %s: %s", internal.op.name,
                          type(exc).__name__, exc)
    return out


def _const_value(tf: Any, graph: Any, op_name: str) -> Any:
    try:
        op = graph.get_operation_by_name(op_name)
        return tf.make_ndarray(op.get_attr("value"))
    except Exception as exc:  # noqa: BLE001 - not a plain Const
        log.debug("%s is not a plain Const: %s: %s", op_name, type(exc).__name__, exc)
        return None


def gradient_problem(info: FunctionInfo, cf: Any, recorded: bool) -> str | None:
    """Why a concrete function computes no gradient (None when it does): the tape watched
    nothing, or its graph has no gradient ops."""
    spec = info.spec
    grads = list(spec.grad_tensors.values()) + list(spec.input_grads.values())
    if recorded and spec.grad_tensors and not any(grads):
        return ("computes no gradient: tape.gradient returned None for every source (did the "
                "tape watch nothing, e.g. watch_accessed_variables=False without tape.watch?)")
    if not recorded or not spec.grad_tensors:
        from graphstage.tracers.tf_convert import is_grad_name

        if not any(is_grad_name(op.name) for op in cf.graph.get_operations()) and \
                not _has_nested_gradients(cf):
            return ("computes no gradient: its graph has no gradient ops (use tf.GradientTape "
                    "and tape.gradient in step())")
    return None


def _has_nested_gradients(cf: Any) -> bool:
    """A called function body (Keras' one_step_on_data inside its iterator function) takes
    gradients."""
    from graphstage.tracers.tf_convert import is_grad_name

    return any("grad" in f.signature.name or any(is_grad_name(n.name) for n in f.node_def)
               for f in cf.graph.as_graph_def().library.function)


def build_step_graph(c: Captured, ms: ModelScript, step: int, outs: Any,
                     fetched: Fetched | None, extra: dict[str, Any]) -> tuple[nx.DiGraph,
                                                                              float | None]:
    """The template's structure with this step's values, gradients and graph attrs (no
    values where nothing was fetched: a call TensorFlow ran itself)."""
    summaries = fetched.summaries() if fetched is not None else []
    g = step_copy(c.template.graph, c.fills if fetched is not None else [], summaries)
    loss = None
    d = summaries[c.loss_index] if c.loss_index is not None and summaries else {}
    if "mean" in d:
        loss = float(d["mean"]) * (1 if not d["shape"] else _numel(d["shape"]))
    elif outs:
        try:
            loss = float(outs[0].numpy().sum())
        except Exception as exc:  # noqa: BLE001 - a non-numeric output
            log.debug("no loss from the first output of %s: %s: %s", ms.name,
                      type(exc).__name__, exc)
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
    tnode = node_dicts(template)
    node = tnode.copy()
    for n, attrs in fills:
        a = node[n] = tnode[n].copy()
        for attr, i in attrs:
            a[attr] = summaries[i]
    return share_structure(template, node)


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= max(d, 0)
    return n
