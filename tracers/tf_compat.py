"""The private TensorFlow and Keras APIs graphstage relies on, in one place, with the versions
checked.

Each wrapper returns the private object (or its result), None where the caller has a public
fallback, or raises CompatError naming what moved; check_version() logs (logger
``graphstage.tracers.tf_compat``, visible with ``--verbose`` / GRAPHSTAGE_VERBOSE) when the
installed TensorFlow or Keras is not one these were checked on. tests/test_tf_compat.py
smoke-tests every wrapper on the installed versions. TensorFlow is imported lazily, inside the
wrappers: importing this module stays framework-free.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("graphstage.tracers.tf_compat")
# major.minor versions the wrappers were run on (tests/test_tf_compat.py and the TF tests);
# pyproject allows tensorflow>=2.16, the versions in between are not checked yet
CHECKED = ("2.21",)
KERAS_CHECKED = ("3.15",)


class CompatError(RuntimeError):
    """A private TensorFlow or Keras API graphstage uses is not where it was."""


def _major_minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def check_version() -> bool:
    """Whether the installed TensorFlow (and Keras, when loaded) is a checked version; logs a
    warning when not."""
    import tensorflow as tf

    ok = True
    versions = [("TensorFlow", tf.__version__, CHECKED)]
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "__version__"):
        versions.append(("Keras", keras.__version__, KERAS_CHECKED))
    for what, version, checked in versions:
        if _major_minor(version) not in checked:
            ok = False
            log.warning("%s %s is not a version graphstage's TensorFlow tracer was checked on "
                        "(%s)", what, version, ", ".join(checked))
    return ok


# ---- function bodies and function calls -----------------------------------------------------

def graph_function(graph: Any, name: str) -> Any | None:
    """The function ``name`` a FuncGraph (or tf.Graph) has registered (``Graph._get_function``:
    the only way to reach the Python FuncGraph of a called body), or None."""
    get = getattr(graph, "_get_function", None)
    if get is None:
        log.debug("Graph._get_function is gone: function bodies come from the library")
        return None
    try:
        return get(name)
    except (KeyError, ValueError) as exc:
        log.debug("no function %s in %s: %s", name, getattr(graph, "name", graph), exc)
        return None


def function_from_library(graph: Any, name: str) -> Any | None:
    """A FuncGraph rebuilt from the graph's function library (``function_def_to_graph``: bodies
    without a Python graph, e.g. functions loaded from a SavedModel), or None."""
    try:
        from tensorflow.python.framework.function_def_to_graph import function_def_to_graph
    except ImportError:  # pragma: no cover - TensorFlow moved it
        log.debug("tensorflow.python.framework.function_def_to_graph is gone")
        return None
    for fdef in graph.as_graph_def().library.function:
        if fdef.signature.name == name:
            return function_def_to_graph(fdef)
    return None


def flat_caller(concrete: Any) -> Callable[[list[Any]], Any] | None:
    """A call of a ConcreteFunction with a flat list of tensors (``_call_flat`` with its
    captured inputs, as tf.function itself calls it, skipping the ~0.1 ms re-binding of the
    structured signature), or None where TensorFlow has no ``_call_flat``."""
    call = getattr(concrete, "_call_flat", None)
    if call is None:
        log.debug("ConcreteFunction._call_flat is gone: calling it with its signature")
        return None
    captured = concrete.captured_inputs
    return lambda args: call(list(args), captured)


def function_from_graph(name: str, graph: Any) -> Any:
    """A function made from a FuncGraph as it is (``atomic_function.from_func_graph``: no copy
    of the graph); call it with ``.call_flat(*args, *captured_inputs)``. Raises CompatError
    where TensorFlow moved it."""
    try:
        from tensorflow.python.eager.polymorphic_function import atomic_function
    except ImportError as exc:  # pragma: no cover - TensorFlow moved it
        raise CompatError("tensorflow.python.eager.polymorphic_function.atomic_function "
                          "is gone") from exc
    return atomic_function.from_func_graph(name, graph, {})


# ---- profiler ---------------------------------------------------------------------------------

def profiler_running() -> bool:
    """Whether tf.profiler.experimental holds a session (``profiler_v2._profiler``: TensorFlow
    has one profiler session per process)."""
    from tensorflow.python.profiler import profiler_v2

    return getattr(profiler_v2, "_profiler", None) is not None


def xspace_class() -> type | None:
    """The XSpace protobuf class of the ``*.xplane.pb`` files the profiler writes, or None
    where TensorFlow moved its profiler protos."""
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:  # pragma: no cover - TensorFlow moved its profiler protos
        log.debug("tensorflow.tsl.profiler.protobuf.xplane_pb2 is gone: no runtime op order")
        return None
    return xplane_pb2.XSpace


# ---- Keras 3 name scopes ----------------------------------------------------------------------

def keras_name_scope_class() -> type | None:
    """Keras 3's TensorFlow ``name_scope`` class (``keras.src.backend.name_scope``), or None
    when Keras 3 is not loaded (it is never imported here)."""
    backend = sys.modules.get("keras.src.backend")
    state = sys.modules.get("keras.src.backend.common.global_state")
    cls = getattr(backend, "name_scope", None)
    if cls is None or state is None or not hasattr(cls, "__enter__"):
        return None
    return cls


def keras_scope_stack() -> list[Any]:
    """The Keras name scopes open now, outermost first (each has ``.name`` and ``.caller``)."""
    state = sys.modules.get("keras.src.backend.common.global_state")
    if state is None:
        return []
    return list(state.get_global_attribute("name_scope_stack") or [])


def keras_scope_pushed(scope: Any) -> bool:
    """Whether entering a Keras name scope opened a new level (``_pop_on_exit``; Keras skips
    a scope that repeats its parent's name and caller)."""
    return bool(getattr(scope, "_pop_on_exit", False))


def keras_scope_path() -> str:
    """Keras' name-scope stack right now as a scope path, without its first level (the model
    the step calls); "" outside Keras."""
    return "/".join(s.name for s in keras_scope_stack()[1:])


def keras_optimizer_class() -> type | None:
    """Keras 3's optimizer base class (``keras.src.optimizers.base_optimizer.BaseOptimizer``,
    whose ``apply_gradients`` every optimizer runs and graphstage patches), or None where
    Keras 3 is not loaded (it is never imported here)."""
    base = sys.modules.get("keras.src.optimizers.base_optimizer")
    cls = getattr(base, "BaseOptimizer", None)
    if base is not None and cls is None:
        log.debug("keras.src.optimizers.base_optimizer has no BaseOptimizer: eager "
                  "apply_gradients calls are not marked as updates")
    return cls


# ---- tf.function calls --------------------------------------------------------------------------

def function_class() -> type:
    """The class behind ``tf.function`` (``polymorphic_function.Function``), whose
    ``__call__`` graphstage's call interceptor (tracers/tf_calls.py) replaces while a step
    runs. Raises CompatError where TensorFlow moved it."""
    try:
        from tensorflow.python.eager.polymorphic_function import polymorphic_function
    except ImportError as exc:  # pragma: no cover - TensorFlow moved it
        raise CompatError("tensorflow.python.eager.polymorphic_function is gone") from exc
    return polymorphic_function.Function


def replace_function_call(make: Callable[[Callable[..., Any]], Callable[..., Any]]
                          ) -> Callable[[], None]:
    """Replace ``Function.__call__`` (every tf.function call) with ``make(original)`` until the
    returned undo is called (it puts the original back)."""
    return _replace(function_class(), "__call__", make)


def replace_apply_gradients(make: Callable[[Callable[..., Any]], Callable[..., Any]]
                            ) -> Callable[[], None] | None:
    """Replace Keras 3's ``BaseOptimizer.apply_gradients`` with ``make(original)`` until the
    returned undo is called; None (nothing replaced) where Keras 3 is not loaded."""
    cls = keras_optimizer_class()
    return None if cls is None else _replace(cls, "apply_gradients", make)


def _replace(owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
             ) -> Callable[[], None]:
    orig = getattr(owner, name)
    setattr(owner, name, make(orig))
    return lambda: setattr(owner, name, orig)


def flat_call_inputs(fn: Any, cf: Any, args: tuple, kwds: dict) -> list[Any]:
    """The flat tensors ``fn(*args, **kwds)`` passes to its concrete function ``cf``, bound the
    way ``Function._call`` and ``tracing_compilation.call_function`` bind them
    (``function_type_utils.canonicalize_function_inputs`` with the Function's private
    ``_function_type``, ``_default_values`` and ``_is_pure``; then ``cf.function_type``'s
    ``bind`` and ``unpack_inputs``)."""
    from tensorflow.python.eager.polymorphic_function import function_type_utils

    bound = function_type_utils.canonicalize_function_inputs(
        args, kwds, fn._function_type, fn._default_values, fn._is_pure)  # noqa: SLF001
    ftype = cf.function_type
    return list(ftype.unpack_inputs(ftype.bind(*bound.args, **bound.kwargs)))


def pack_outputs(cf: Any, flat: list[Any]) -> Any:
    """The structured result a call of ``cf`` returns for its flat graph outputs
    (``FunctionType.pack_output``)."""
    return cf.function_type.pack_output(list(flat))


def tape_may_record() -> bool:
    """True while a gradient tape (or forward accumulator) is active
    (``tensorflow.python.eager.record.could_possibly_record``): a call must then run through
    TensorFlow, which tells the tape about the variables it reads and records it."""
    from tensorflow.python.eager import record

    return bool(record.could_possibly_record())


# ---- op callbacks (eager steps) -------------------------------------------------------------

def add_op_callback(cb: Callable[..., Any]) -> None:
    """Register an op callback (``op_callbacks.add_op_callback``: called for every eager op and
    every op built into a graph, with its type, inputs, attributes and outputs)."""
    from tensorflow.python.framework import op_callbacks

    op_callbacks.add_op_callback(cb)


def remove_op_callback(cb: Callable[..., Any]) -> None:
    """Unregister an op callback (``op_callbacks.remove_op_callback``)."""
    from tensorflow.python.framework import op_callbacks

    op_callbacks.remove_op_callback(cb)


def op_callback_count() -> int:
    """How many op callbacks are registered (``context.context().op_callbacks``; 0 once every
    recorder is closed)."""
    from tensorflow.python.eager import context

    return len(context.context().op_callbacks)
