"""graphstage.record for PyTorch: step graphs from a user's unchanged training loop.

One recorder stays hooked for the whole recording; a step ends after each optimizer ``step()``,
or, where no optimizer steps, at the first top-level module call after a backward pass (the
next forward). After N steps the op mode and patches go at once and the loop runs on unhooked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch

from graphstage.tracers.errors import RecordingComplete
from graphstage.tracers.script import ModelScript
from graphstage.tracers.session import TraceSession
from graphstage.tracers.torch_tracer import _Names, _Recorder

log = logging.getLogger(__name__)


class TorchRecording:
    """Records up to ``steps`` training steps of whatever torch code runs while it is started."""

    def __init__(self, steps: int, ms: ModelScript) -> None:
        self.steps = steps
        self.ms = ms
        self.names = _Names.discover(ms)
        self.session = TraceSession(framework="torch", model=ms.name,
                                    meta={"recorded": True, "torch": torch.__version__})
        self.error: BaseException | None = None
        self.on_step = None  # optional callback(session) after each recorded step
        self.stop_when_done = False  # raise RecordingComplete after the last step
        self._rec: _Recorder | None = None
        self._waiting: Any = None
        self._t0 = 0.0

    @property
    def done(self) -> bool:
        return len(self.session) >= self.steps or self.error is not None

    def start(self) -> None:
        """Hook torch now; the current step starts here."""
        self._rec = _Recorder(self.names)
        self._rec.on_boundary = self._boundary
        self._rec.__enter__()
        self._t0 = time.perf_counter()

    def start_at_first_forward(self, namespace: Callable[[], dict[str, Any]]) -> None:
        """Wait for the first top-level module call (a script that has not built its model yet:
        graphstage run), then name things from ``namespace()`` and start there."""
        from torch.nn.modules import module as module_hooks

        def first_call(module: torch.nn.Module, args: Any) -> None:
            if self._rec is not None or self._waiting is None:
                return
            self._waiting.remove()  # safe: torch iterates a copy of the module hooks
            self._waiting = None
            self.ms.module.__dict__.update(namespace())
            self.names = _Names.discover(self.ms)
            self.start()
            self._rec._module_pre(module, args)  # this call's own pre-hook ran before ours

        self._waiting = module_hooks.register_module_forward_pre_hook(first_call)

    def _boundary(self) -> None:
        """Called from torch's hooks where a step ends: finish it, start the next or stop."""
        rec = self._rec
        if rec is None or not rec.roots:  # an optimizer step without a backward pass: no step
            return
        try:
            self._finish(rec)
        except Exception as exc:  # noqa: BLE001 - the user's loop must never see our errors
            log.warning("graphstage.record stopped after %d steps: %s: %s",
                        len(self.session), type(exc).__name__, exc)
            self.error = exc
        if self.done:
            rec.deactivate()
            if self.stop_when_done:
                raise RecordingComplete(f"recorded {len(self.session)} steps")
        else:
            rec.reset()
            self._t0 = time.perf_counter()

    def _finish(self, rec: _Recorder) -> None:
        wall_ms = (time.perf_counter() - self._t0) * 1e3
        rec.muted = True  # building runs torch ops under the recorder's own mode
        try:
            graph = rec.build(self.ms.name, len(self.session))
        finally:
            rec.muted = False
        self.session.add_step(graph, loss=graph.graph["loss"], wall_ms=round(wall_ms, 3))
        if self.on_step is not None:
            self.on_step(self.session)

    def stop(self) -> TraceSession:
        """Unhook everything; a last step that ran backward but no optimizer step is kept."""
        if self._waiting is not None:
            self._waiting.remove()
            self._waiting = None
        rec, self._rec = self._rec, None
        if rec is not None:
            if rec.active and rec.roots and not self.done:
                try:
                    self._finish(rec)
                except Exception as exc:  # noqa: BLE001
                    self.error = exc
            rec.__exit__(None, None, None)
        return self.session
