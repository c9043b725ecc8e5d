"""The TensorFlow tracer: one contract step graph per step() call of a TensorFlow model script.

step() runs as written (never wrapped in a tf.function): every outermost tf.function call it
makes (its own, Keras' train function, a user's) is intercepted (tracers/tf_calls.py) and
captured as the concrete function TensorFlow really runs (traced anew or reused, and why);
several calls in one step compose into one step graph (tracers/tf_compose.py). A step that
calls no tf.function is recorded op by op as it runs eagerly (tracers/tf_eager.py); a TF1
tf.Graph is run through its Session (tracers/tf1_graph.py). The converted structure is cached
per concrete function, so a call that reuses it only pays for one graph run with in-graph value
summaries attached.
See docs/tensorflow.md.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from graphstage.tracers import nx_compat, tf_compat
from graphstage.tracers.contract import graph_attrs
from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.script import ModelScript, ScriptError
from graphstage.tracers.session import TraceSession
from graphstage.tracers.tf_calls import (
    CallInterceptor,
    CallRecord,
    function_name,
)
from graphstage.tracers.tf_capture import (
    Captured,
    build_step_graph,
    capture,
    runtime_order,
    script_failure,
)
from graphstage.tracers.tf_compose import call_attrs, compose
from graphstage.tracers.tf_eager import EagerRecorder, eager_step_graph
from graphstage.tracers.tf_env import default_device, import_tf, is_tf_function
from graphstage.tracers.tf_function import (
    TapeRecorder,
    collect_variables,
    signature_reason,
)
from graphstage.tracers.tf_gc import no_full_collection
from graphstage.tracers.tf_keras_scopes import KerasScopeRecorder
from graphstage.tracers.tf_order import OrderRecorder
from graphstage.tracers.tf_timing import timing_mode, wants_profile
from graphstage.tracers.tf_values import (
    Fetched,
)

Progress = Callable[[int, int, str], None]
log = logging.getLogger(__name__)

# A reused concrete function of at most this many ops gets the runner that summarises in-graph:
# it saves the per-tensor Python work that dominates small, fast steps (dynamicnet_tf: 1.4x ->
# 1.15x), while for big graphs building it costs seconds and saves nothing measurable
# (resnet18_tf, 2,721 ops: 0.31 s per step either way, 3 s to build and optimise).
REDUCE_MAX_OPS = 1500


@dataclass
class StepTarget:
    """What one step runs: the script's step() as written, or setup()'s 'function' called with
    its 'args' (a tuple, or callable(step_index) -> tuple)."""

    fn: Any
    args: Any

    def __call__(self, i: int) -> Any:
        """Run step i the way the script would."""
        a = self.args(i) if callable(self.args) else self.args
        return self.fn(*(tuple(a) if isinstance(a, (list, tuple)) else (a,)))


def resolve_target(ms: ModelScript) -> StepTarget:
    """What a step runs: setup()['function'] with its 'args', else the script's step() (an
    eager step and a tf.function step alike run as written; 'fit_data' is no longer needed:
    the Keras train function step() calls is recorded)."""
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
        return StepTarget(fn, args)
    return StepTarget(step, ())


def _is_keras_object(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith(("keras", "tf_keras")) and hasattr(obj, "trainable_variables") and \
        hasattr(obj, "call")


class TracingFailed(Exception):
    """The user's function raised while TensorFlow traced it (the program's own error)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Prepared:
    """One call, ready to run: its function, concrete function and capture."""

    fn: Any
    cf: Any
    traced: bool
    c: Captured
    flat: list[Any]
    name: str
    label: str
    reason: str | None
    reused: bool


