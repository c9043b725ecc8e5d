"""Capture of tf.function steps: find the function to trace, record what the tape differentiated
while TensorFlow traces it, describe the concrete function for the converter, and run its graph
with summaries attached (one run per step, the same ops TensorFlow would run)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from graphstage.tracers import tf_compat
from graphstage.tracers.contract import FULL_VALUE_LIMIT
from graphstage.tracers.tf_convert import GraphSpec, VarInfo, dtype_of, is_numeric, shape_of
from graphstage.tracers.tf_values import Decoder, Fetched, SummaryPlan

log = logging.getLogger("graphstage.tracers.tf_function")


@dataclass
class TapeRecord:
    """One tape.gradient call seen while tracing: its target and (source, gradient) pairs."""

    targets: list[Any]
    pairs: list[tuple[Any, Any]]
    graph: Any


class TapeRecorder:
    """Context manager that records every GradientTape.gradient call made in graph mode."""

    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self.records: list[TapeRecord] = []
        self._orig: Any = None

    def __enter__(self) -> TapeRecorder:
        tf = self.tf
        cls = tf.GradientTape
        orig = self._orig = cls.gradient
        records = self.records

        def gradient(tape: Any, target: Any, sources: Any, *args: Any, **kwargs: Any) -> Any:
            result = orig(tape, target, sources, *args, **kwargs)
            if not tf.executing_eagerly():
                flat_s = tf.nest.flatten(sources)
                flat_r = tf.nest.flatten(result, expand_composites=False)
                if len(flat_s) == len(flat_r):
                    targets = [t for t in tf.nest.flatten(target) if hasattr(t, "graph")]
                    graph = targets[0].graph if targets else None
                    records.append(TapeRecord(targets, list(zip(flat_s, flat_r, strict=True)),
                                              graph))
            return result

        cls.gradient = gradient
        return self

    def __exit__(self, *exc: Any) -> None:
        self.tf.GradientTape.gradient = self._orig


def tf_variable(v: Any) -> Any:
    """The tf.Variable behind a Keras 3 variable (or v itself)."""
    inner = getattr(v, "value", None)
    return inner if hasattr(inner, "handle") and not callable(inner) else v


def var_info(v: Any) -> VarInfo:
    """Name, trainability, shape and dtype of a tf.Variable or Keras variable."""
    name = getattr(v, "path", None) or tf_variable(v).name
    name = name[:-2] if name.endswith(":0") else name
    shape = [-1 if d is None else int(d) for d in tf_variable(v).shape.as_list()]
    return VarInfo(name=name, trainable=bool(getattr(v, "trainable", True)), shape=shape,
                   dtype=dtype_of(tf_variable(v)))


def collect_variables(*sources: Any) -> dict[int, Any]:
    """id(resource handle) -> variable, from models, optimizers, dicts and lists of variables."""
    out: dict[int, Any] = {}

    def add(v: Any) -> None:
        tv = tf_variable(v)
        handle = getattr(tv, "handle", None)
        if handle is not None and id(handle) not in out:
            out[id(handle)] = v

    for src in sources:
        if src is None:
            continue
        if isinstance(src, dict):
            items = list(src.values())
        elif isinstance(src, (list, tuple)):
            items = list(src)
        elif hasattr(src, "variables") and not hasattr(src, "handle"):
            try:
                items = list(src.variables)
            except (TypeError, ValueError, AttributeError):
                items = []
        else:
            items = [src]
        for v in items:
            if hasattr(tf_variable(v), "handle"):
                add(v)
    return out


@dataclass
class FunctionInfo:
    """A converted concrete function's spec plus what running it needs."""

    cf: Any
    spec: GraphSpec
    n_args: int
    loss_tensor: str | None
    var_by_handle_op: dict[str, Any] = field(default_factory=dict)


