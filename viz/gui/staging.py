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
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, QTimer
from PySide6.QtWidgets import QGraphicsItem

from graphstage.viz.gui import collector
from graphstage.viz.gui.items import NodeItem, holder
from graphstage.viz.gui.reconcile import make_item, reusable
from graphstage.viz.gui.theme import Theme
from graphstage.viz.gui.viewgraph import DisplayGraph
from graphstage.viz.layout import Layout

if TYPE_CHECKING:
    from graphstage.viz.gui.detail import DetailSwitch

SLICE_S = 0.03     # longest the event loop waits for one slice
STAGE_MIN = 1500   # fewer new items than this are made on the spot
CHUNK = 1500       # staged boxes shown per event-loop turn
NOWHERE = (0.0, 0.0, 0.0, 0.0)


class Sliced(QObject):
    """Runs one generator at a time on the event loop, SLICE_S (or ``steps`` steps) per turn;
    ``busy`` until the turn after its last step, when it calls ``done``. gap_ms > 0 waits that
    long before each slice: background work then never shares a turn with the zero-delay work
    queued with it (Qt runs every due zero timer in one pass)."""

    def __init__(self, parent: QObject | None = None, gap_ms: int = 0, steps: int = 0) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(gap_ms)
        self._timer.timeout.connect(self._slice)
        self._steps = steps     # at most this many steps per slice (0: as many as SLICE_S allows)
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
        if self._timer.interval() > 0:   # the gap counts from the turn after this one
            QTimer.singleShot(0, self._timer, lambda w=work: self._go(w))
        else:
            self._timer.start()

    def _go(self, work: Iterator[object]) -> None:
        if self._work is work:
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
        n = 0
        for _ in self._work:
            n += 1
            if time.perf_counter() > end or n == self._steps:
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


class Chunk:
    """A hidden holder of up to CHUNK staged boxes, and the mean of their places."""

    __slots__ = ("item", "n", "x", "y")

    def __init__(self, parent: QGraphicsItem) -> None:
        self.item = holder()
        self.item.setVisible(False)
        self.item.setParentItem(parent)
        self.n, self.x, self.y = 0, 0.0, 0.0

    def add(self, box: NodeItem, x: float, y: float) -> None:
        box.setParentItem(self.item)
        self.n += 1
        self.x += (x - self.x) / self.n
        self.y += (y - self.y) / self.n


class Staged:
    """New box items made ahead, placed, and parented to two holders (op boxes, group boxes)
    in hidden chunks of nearby boxes. The holders wait in the canvas's layers (Qt takes each
    chunk in as it fills, ~2 µs a box), and the chunks show one per turn once the canvas
    switches to them (Qt indexes each box it shows, ~4 µs: 100 ms for 25,000 in one turn)."""

    def __init__(self) -> None:
        self.items: dict[str, NodeItem] = {}
        self.ops, self.groups = holder(), holder()
        self.chunks: list[Chunk] = []
        self._open: dict[bool, Chunk] = {}

    def place(self, box: NodeItem, x: float, y: float) -> None:
        """Put a placed box into a chunk of its holder (boxes come in reading order)."""
        box.setPos(QPointF(x, y))
        chunk = self._open.get(box.is_group)
        if chunk is None or chunk.n >= CHUNK:
            chunk = self._open[box.is_group] = Chunk(self.groups if box.is_group else self.ops)
            self.chunks.append(chunk)
        chunk.add(box, x, y)


class ItemStager(QObject):
    """Makes and places new node items in slices; ``busy`` while it works."""

    def __init__(self, parent: QObject | None = None, layers: DetailSwitch | None = None) -> None:
        super().__init__(parent)
        self.job = Sliced(self)
        self.layers = layers       # the canvas's layers: staged boxes wait there, hidden
        self._staged: Staged | None = None
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
        places = layout.nodes
        todo.sort(key=lambda kd: places.get(kd[0], NOWHERE)[1::-1])   # rows: nearby in a chunk
        staged = self._staged = Staged()
        if self.layers is not None:   # in the scene from the start, hidden: Qt takes each
            self.layers.receive(staged)   # chunk in during its slice, not all at the switch
        collector.hold()       # thousands of long-lived items: no full collection meanwhile
        self._held = True
        self.job.start(self._make(todo, staged, layout, theme),
                       lambda: self._hand_over(done, staged))
        return True

    def cancel(self) -> None:
        """Drop a job in progress (its items are never shown)."""
        self.job.cancel()
        staged, self._staged = self._staged, None
        if staged is not None and self.layers is not None:
            self.layers.drop(staged.ops)
            self.layers.drop(staged.groups)
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
            cx, cy, _, _ = places.get(key, NOWHERE)
            staged.place(item, cx, cy)
            yield

    def _hand_over(self, done: Callable[[Staged], None], staged: Staged) -> None:
        self._staged = None
        try:
            done(staged)
        finally:
            self._release()   # after the switch: the shown scene's objects are frozen