class CallCapturer:
    """Captures tf.function calls one at a time: the concrete function each call runs (traced
    anew or not, and why), its capture (cached per concrete function) and its instrumented run,
    which gives the call's step graph and exactly the outputs the call would return."""

    def __init__(self, ms: ModelScript, *, fold: bool, values: str) -> None:
        self.tf = import_tf()
        self.ms, self.fold, self.values = ms, fold, values
        self.timing = timing_mode(ms.extras, ms.where)
        self.variables = collect_variables(ms.params, ms.model, ms.optimizer,
                                           ms.extras.get("variables"))
        self.cache: dict[int, Captured] = {}
        self.prev: dict[int, tuple[Any, Any]] = {}  # id(function) -> (function, last cf)
        self.labels: dict[str, int] = {}
        self.last: Captured | None = None

    def new_step(self) -> None:
        """Number the calls of a new step from 0 again (their labels)."""
        self.labels.clear()

    def concrete(self, fn: Any, args: tuple, kwds: dict) -> tuple[Any, bool, list, list]:
        """The concrete function of this call, whether it was newly traced, the tape records
        and Keras name scopes of that trace (a call without arguments is looked up once)."""
        prev = self.prev.get(id(fn))
        if prev is not None and prev[0] is fn and not args and not kwds:
            return prev[1], False, [], []
        before = fn.experimental_get_tracing_count()
        try:
            with TapeRecorder(self.tf) as rec, KerasScopeRecorder(self.tf) as scopes:
                cf = fn.get_concrete_function(*args, **kwds)
        except Exception as exc:  # noqa: BLE001 - the user's function failed to trace
            raise TracingFailed(exc) from exc
        return cf, fn.experimental_get_tracing_count() > before, rec.records, scopes.records

    def prepare(self, fn: Any, args: tuple, kwds: dict) -> Prepared:
        """Everything before running the call (raises TracingFailed for the user's errors,
        anything else for graphstage's)."""
        cf, traced, records, scopes = self.concrete(fn, args, kwds)
        c = self.cache.get(id(cf))
        if c is None or c.cf is not cf:
            with no_full_collection():
                c = capture(self.tf, self.ms, cf, records, self.variables, fold=self.fold,
                            values=self.values, scope_records=scopes)
            self.cache[id(cf)] = c
        flat = tf_compat.flat_call_inputs(fn, cf, args, kwds) if c.info.n_args else []
        prev = self.prev.get(id(fn))
        prev_cf = prev[1] if prev is not None else None
        reused = prev_cf is cf
        if reused and not c.runner.reduces and \
                c.template.graph.graph["graph_ops"] <= REDUCE_MAX_OPS:
            c.runner = c.runner.reducing()  # reused: worth the one-off cost of the faster runner
        name = function_name(fn)
        n = self.labels.get(name, 0)
        self.labels[name] = n + 1
        return Prepared(fn, cf, traced, c, flat, name, name if n == 0 else f"{name}#{n}",
                        None if reused else signature_reason(prev_cf, cf), reused)

    def execute(self, p: Prepared, call: Callable[[], Any], step: int, *,
                run: bool = True, safe: bool = False) -> tuple[Any, CallRecord | None]:
        """Run the call through the instrumented runner (through TensorFlow itself while a
        gradient tape could record it; not at all without ``run``): its result and record.
        Errors of the run are the program's and propagate; with ``safe`` an error building the
        record after the run is logged and gives no record."""
        first = self.prev.get(id(p.fn)) is None
        self.prev[id(p.fn)] = (p.fn, p.cf)
        outs = fetched = result = None
        wall = 0.0
        if run and tf_compat.tape_may_record():
            t0 = time.perf_counter()
            result = call()
            wall = (time.perf_counter() - t0) * 1000
        elif run:
            outs, fetched, wall = self._run(p)
            result = tf_compat.pack_outputs(p.cf, outs)
        try:
            return result, self._record(p, step, outs, fetched, wall, first)
        except Exception as exc:
            if not safe:
                raise
            log.warning("graphstage could not record a call of %s: %s: %s", p.name,
                        type(exc).__name__, exc)
            return result, None

    def _run(self, p: Prepared) -> tuple[Any, Fetched, float]:
        c = p.c
        profiled = wants_profile(c.template.graph.graph, self.timing)
        recorder = OrderRecorder(self.tf) if profiled else contextlib.nullcontext()
        # a profiled run parses the profiler's trace and annotates the template: no full
        # collection meanwhile (tracers/tf_gc.py)
        with no_full_collection() if profiled else contextlib.nullcontext():
            with recorder:
                t0 = time.perf_counter()
                outs, fetched = c.runner(p.flat)
                wall = (time.perf_counter() - t0) * 1000
            if isinstance(recorder, OrderRecorder):
                runtime_order(c, recorder, self.timing, fetched)
        return outs, fetched, wall

    def _record(self, p: Prepared, step: int, outs: Any, fetched: Fetched | None, wall: float,
                first: bool) -> CallRecord:
        c = p.c
        name = p.cf.name.decode() if isinstance(p.cf.name, bytes) else str(p.cf.name)
        retraced = bool(p.traced and not first)
        extra = {"concrete_function": name, "retraced": retraced,
                 "reused_concrete_function": p.reused, "retrace_reason": p.reason,
                 "traced_new": bool(p.traced),
                 "op_count": c.template.op_count, "folded_ops": c.template.folded,
                 "fold": self.fold, "values_policy": self.values}
        g, loss = build_step_graph(c, self.ms, step, outs, fetched, extra)
        self.last = c
        return CallRecord(p.label, p.name, name, bool(p.traced), retraced, p.reason, p.reused,
                          g, loss, wall, c.problem is None, fetched is not None, c)


def step_graph(ms: ModelScript, i: int, records: list[CallRecord], ret: Any, *, fold: bool,
               values: str) -> tuple[nx.DiGraph, float | None, float]:
    """Step i's graph from its calls' records: (graph, loss, wall ms of the calls). The loss
    is the one call's loss, else the step's return value when it is a number, else the last
    call's."""
    g = compose([(r.label, r.graph) for r in records])
    loss = records[0].loss if len(records) == 1 else None
    if loss is None:
        loss = _scalar(ret)
    if loss is None:
        loss = next((r.loss for r in reversed(records) if r.loss is not None), None)
    if len(records) > 1:
        g.graph.update(graph_attrs(framework="tensorflow", model=ms.name, step=i,
                                   capture="tf.function", loss=loss),
                       fold=fold, values_policy=values)
    g.graph.update(call_attrs(records), loss=loss)
    return g, loss, sum(r.wall_ms for r in records)