def describe(tf: Any, cf: Any, variables: dict[int, Any], records: list[TapeRecord],
             optimizer: Any) -> FunctionInfo:
    """Build the converter's GraphSpec for a concrete function from its captures and tapes."""
    graph = cf.graph
    inputs = list(graph.inputs)
    captured = list(cf.captured_inputs)
    n_args = len(inputs) - len(captured)
    for v in getattr(graph, "variables", ()):
        collect_variables_into(variables, v)
    spec = GraphSpec(exclude_prefix="")
    var_by_handle: dict[str, Any] = {}
    handle_of_var: dict[int, str] = {}
    used_names: set[str] = set()
    for internal, external in zip(inputs[n_args:], captured, strict=True):
        op = internal.op
        if dtype_of(internal) == "resource":
            v = variables.get(id(external))
            if v is None:
                continue
            info = var_info(v)
            base, k = info.name, 1
            while info.name in used_names:
                info.name = f"{base}_{k}"
                k += 1
            used_names.add(info.name)
            spec.variables[op.name] = info
            var_by_handle[op.name] = v
            handle_of_var[id(tf_variable(v))] = op.name
        else:
            spec.inputs.add(op.name)
    for t in inputs[:n_args]:
        if dtype_of(t) != "resource":
            spec.inputs.add(t.op.name)
    spec.output_tensors = [t.name for t in graph.outputs if t is not None]
    mine = [r for r in records if r.graph is graph]
    for rec in mine:
        for t in rec.targets:
            if t.name not in spec.loss_tensors:
                spec.loss_tensors.append(t.name)
        for src, grad in rec.pairs:
            gt = getattr(grad, "values", grad) if grad is not None else None
            gname = gt.name if gt is not None and getattr(gt, "graph", None) is graph else None
            h = handle_of_var.get(id(tf_variable(src)))
            if h is not None:
                if gname or h not in spec.grad_tensors:
                    spec.grad_tensors[h] = gname
            elif getattr(src, "graph", None) is graph and gname:
                spec.input_grads[src.op.name] = gname
    if optimizer is not None:
        name = str(getattr(optimizer, "name", "") or "").lower()
        if name:
            spec.optimizer_scopes.add(name)
    loss = spec.loss_tensors[0] if spec.loss_tensors else _loss_from_outputs(graph)
    if loss and not spec.loss_tensors:
        spec.loss_tensors.append(loss)
    return FunctionInfo(cf=cf, spec=spec, n_args=n_args, loss_tensor=loss,
                        var_by_handle_op=var_by_handle)


def collect_variables_into(out: dict[int, Any], v: Any) -> None:
    """Add one variable to an id(handle) -> variable map (graph.variables of a FuncGraph)."""
    handle = getattr(tf_variable(v), "handle", None)
    if handle is not None:
        out.setdefault(id(handle), v)


def _loss_from_outputs(graph: Any) -> str | None:
    """The first scalar float output, seen through the Identity ops tf.function adds."""
    for t in graph.outputs:
        if t is None or not is_numeric(t) or not t.dtype.is_floating:
            continue
        while t.op.type == "Identity" and t.op.inputs:
            t = t.op.inputs[0]
        return t.name
    return None


