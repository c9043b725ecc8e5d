"""The tf.function calls a step makes: an interceptor around ``tf.function``'s call path.

While a step runs as written (eagerly), every outermost call of a ``tf.function`` (one made
eagerly, not while another function is being traced) goes to a handler, which may run the
function its own way (graphstage's instrumented runner) and must return exactly what the call
would have returned. Calls made while TensorFlow traces (nested functions), calls made from
inside the handler, and every call once the interceptor is closed go straight to TensorFlow.
See docs/tensorflow.md ("Steps of any shape").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphstage.tracers import tf_compat

Handler = Callable[[Any, tuple, dict, Callable[[], Any]], Any]


class CallInterceptor:
    """Context manager: while open, each outermost eager ``tf.function`` call made on the thread
    that opened it goes to ``handler(fn, args, kwds, call)``, where ``call()`` runs the original
    call (calls on other threads, e.g. tf.data's, go straight to TensorFlow)."""

    def __init__(self, tf: Any, handler: Handler) -> None:
        self.tf = tf
        self.handler = handler
        self.busy = False
        self.active = False
        self._thread = threading.get_ident()
        self._undo: Callable[[], None] | None = None

    def __enter__(self) -> CallInterceptor:
        self._thread = threading.get_ident()
        self._undo = tf_compat.replace_function_call(self._wrap)
        self.active = True
        return self

    def _wrap(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        tf, state = self.tf, self

        def __call__(fn: Any, *args: Any, **kwds: Any) -> Any:  # noqa: N807
            if state.busy or not state.active or threading.get_ident() != state._thread or \
                    not tf.executing_eagerly() or tf.config.functions_run_eagerly():
                return orig(fn, *args, **kwds)
            state.busy = True
            try:
                return state.handler(fn, args, kwds, lambda: orig(fn, *args, **kwds))
            finally:
                state.busy = False

        __call__.graphstage_interceptor = True  # type: ignore[attr-defined]
        return __call__

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Put tf.function's own call back (idempotent)."""
        self.active = False
        if self._undo is not None:
            self._undo()
            self._undo = None


def is_intercepted() -> bool:
    """True while some interceptor has tf.function's call path patched."""
    return bool(getattr(tf_compat.function_class().__call__, "graphstage_interceptor", False))


def function_name(fn: Any) -> str:
    """A tf.function's Python name (``train_step``, ``one_step_on_data``)."""
    py = getattr(fn, "python_function", None)
    name = getattr(py, "__name__", None) or getattr(fn, "__name__", None) or "function"
    return str(name)


@dataclass
class CallRecord:
    """One intercepted call: which function ran, its concrete function, whether TensorFlow
    traced it anew and why, and the call's step graph."""

    label: str              # function name, '#n' for its n-th call within one step
    function: str
    concrete_function: str
    traced_new: bool
    retraced: bool
    retrace_reason: str | None
    reused: bool            # the same concrete function as this function's previous call
    graph: Any
    loss: float | None
    wall_ms: float
    gradients: bool         # its graph computes gradients (a training call)
    values: bool = True     # values were summarised (False: a tape recorded it outside)
    captured: Any = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The plain-data description kept in the step graph's ``calls`` attribute."""
        return {"label": self.label, "function": self.function,
                "concrete_function": self.concrete_function, "traced_new": self.traced_new,
                "retraced": self.retraced, "retrace_reason": self.retrace_reason,
                "reused_concrete_function": self.reused, "gradients": self.gradients,
                "values": self.values, "wall_ms": round(self.wall_ms, 3)}
