"""graphstage.record for TensorFlow: step graphs from a user's unchanged training loop.

While recording, every outermost tf.function call the loop makes (its own train step, Keras'
train function under fit/train_on_batch) is captured as the tracer captures a step's calls
(tracers/tf_tracer.py CallCapturer). A step ends after each such call that computes gradients,
or after an eager ``optimizer.apply_gradients`` (then the step holds the calls made since the
last step, or, where there were none, the eager ops since the last step: tracers/tf_eager.py).
After N steps the patches go at once and the loop runs on untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphstage.tracers import nx_compat, tf_compat
from graphstage.tracers.errors import RecordingComplete
from graphstage.tracers.script import ModelScript
from graphstage.tracers.session import TraceSession
from graphstage.tracers.tf_calls import CallInterceptor, CallRecord
from graphstage.tracers.tf_eager import EagerRecorder, eager_step_graph
from graphstage.tracers.tf_env import default_device, import_tf
from graphstage.tracers.tf_tracer import CallCapturer, step_graph

log = logging.getLogger(__name__)


class TfRecording:
    """Records up to ``steps`` training steps of whatever TensorFlow code runs while started."""

    def __init__(self, steps: int, ms: ModelScript, *, values: str = "auto") -> None:
        self.tf = import_tf()
        self.steps = steps
        self.ms = ms
        self.values = values
        self.session = TraceSession(framework="tensorflow", model=ms.name,
                                    meta={"recorded": True, "tensorflow": self.tf.__version__})
        self.error: BaseException | None = None
        self.on_step: Callable[[TraceSession], None] | None = None
        self.stop_when_done = False  # raise RecordingComplete after the last step
        self.calls = CallCapturer(ms, fold=True, values=values)
        self.pending: list[CallRecord] = []
        self._interceptor: CallInterceptor | None = None
        self._apply: Callable[[], None] | None = None  # puts Keras' apply_gradients back
        self._eager: EagerRecorder | None = None

    @property
    def done(self) -> bool:
        """N steps recorded, or recording stopped by an error."""
        return len(self.session) >= self.steps or self.error is not None

    def start(self) -> None:
        """Patch tf.function's call path (and Keras' apply_gradients) now."""
        tf_compat.check_version()
        nx_compat.check_version()
        self._interceptor = CallInterceptor(self.tf, self._handle)
        self._interceptor.__enter__()
        self._patch_apply_gradients()
        self._eager = EagerRecorder(self.tf, self.calls.variables)
        self._eager.__enter__()

    def _patch_apply_gradients(self) -> None:
        rec = self

        def wrap(orig: Callable[..., Any]) -> Callable[..., Any]:
            def apply_gradients(opt: Any, *args: Any, **kwargs: Any) -> Any:
                out = orig(opt, *args, **kwargs)
                icpt = rec._interceptor
                if icpt is not None and icpt.active and not icpt.busy and \
                        rec.tf.executing_eagerly():
                    rec._boundary(None)
                return out

            return apply_gradients

        self._apply = tf_compat.replace_apply_gradients(wrap)

    def _handle(self, fn: Any, args: tuple, kwds: dict, call: Callable[[], Any]) -> Any:
        if self.done:
            return call()
        try:
            p = self.calls.prepare(fn, args, kwds)
        except Exception as exc:  # noqa: BLE001 - the loop must never see our errors
            log.warning("graphstage.record could not capture a call of %s (%s: %s); it ran "
                        "untraced", getattr(fn, "__name__", fn), type(exc).__name__, exc)
            return call()
        if not self.pending:
            self.calls.new_step()
        result, rec = self.calls.execute(p, call, len(self.session), safe=True)
        if rec is not None:
            self.pending.append(rec)
            if rec.gradients:
                self._boundary(result)
        return result

    def _boundary(self, ret: Any) -> None:
        """Where a step ends: build it from the pending calls (else the eager ops since the
        last step), then stop when N are done."""
        records, self.pending = self.pending, []
        eager = self._eager.reset() if self._eager is not None else None
        if not records and (eager is None or not eager.grads):
            return
        try:
            if records:
                g, loss, wall = step_graph(self.ms, len(self.session), records, ret, fold=True,
                                           values=self.values)
            else:
                g, loss = eager_step_graph(eager, model=self.ms.name, step=len(self.session),
                                           device=default_device(), loss=None)
                wall = 0.0
            self.session.add_step(g, loss=loss, wall_ms=round(wall, 3))
        except Exception as exc:  # noqa: BLE001 - the user's loop must never see our errors
            log.warning("graphstage.record stopped after %d steps: %s: %s",
                        len(self.session), type(exc).__name__, exc)
            self.error = exc
        if self.on_step is not None and self.error is None:
            self.on_step(self.session)
        if self.done:
            self._unpatch()
            if self.stop_when_done:
                raise RecordingComplete(f"recorded {len(self.session)} steps")

    def _unpatch(self) -> None:
        if self._eager is not None:
            self._eager.__exit__(None, None, None)
            self._eager = None
        if self._interceptor is not None:
            self._interceptor.close()
            self._interceptor = None
        if self._apply is not None:
            self._apply()
            self._apply = None

    def stop(self) -> TraceSession:
        """Unpatch everything (calls made since the last step took no gradient: no step)."""
        self._unpatch()
        self.pending = []
        return self.session
