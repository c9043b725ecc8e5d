"""Worker threads: tracing/loading a model, and Graphviz layouts, off the GUI thread.

Results come back as Qt signals (queued into the GUI thread); the GUI never waits on them.
"""

from __future__ import annotations

import itertools
import logging
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal

from graphstage.viz.gui import collector
from graphstage.viz.gui.edgelayer import ArrowIndex
from graphstage.viz.gui.inspector import slowest_html
from graphstage.viz.gui.memory import saved_memory_curve
from graphstage.viz.gui.opening import first_forward
from graphstage.viz.gui.schedule import schedule_for
from graphstage.viz.gui.viewgraph import max_depth, opening_collapse
from graphstage.viz.hlayout import HierLayout
from graphstage.viz.layout import Layout, LayoutCache

if TYPE_CHECKING:
    from graphstage.tracers.session import TraceSession

log = logging.getLogger("graphstage.viz.gui")

DONE_KEPT = 24   # finished display layouts kept (current step, prefetched neighbours, undo)
GIL_TURN_S = 0.001   # longest a busy worker keeps the GIL from the GUI thread (Python: 5 ms)


def share_gil() -> None:
    """Shorten the interpreter's GIL turns while workers run Python. Qt calls into Python for
    every item it paints and every timer it fires, and each call waits for the GIL: at 5 ms a
    turn, a busy layout worker made one repaint of 30 boxes wait 150 ms."""
    if sys.getswitchinterval() > GIL_TURN_S:
        sys.setswitchinterval(GIL_TURN_S)


def prepare_loaded(session: TraceSession) -> None:
    """What showing a loaded session needs worked out over its whole first step, done in the
    loading thread and remembered per graph, so the GUI thread finds it done."""
    graph = session.steps[0]
    opening_collapse(graph)
    max_depth(graph)
    saved_memory_curve(graph)
    slowest_html(graph)
    first_forward(graph)


class TraceWorker(QThread):
    """Loads a .json trace or traces a model script for N steps, with progress and cancel."""

    progress = Signal(int, int, str)
    loaded = Signal(object, str)          # TraceSession, source path
    failed = Signal(str, str)             # one-line message, details (user traceback)
    cancelled = Signal()

    def __init__(self, path: str, steps: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.steps = steps
        self._cancel = False

    def cancel(self) -> None:
        """Stop the trace: its child process is killed within the next 50 ms poll."""
        self._cancel = True

    def run(self) -> None:
        with collector.long_lived():   # a big trace is millions of objects: no full GC pauses
            self._load()

    def _load(self) -> None:
        try:
            if Path(self.path).suffix == ".json":
                from graphstage.tracers.session import TraceSession
                self.progress.emit(0, 1, f"reading {Path(self.path).name}")
                session = TraceSession.load(self.path)
            else:
                session = self._trace()
                if session is None:
                    return
            if self._cancel:
                self.cancelled.emit()
                return
            if not session.steps:
                self.failed.emit(f"{Path(self.path).name}: the trace has no steps", "")
                return
            prepare_loaded(session)
            self.loaded.emit(session, self.path)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a dialog, never a crash
            details = getattr(exc, "details", "") or ""
            if not details:
                import traceback
                details = "".join(traceback.format_exception(exc))
            self.failed.emit(getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}",
                             details)

    def _trace(self):
        """Trace in a child process (the user's code can exit, crash or hang without taking
        the app down); a failure after some steps shows those steps, then the message."""
        from graphstage.tracers.errors import TraceCancelled
        from graphstage.tracers.isolated import TraceFailed, trace_isolated

        self.progress.emit(0, self.steps, f"starting {Path(self.path).name}")
        try:
            return trace_isolated(self.path, self.steps, progress=self._progress,
                                  cancel=lambda: self._cancel)
        except TraceCancelled:
            self.cancelled.emit()
        except TraceFailed as exc:
            if exc.session is not None and exc.session.steps:
                self.loaded.emit(exc.session, self.path)
            self.failed.emit(exc.message, exc.details)
        return None

    def _progress(self, done: int, total: int, msg: str) -> None:
        self.progress.emit(done, total, msg)