class FunctionTracer:
    """Traces the steps of a TensorFlow script: step() runs as written and every tf.function
    call it makes is captured (CallCapturer); a step that calls none is recorded op by op as it
    runs eagerly (tracers/tf_eager.py)."""

    def __init__(self, ms: ModelScript, *, fold: bool = True, values: str = "auto") -> None:
        self.tf = import_tf()
        self.ms = ms
        self.fold = fold
        self.values = values
        self.target = resolve_target(ms)
        self.calls = CallCapturer(ms, fold=fold, values=values)
        self.strict = is_tf_function(self.target.fn)  # a tf.function step must take gradients
        self.eager: bool | None = None  # its steps are eager (no tf.function); None: not known
        self.failures: list[str] = []
        self.records: list[CallRecord] = []  # the last step's calls (none: an eager step)

    @property
    def last(self) -> Captured | None:
        """The capture of the last call run."""
        return self.calls.last

    @property
    def cache(self) -> dict[int, Captured]:
        """Captures by id(concrete function)."""
        return self.calls.cache

    def _handler(self, i: int, records: list[CallRecord], eager: Any) -> Any:
        def handle(fn: Any, args: tuple, kwds: dict, call: Callable[[], Any]) -> Any:
            if isinstance(eager, EagerRecorder):
                eager.close()   # a step of tf.function calls: its eager ops are not recorded
            try:
                p = self.calls.prepare(fn, args, kwds)
            except TracingFailed as exc:
                raise script_failure(self.ms, f"tracing {function_name(fn)}() as a tf.function "
                                     "failed", exc.error) from None
            except Exception as exc:  # noqa: BLE001 - graphstage's failure: run it untouched
                self.failures.append(f"{function_name(fn)}: {type(exc).__name__}: {exc}")
                log.warning("graphstage could not capture a call of %s (%s: %s); it ran "
                            "untraced", function_name(fn), type(exc).__name__, exc)
                return call()
            result, rec = self.calls.execute(p, call, i)
            records.append(rec)  # type: ignore[arg-type] - not safe: always a record
            return result

        return handle

    def step(self, i: int) -> tuple[nx.DiGraph, float | None, float]:
        """Run step i as written, capturing its calls (or, for a step that calls no
        tf.function, its eager ops): (graph, loss, wall ms of the calls or the eager step)."""
        records: list[CallRecord] = []
        self.calls.new_step()
        eager = EagerRecorder(self.tf, self.calls.variables) if self.eager is not False \
            else contextlib.nullcontext()
        t0 = time.perf_counter()
        with CallInterceptor(self.tf, self._handler(i, records, eager)), eager:
            try:
                ret = self.target(i)
            except ScriptError:
                raise
            except Exception as exc:  # noqa: BLE001 - a runtime error in the user's step
                raise script_failure(self.ms, f"step {i} failed while running", exc) from None
        wall = (time.perf_counter() - t0) * 1000
        self.records = records
        if records:
            self.eager = False  # a step of tf.function calls: no eager recording from now on
            self._check(records)
            return step_graph(self.ms, i, records, ret, fold=self.fold, values=self.values)
        if self.failures:
            raise ScriptError(f"{self.ms.where}: step {i}: no call could be captured: "
                              f"{self.failures[0]}"[:400])
        if not isinstance(eager, EagerRecorder):
            raise ScriptError(f"{self.ms.where}: step {i} called no tf.function, where the "
                              "steps before it did (steps that mix both are not traced)")
        if not eager.step.ops:
            raise ScriptError(f"{self.ms.where}: step {i} called no tf.function and ran no "
                              "TensorFlow op")
        if eager.errors:
            raise ScriptError(f"{self.ms.where}: step {i}: recording its eager ops failed: "
                              f"{eager.errors[0]}"[:400])
        if not eager.step.grads:
            raise ScriptError(f"{self.ms.where}: step() computes no gradient: it never called "
                              "tape.gradient")
        self.eager = True
        g, loss = eager_step_graph(eager.step, model=self.ms.name, step=i,
                                   device=default_device(), loss=_scalar(ret))
        return g, loss, wall

    def _check(self, records: list[CallRecord]) -> None:
        problems = [r.captured.problem for r in records]
        if self.strict and all(problems):
            raise ScriptError(f"{self.ms.where}: step() {problems[0]}")


def _scalar(ret: Any) -> float | None:
    """The step's return value as a float, when it is one number (a loss)."""
    try:
        if hasattr(ret, "numpy"):
            ret = ret.numpy()
        if hasattr(ret, "size") and getattr(ret, "size", 0) != 1:
            return None
        return float(ret.item() if hasattr(ret, "item") else ret)
    except (TypeError, ValueError):
        return None


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
    nx_compat.check_version()
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
