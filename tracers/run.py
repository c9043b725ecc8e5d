"""Trace a model script for N steps with the tracer of its framework."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tracers.script import ModelScript, load_script
from tracers.session import TraceSession

Progress = Callable[[int, int, str], None]
"""progress(done_steps, total_steps, message): called before the first and after every step."""


class TraceCancelled(Exception):
    """The caller's cancel() returned True between two steps."""


def trace_script(
    script: str | os.PathLike | ModelScript,
    steps: int = 1,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TraceSession:
    """Load (if needed) and trace a model script, one step graph per call of its step()."""
    ms = script if isinstance(script, ModelScript) else load_script(Path(script), seed=seed)
    if ms.framework == "torch":
        from tracers import torch_tracer as tracer
    else:
        from tracers import tf_tracer as tracer
    return tracer.trace(ms, steps, progress=progress, cancel=cancel)
