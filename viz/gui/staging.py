"""The node items of a big display, made a slice per event-loop turn before it is shown.

Making a box item costs tens of microseconds; a 25,000-op graph expanded at once would hold the
GUI thread for a second. The stager makes the items the canvas will need (those it cannot keep
from the scene it shows now) in slices of at most SLICE_S, so the window keeps answering, then
hands them to the canvas, which shows the new display in one go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QTimer

from graphstage.viz.gui.items import NodeItem
from graphstage.viz.gui.reconcile import make_item, reusable
from graphstage.viz.gui.theme import Theme
from graphstage.viz.gui.viewgraph import DisplayGraph
from graphstage.viz.layout import Layout

SLICE_S = 0.03     # longest the event loop waits for one slice of new items
STAGE_MIN = 1500   # fewer new items than this are made on the spot


class ItemStager(QObject):
    """Makes new node items in slices; ``busy`` while it works."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._slice)
        self._todo: Iterator[tuple[str, object]] | None = None
        self._made: dict[str, NodeItem] = {}
        self._done: Callable[[dict[str, NodeItem]], None] | None = None
        self._layout: Layout | None = None
        self._theme: Theme | None = None
        self.slices = 0     # slices run by the last job (tests, benchmarks)

    @property
    def busy(self) -> bool:
        return self._todo is not None

    def start(self, old: dict[str, NodeItem], display: DisplayGraph, layout: Layout,
              theme: Theme, done: Callable[[dict[str, NodeItem]], None]) -> bool:
        """Make display's new items in slices, then call done(items); False (nothing started)
        when there are few enough to make at once."""
        self.cancel()
        todo = [(k, dn) for k, dn in display.nodes.items()
                if not reusable(old.get(k), dn, layout)]
        if len(todo) < STAGE_MIN:
            return False
        self._todo, self._made, self._done = iter(todo), {}, done
        self._layout, self._theme, self.slices = layout, theme, 0
        self._timer.start()
        return True

    def cancel(self) -> None:
        """Drop a job in progress (its items are never shown)."""
        self._timer.stop()
        self._todo, self._made, self._done = None, {}, None

    def _slice(self) -> None:
        if self._todo is None:
            self._timer.stop()
            return
        self.slices += 1
        end = time.perf_counter() + SLICE_S
        for key, dn in self._todo:
            self._made[key] = make_item(key, dn, self._layout, self._theme)
            if time.perf_counter() > end:
                return
        made, done = self._made, self._done
        self._timer.stop()
        self._todo = iter(())   # still busy until the hand-over, one event-loop turn later
        # handed over on the next turn: a slice and the scene switch never share one
        QTimer.singleShot(0, lambda: self._hand_over(made, done))

    def _hand_over(self, made: dict[str, NodeItem], done: Callable | None) -> None:
        if self._done is not done or done is None:
            return              # cancelled or replaced meanwhile
        self.cancel()
        done(made)
