"""Worker threads: tracing/loading a model, and Graphviz layouts, off the GUI thread.

Results come back as Qt signals (queued into the GUI thread); the GUI never waits on them.
"""

from __future__ import annotations

import itertools
import queue
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from graphstage.viz.layout import Layout, LayoutCache, LayoutSpec, compute_layout, spec_key


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


class LayoutWorker(QThread):
    """Computes Graphviz layouts from a priority queue; the current step jumps the prefetches."""

    ready = Signal(object, object)        # spec_key, Layout
    failed = Signal(object, str)          # spec_key, message

    def __init__(self, cache: LayoutCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._seq = itertools.count()
        self._pending: set[tuple] = set()

    def request(self, spec: LayoutSpec, priority: int = 0) -> Layout | None:
        """The layout now if cached; else queue it (lower priority number runs first)."""
        key = spec_key(spec)
        lay = self.cache.get(key)
        if lay is not None:
            return lay
        if key not in self._pending or priority == 0:
            self._pending.add(key)
            self._queue.put((priority, next(self._seq), key, spec))
        if not self.isRunning():
            self.start()
        return None

    def stop(self) -> None:
        """End the thread after the current job."""
        self._queue.put((-1, -1, None, None))
        self.wait(10000)

    def run(self) -> None:
        while True:
            _prio, _seq, key, spec = self._queue.get()
            if key is None:
                return
            if self.cache.get(key) is not None:
                self._pending.discard(key)
                self.ready.emit(key, self.cache.get(key))
                continue
            try:
                lay = compute_layout(spec)
            except Exception as exc:  # noqa: BLE001 - reported, the app goes on
                self._pending.discard(key)
                self.failed.emit(key, str(exc))
                continue
            self.cache.put(key, lay)
            self._pending.discard(key)
            self.ready.emit(key, lay)