def prepare_scene(display: object, layout: Layout, time_true: bool = False) -> None:
    """The arrow index and the playback schedule (of the mode the window plays) of a display,
    stored on it."""
    display.prepared["arrows"] = (layout, ArrowIndex.of(display, layout))
    schedule_for(display, time_true)


class LayoutWorker(QThread):
    """Builds and lays out display graphs off the GUI thread, from a priority queue; the
    current step jumps the prefetches. Layout goes group by group
    (:class:`viz.hlayout.HierLayout`) with every group's layout cached, so a collapse or expand
    lays out only the changed group and its ancestors.

    A job is a request key (the controller's display_key), a function building the display, and
    a sizer measuring its boxes; results are (display, Layout) pairs."""

    ready = Signal(object, object)        # request key, (display, Layout)
    failed = Signal(object, str)          # request key, message

    def __init__(self, cache: LayoutCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = cache                  # flat layouts (whole-graph callers)
        self.hier = HierLayout()
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._seq = itertools.count()
        self._pending: set[tuple] = set()
        self._done: OrderedDict[tuple, tuple[object, Layout]] = OrderedDict()
        self._lock = threading.Lock()
        # called in the worker with each new (display, layout): the scene work that needs no
        # Qt items (arrow index, playback schedule), so the GUI thread does less when showing it
        self.prepare: Callable[..., None] | None = prepare_scene
        self.time_true = False              # the playback mode schedules are prepared for
        share_gil()

    def cached(self, key: tuple) -> tuple[object, Layout] | None:
        """The finished (display, layout) of key, if any."""
        with self._lock:
            return self._done.get(key)

    def request(self, key: tuple, build: Callable[[], object], sizer: Callable,
                priority: int = 0) -> tuple[object, Layout] | None:
        """The result now if done; else queue the job (lower priority number runs first)."""
        hit = self.cached(key)
        if hit is not None:
            return hit
        if key not in self._pending or priority == 0:
            self._pending.add(key)
            self._queue.put((priority, next(self._seq), key, (build, sizer)))
        if not self.isRunning():
            self.start()
        return None

    def layout_now(self, key: tuple, build: Callable[[], object], sizer: Callable
                   ) -> tuple[object, Layout]:
        """The result of a job, computed in the calling thread if needed (exports, tests)."""
        hit = self.cached(key)
        if hit is None:
            hit = self._compute(key, build, sizer)
        return hit

    def _compute(self, key: tuple, build: Callable[[], object], sizer: Callable
                 ) -> tuple[object, Layout]:
        with collector.long_lived():   # no full collection pauses the GUI meanwhile
            display = build()
            hit = (display, self.hier.layout(display, sizer(display)))
            if self.prepare is not None:
                try:
                    self.prepare(*hit, time_true=self.time_true)
                except Exception:  # noqa: BLE001 - the GUI thread does the same work then
                    log.debug("preparing the scene in the worker failed", exc_info=True)
        with self._lock:
            self._done[key] = hit
            while len(self._done) > DONE_KEPT:
                self._done.popitem(last=False)
        return hit

    def stop(self) -> None:
        """End the thread after the current job."""
        self._queue.put((-1, -1, None, None))
        self.wait(10000)

    def run(self) -> None:
        while True:
            _prio, _seq, key, job = self._queue.get()
            if key is None:
                return
            try:
                hit = self.cached(key) or self._compute(key, *job)
            except Exception as exc:  # noqa: BLE001 - reported, the app goes on
                self._pending.discard(key)
                self.failed.emit(key, str(exc))
                continue
            self._pending.discard(key)
            self.ready.emit(key, hit)
