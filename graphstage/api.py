"""The public Python API: trace a step in hand or a model script, load, export, show.

Everything here is a thin front over ``graphstage.tracers`` (capture) and ``graphstage.viz``
(images, the app); each framework and Qt load only when a call needs them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphstage.tracers.script import resolve_source
from graphstage.tracers.session import TraceSession

if TYPE_CHECKING:
    from graphstage.tracers.record import Recording

Progress = Callable[[int, int, str], None]


def trace(
    step: Callable[[], Any],
    steps: int = 1,
    *,
    model: Any = None,
    optimizer: Any = None,
    params: Mapping[str, Any] | None = None,
    name: str | None = None,
    values: str = "auto",
    framework: str | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    **extras: Any,
) -> TraceSession:
    """Trace ``steps`` calls of a zero-argument training-step callable already in memory.

    torch or TensorFlow is inferred from ``step``, ``model``, ``optimizer``, ``params`` and what
    the step refers to (pass ``framework=`` when it cannot be). ``model``, ``optimizer`` and
    ``params`` ({name: tensor}) name what the graph shows; other keywords are passed on like the
    keys of a model script's setup() dict (docs/model-scripts.md). ``values`` is TensorFlow's
    value policy ('auto', 'all', 'params', 'none'); PyTorch records every value.
    """
    from graphstage.tracers.run import trace_script as run
    from graphstage.tracers.script import script_from_callable

    _check_steps(steps)
    ms = script_from_callable(step, model=model, optimizer=optimizer, params=params, name=name,
                              framework=framework, extras=extras)
    return run(ms, steps, values=values, progress=progress, cancel=cancel)


def trace_script(
    path_or_example_name: str | os.PathLike,
    steps: int = 1,
    *,
    seed: int = 0,
    values: str | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TraceSession:
    """Load a model script (a .py path, or a bundled example's name such as 'dynamicnet_torch')
    and trace ``steps`` calls of its step()."""
    from graphstage.tracers.run import trace_script as run

    _check_steps(steps)
    return run(resolve_source(path_or_example_name), steps, seed=seed, values=values,
               progress=progress, cancel=cancel)


def record(
    steps: int = 1,
    *,
    model: Any = None,
    optimizer: Any = None,
    params: Mapping[str, Any] | None = None,
    name: str | None = None,
    framework: str | None = None,
) -> Recording:
    """A context manager around an unchanged training loop that records its first ``steps``
    steps; ``rec.session`` is the TraceSession. PyTorch loops: a step ends at each optimizer
    ``step()`` (or at the next forward, where no optimizer steps); TensorFlow loops: at each
    tf.function call that computes gradients (a ``@tf.function`` train step, Keras' train
    function under ``fit``/``train_on_batch``) or an eager ``apply_gradients``. After N steps
    the loop runs on at full speed, unhooked. Names come from model/optimizer/params and the
    caller's variables."""
    from graphstage.tracers.record import Recording

    caller = inspect.currentframe().f_back  # type: ignore[union-attr]
    where = f"{caller.f_code.co_filename}:{caller.f_lineno}" if caller else "<record>"

    def namespace() -> dict[str, Any]:
        return {**caller.f_globals, **caller.f_locals} if caller else {}

    return Recording(steps, model=model, optimizer=optimizer, params=params, name=name,
                     framework=framework, namespace=namespace,
                     origin=f"recorded loop ({Path(where).name})",
                     path=Path(caller.f_code.co_filename) if caller else None)


def load(path: str | os.PathLike) -> TraceSession:
    """Read a saved trace file (plain JSON; opening one never runs code)."""
    return TraceSession.load(path)


def export(
    session_or_path: TraceSession | str | os.PathLike,
    out_dir: str | os.PathLike,
    format: str = "png",  # noqa: A002 - the documented keyword
    steps: Iterable[int] | None = None,
    *,
    collapse_depth: int | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Write one image per step (``step_0003.png``...) into out_dir and return their paths.

    ``session_or_path`` is a TraceSession or a trace file; ``steps`` are step indices (default:
    all); format is 'png', 'svg', 'pdf' or 'dot'.
    """
    from graphstage.viz.export import FORMATS, export_session

    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    session = _as_session(session_or_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return export_session(session, out, format, steps=steps, progress=progress,
                          collapse_depth=collapse_depth)


def show(session_or_path: TraceSession | str | os.PathLike, *, step: int = 0) -> None:
    """Open the desktop app on a session, trace file, model script or example name, and return
    when its window is closed. Works from a plain script and from a Jupyter kernel whose Qt
    event loop already runs (``%gui qt``)."""
    from graphstage.viz.gui.app import show_window

    source: Any = session_or_path
    if not isinstance(source, TraceSession):
        source = str(resolve_source(source))
    show_window(source, step=step)


def _as_session(source: TraceSession | str | os.PathLike) -> TraceSession:
    if isinstance(source, TraceSession):
        return source
    path = Path(source)
    if path.suffix != ".json":
        raise ValueError(f"{path}: export() takes a TraceSession or a trace .json file; trace a "
                         "script first with graphstage.trace_script()")
    return TraceSession.load(path)


def _check_steps(steps: int) -> None:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, not {steps!r}")