class StepRunner:
    """Runs a concrete function's graph, imported into a new function that also returns the
    planned tensors and the variables' values after each update op.

    With ``reduce`` the planned tensors are summarised inside that same execution: each big one
    costs four reductions (two for a light one), stacked into matrices, the tiny ones are
    packed into one vector, so a few tensors come back instead of dozens. That is cheaper per
    step but slower to build, so a tracer builds the plain runner first and upgrades once
    TensorFlow reuses the concrete function.
    """

    def __init__(self, tf: Any, cf: Any, plan: SummaryPlan,
                 post_dtypes: dict[str, str], reduce: bool = False) -> None:
        self.reduces = reduce
        self._args = (tf, cf, plan, post_dtypes)
        self.prefix = "gs/"  # how the runner's function names the graph's ops
        if not reduce and not post_dtypes and self._direct(tf, cf, plan):
            return
        graph = cf.graph
        gdef = graph.as_graph_def()
        inputs = list(graph.inputs)
        captured = list(cf.captured_inputs)
        n_args = len(inputs) - len(captured)
        out_names = [t.name for t in graph.outputs if t is not None]
        fetch = [n for n in plan.tensors if not n.startswith("post:")]
        post_ops = [n[5:] for n in plan.tensors if n.startswith("post:")]

        def body(*flat: Any) -> Any:
            fg = tf.compat.v1.get_default_graph()
            input_map = {t.name: a for t, a in zip(inputs[:n_args], flat, strict=True)}
            for t, c in zip(inputs[n_args:], captured, strict=True):
                input_map[t.name] = fg.capture(c)
            res = tf.graph_util.import_graph_def(
                gdef, input_map=input_map, return_elements=out_names + fetch + post_ops,
                name="gs")
            outs = res[:len(out_names)]
            by_name = dict(zip(fetch, res[len(out_names):len(out_names) + len(fetch)],
                               strict=True))
            for name, op in zip(post_ops, res[len(out_names) + len(fetch):], strict=True):
                with tf.control_dependencies([op]):
                    by_name["post:" + name] = tf.raw_ops.ReadVariableOp(
                        resource=op.inputs[0], dtype=tf.as_dtype(post_dtypes[name]))
            packer = _Packer(tf, reduce)
            layout = [packer.add(by_name[n], light)
                      for n, light in zip(plan.tensors, plan.light, strict=True)]
            self.layout = packer.resolve(layout)
            return (list(outs), packer.matrix("stats"), packer.matrix("moments"), packer.full(),
                    packer.raw)

        # per planned tensor: ("stats" | "moments" | "full" | "raw", index, element count): a
        # column of a stats matrix, an offset into the full values, or an index into the raw
        self.layout: list[tuple[str, int, int]] = []
        specs = [tf.TensorSpec(t.shape, t.dtype) for t in inputs[:n_args]]
        self.fn = tf.function(body, autograph=False).get_concrete_function(*specs)
        self.decoder = Decoder(plan, self.layout)
        # ConcreteFunction.__call__ re-binds a structured signature on every call (~0.1 ms);
        # tf.function itself calls _call_flat with tensors, as this does where it exists
        self._call = tf_compat.flat_caller(self.fn) or (lambda args: self.fn(*args))

    def _direct(self, tf: Any, cf: Any, plan: SummaryPlan) -> bool:
        """The plain runner without a copy of the graph: the concrete function's own graph
        made into a second function whose outputs add the planned tensors (TensorFlow's
        graph-to-function step only; importing a copy costs seconds on a 10,000-op graph).
        False where TensorFlow's internals differ (the import path is used then)."""
        graph = cf.graph
        outs = list(graph.outputs)
        saved = graph.outputs
        try:
            fetch = [graph.get_tensor_by_name(n) for n in plan.tensors]
            graph.outputs = outs + fetch
            fn = tf_compat.function_from_graph(f"{graph.name}_graphstage_{id(self)}", graph)
        except Exception as exc:  # noqa: BLE001 - any TF internals mismatch: take the import path
            log.info("graphstage's direct runner is unavailable for %s (%s: %s): the step "
                     "runs an imported copy of the graph", graph.name, type(exc).__name__, exc)
            return False
        finally:
            graph.outputs = saved
        n_out = len(outs)
        captured = list(cf.captured_inputs)
        np = _numpy()
        empty = (np.zeros((len(_STATS), 0)), np.zeros((len(_MOMENTS), 0)), np.zeros(0))
        self.fn = fn
        self.prefix = ""
        self.layout = [("raw", i, 0) for i in range(len(fetch))]
        self.decoder = Decoder(plan, self.layout)

        def call(args: list[Any]) -> tuple:
            res = fn.call_flat(*args, *captured)
            return (res[:n_out], *empty, res[n_out:])

        self._call = call
        return True

    def __call__(self, flat_args: list[Any]) -> tuple[Any, Fetched]:
        outs, stats, moments, full, raw = self._call(flat_args)
        if not self.prefix:  # the direct runner: its summaries are numpy already
            return outs, Fetched(stats, moments, full, raw, self.decoder)
        return outs, Fetched(stats.numpy(), moments.numpy(), full.numpy(), raw, self.decoder)

    def reducing(self) -> StepRunner:
        """The same runner with in-graph summaries (built on demand)."""
        return self if self.reduces else StepRunner(*self._args, reduce=True)


def _numpy() -> Any:
    import numpy

    return numpy


_STATS = ("min", "max", "sum", "norm")
_MOMENTS = ("sum", "norm")


