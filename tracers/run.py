"""Trace a model script for N steps with the tracer of its framework."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.script import ModelScript, load_script
from graphstage.tracers.session import TraceSession

VALUE_POLICIES = ("auto", "all", "params", "none")

__all__ = ["VALUE_POLICIES", "Progress", "TraceCancelled", "trace_script"]

Progress = Callable[[int, int, str], None]
"""progress(done_steps, total_steps, message): called before the first and after every step."""


def trace_script(
    script: str | os.PathLike | ModelScript,
    steps: int = 1,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    values: str | None = None,
    fold: bool | None = None,
    on_step: Callable[[TraceSession], None] | None = None,
) -> TraceSession:
    """Load (if needed) and trace a model script, one step graph per call of its step().

    values and fold are TensorFlow options (docs/tensorflow.md): which tensors get value
    summaries ('auto', 'all', 'params', 'none'; None: the script's choice, else 'auto') and
    whether variables' resource plumbing is folded (None: the script's choice, else True).
    PyTorch always records every value and has no plumbing to fold, so it accepts only the
    defaults ('auto' and 'all' both mean every value).
    """
    if values is not None and values not in VALUE_POLICIES:
        raise ValueError(f"values must be one of {', '.join(VALUE_POLICIES)}, not {values!r}")
    ms = script if isinstance(script, ModelScript) else load_script(Path(script), seed=seed)
    if ms.framework == "torch":
        if values in ("params", "none") or fold is False:
            what = f"values={values!r}" if values in ("params", "none") else "fold=False"
            raise ValueError(f"{what} applies to TensorFlow scripts only; the PyTorch tracer "
                             "records every value and has no variable plumbing to fold")
        from graphstage.tracers import torch_tracer

        session = torch_tracer.trace(ms, steps, progress=progress, cancel=cancel,
                                     on_step=on_step)
    else:
        from graphstage.tracers import tf_tracer

        session = tf_tracer.trace(ms, steps, progress=progress, cancel=cancel, values=values,
                                  fold=fold, on_step=on_step)
    if not isinstance(script, ModelScript):  # what `graphstage verify TRACE` re-runs
        session.meta.update(script=str(Path(script).resolve()), seed=seed)
    return session
