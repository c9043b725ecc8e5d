"""Big GUI-thread work done a slice per event-loop turn, so the window keeps answering.

Making a box item costs tens of microseconds; a 25,000-op graph expanded at once would hold the
GUI thread for a second. :class:`Sliced` runs such work (a generator that yields between small
steps) for at most SLICE_S per turn and calls back on the turn after its last slice.
:class:`ItemStager` uses it to make and place the box items a new display needs (those the
canvas cannot keep from the scene it shows now) before the canvas shows it in one go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QPointF, QTimer

from graphstage.viz.gui import collector
from graphstage.viz.gui.items import NodeItem, holder
from graphstage.viz.gui.reconcile import make_item, reusable
from graphstage.viz.gui.theme import Theme
from graphstage.viz.gui.viewgraph import DisplayGraph
from graphstage.viz.layout import Layout

SLICE_S = 0.03     # longest the event loop waits for one slice
STAGE_MIN = 1500   # fewer new items than this are made on the spot


class Sliced(QObject):
    """Runs one generator at a time on the event loop, SLICE_S per turn; ``busy`` until the
    turn after its last step, when it calls ``done``. gap_ms > 0 waits that long before each
    slice: background work then never shares a turn with the zero-delay work queued with it
    (Qt runs every due zero timer in one pass)."""

    def __init__(self, parent: QObject | None = None, gap_ms: int = 0) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(gap_ms)
        self._timer.timeout.connect(self._slice)
        self._work: Iterator[object] | None = None
        self._done: Callable[[], None] | None = None
        self.slices = 0     # slices run by the last job (tests, benchmarks)

    @property
    def busy(self) -> bool:
        return self._work is not None

    def start(self, work: Iterator[object], done: Callable[[], None]) -> None:
        """Run work a slice per turn (dropping a job in progress), then call done()."""
        self.cancel()
        self._work, self._done, self.slices = work, done, 0
        self._timer.start()

    def cancel(self) -> None:
        """Drop the job in progress (done is not called)."""
        self._timer.stop()
        self._work = self._done = None

    def finish(self) -> None:
        """Run what is left of the job now and call done (a caller that cannot wait)."""
        work, done = self._work, self._done
        if work is None:
            return
        for _ in work:
            pass
        self._hand_over(done)

    def _slice(self) -> None:
        if self._work is None:
            self._timer.stop()
            return
        self.slices += 1
        end = time.perf_counter() + SLICE_S
        for _ in self._work:
            if time.perf_counter() > end:
                return
        self._timer.stop()
        self._work, done = iter(()), self._done   # busy until the hand-over
        # handed over on the next turn: a slice and what done() does never share one
        QTimer.singleShot(0, self, lambda: self._hand_over(done))

    def _hand_over(self, done: Callable[[], None] | None) -> None:
        if self._done is not done or done is None:
            return              # cancelled or replaced meanwhile
        self._timer.stop()
        self._work = self._done = None
        done()


class Staged:
    """New box items made ahead, placed, and parented to two holders out of the scene (op
    boxes, group boxes): showing them parents two holders instead of thousands of items."""

    def __init__(self) -> None:
        self.items: dict[str, NodeItem] = {}
        self.ops, self.groups = holder(), holder()


class ItemStager(QObject):
    """Makes and places new node items in slices; ``busy`` while it works."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = Sliced(self)
        self._held = False

    @property
    def busy(self) -> bool:
        return self.job.busy

    @property
    def slices(self) -> int:
        return self.job.slices

    def start(self, old: dict[str, NodeItem], display: DisplayGraph, layout: Layout,
              theme: Theme, done: Callable[[Staged], None]) -> bool:
        """Make display's new items in slices, then call done(items); False (nothing started)
        when there are few enough to make at once."""
        self.cancel()
        todo = [(k, dn) for k, dn in display.nodes.items()
                if not reusable(old.get(k), dn, layout)]
        if len(todo) < STAGE_MIN:
            return False
        staged = Staged()
        collector.hold()       # thousands of long-lived items: no full collection meanwhile
        self._held = True
        self.job.start(self._make(todo, staged, layout, theme),
                       lambda: self._hand_over(done, staged))
        return True

    def cancel(self) -> None:
        """Drop a job in progress (its items are never shown)."""
        self.job.cancel()
        self._release()

    def _release(self) -> None:
        if self._held:
            self._held = False
            collector.release()

    @staticmethod
    def _make(todo: list, staged: Staged, layout: Layout, theme: Theme) -> Iterator[None]:
        places = layout.nodes
        for key, dn in todo:
            item = staged.items[key] = make_item(key, dn, layout, theme)
            cx, cy, _, _ = places.get(key, (0.0, 0.0, 0.0, 0.0))
            item.setPos(QPointF(cx, cy))
            item.setParentItem(staged.groups if item.is_group else staged.ops)
            yield

    def _hand_over(self, done: Callable[[Staged], None], staged: Staged) -> None:
        try:
            done(staged)
        finally:
            self._release()   # after the switch: the shown scene's objects are frozen