class _Packer:
    """The in-graph summary ops of a reducing StepRunner. A big tensor costs four reductions
    (min, max, sum, norm), or two (sum, norm) when it is ``light``; the results are gathered
    into per-dtype columns and stacked into one matrix per kind. Tiny tensors are cast and
    concatenated; the rest (or, without ``reduce``, everything) comes back whole."""

    def __init__(self, tf: Any, reduce: bool) -> None:
        self.tf = tf
        self.reduce = reduce
        self.ops = {"min": tf.reduce_min, "max": tf.reduce_max, "sum": tf.reduce_sum,
                    "norm": tf.math.reduce_euclidean_norm}
        # kind -> dtype -> one list of scalar tensors per statistic
        self.columns: dict[str, dict[Any, list[list[Any]]]] = {"stats": {}, "moments": {}}
        self.tiny: list[Any] = []
        self.raw: list[Any] = []
        self.n_full = 0

    def add(self, t: Any, light: bool) -> tuple[Any, int, int]:
        """Where t's data will come back: (kind, index, element count); a reduced tensor's
        index is its position within its dtype's columns until resolve()."""
        tf = self.tf
        dt = t.dtype
        numeric = (dt.is_floating or dt.is_integer) and not dt.is_complex
        if not self.reduce or not numeric or not t.shape.is_fully_defined() or \
                t.shape.num_elements() == 0:
            self.raw.append(t)
            return ("raw", len(self.raw) - 1, 0)
        n = t.shape.num_elements()
        if n <= FULL_VALUE_LIMIT:
            self.tiny.append(tf.reshape(tf.cast(t, tf.float64), [-1]))
            self.n_full += n
            return ("full", self.n_full - n, n)
        x = t if dt in (tf.float32, tf.float64) else tf.cast(t, tf.float32)
        kind, names = ("moments", _MOMENTS) if light else ("stats", _STATS)
        cols = self.columns[kind].setdefault(x.dtype, [[] for _ in names])
        for col, name in zip(cols, names, strict=True):
            col.append(self.ops[name](x))
        return ((kind, x.dtype), len(cols[0]) - 1, n)

    def matrix(self, kind: str) -> Any:
        """One float64 [statistics, tensors] matrix of a kind, dtype blocks in insertion
        order."""
        tf = self.tf
        rows = len(_STATS if kind == "stats" else _MOMENTS)
        blocks = [tf.cast(tf.stack([tf.stack(c) for c in cols]), tf.float64)
                  for cols in self.columns[kind].values()]
        return tf.concat(blocks, 1) if blocks else tf.zeros([rows, 0], tf.float64)

    def resolve(self, layout: list[tuple[Any, int, int]]) -> list[tuple[str, int, int]]:
        """Turn per-dtype column positions into columns of their kind's matrix."""
        start = {}
        for kind, by_dtype in self.columns.items():
            offset = 0
            for dt, cols in by_dtype.items():
                start[(kind, dt)] = offset
                offset += len(cols[0])
        return [(k[0], start[k] + i, n) if isinstance(k, tuple) else (k, i, n)
                for k, i, n in layout]

    def full(self) -> Any:
        tf = self.tf
        return tf.concat(self.tiny, 0) if self.tiny else tf.zeros([0], tf.float64)


def signature_reason(old: Any, new: Any) -> str:
    """Why a new concrete function was traced, from the two input signatures."""
    if old is None:
        return "first call"
    a, b = old.structured_input_signature, new.structured_input_signature
    if a == b:
        return "same input signature; a Python value or captured object changed"
    fa, fb = _flat_specs(a), _flat_specs(b)
    for i, (x, y) in enumerate(zip(fa, fb, strict=False)):
        if x != y:
            return f"new input signature: argument {i} was {x}, now {y}"
    return f"new input signature: {len(fa)} -> {len(fb)} arguments"


def _flat_specs(sig: Any) -> list[str]:
    out: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for k in sorted(x):
                walk(x[k])
        else:
            out.append(str(x))

    walk(sig)
    return out


__all__ = ["FunctionInfo", "StepRunner", "TapeRecorder", "collect_variables", "describe",
           "shape_of", "signature_reason"]
