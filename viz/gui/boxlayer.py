"""A big graph's op boxes as plain rectangles in one item, for far-away zooms and the minimap.

Qt sorts and paints thousands of box items one by one; far away they are plain rectangles, so
one item draws them with one drawRects per colour. Its rectangles are collected a slice at a
time (:meth:`BoxLayer.filling`, run by :class:`viz.gui.staging.Sliced`) so a 25,000-box graph
never holds the GUI thread; until they are in, the layer is not ``ready`` and not shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from graphstage.viz.gui.lod import ANTIALIAS, NO_BRUSH, NO_PEN, screen_scale
from graphstage.viz.gui.theme import Theme

if TYPE_CHECKING:
    from graphstage.viz.gui.items import NodeItem

Buckets = dict[int, tuple[QColor, dict[str, QRectF]]]


def _colour_of(it: NodeItem, known: dict) -> tuple[QColor, int]:
    """A box's far-away colour, made once per kind, phase, state and overlay colour."""
    ov = it.overlay
    ck = (it.kind, it.phase, it.state, ov.rgba() if ov is not None else None)
    colour = known.get(ck)
    if colour is None:
        fill = it.far_fill()
        colour = known[ck] = (fill, fill.rgba())
    return colour


class BoxLayer(QGraphicsItem):
    """Op boxes as rectangles bucketed by colour; boxes report their state changes
    (NodeItem.layer). Group boxes are collected too, for the minimap only, or, with_groups,
    drawn as well."""

    def __init__(self) -> None:
        super().__init__()
        self._rects: dict[str, QRectF] = {}
        self._colour: dict[str, int] = {}
        self._buckets: Buckets = {}
        self._groups: Buckets = {}
        self._lists: dict[int, list[QRectF]] = {}
        self._rings: set[str] = set()
        self._rect = QRectF()
        self._ring_pen = QPen()
        self._late: dict[str, NodeItem] | None = None   # boxes that changed during a fill
        self._changed: dict[str, NodeItem] = {}          # boxes that changed while drawn here
        self.ready = False
        self.with_groups = False   # thousands of group boxes: drawn here too, far away
        self.setZValue(2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def filling(self, items: Iterable[NodeItem], theme: Theme) -> Iterator[None]:
        """Collect these boxes at their item positions, yielding after each; the new
        rectangles replace the old ones at the end."""
        self.ready, self._late = False, {}
        rects: dict[str, QRectF] = {}
        colours: dict[str, int] = {}
        rings: set[str] = set()
        buckets: Buckets = {}
        groups: Buckets = {}
        known: dict = {}
        x0 = y0 = float("inf")
        x1 = y1 = float("-inf")
        alone = not self.with_groups     # groups drawn by their own items
        for it in items:
            p = it.pos()
            x, y, w, h = p.x() - it.w / 2, p.y() - it.h / 2, it.w, it.h
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x + w), max(y1, y + h)
            fill, rgba = _colour_of(it, known)
            into = groups if it.is_group and alone else buckets
            into.setdefault(rgba, (fill, {}))[1][it.key] = rect = QRectF(x, y, w, h)
            if into is buckets:
                rects[it.key], colours[it.key] = rect, rgba
                if it.highlighted or it.isSelected():
                    rings.add(it.key)
            yield
        self.prepareGeometryChange()
        self._rects, self._colour, self._rings = rects, colours, rings
        self._buckets, self._groups, self._lists = buckets, groups, {}
        self._swap_in(theme, QRectF(x0, y0, x1 - x0, y1 - y0) if rects or groups else QRectF())

    def _swap_in(self, theme: Theme, bounds: QRectF) -> None:
        self._ring_pen = QPen(theme.highlight, 0)
        self._rect = bounds.adjusted(-8, -8, 8, 8)
        late, self._late = self._late or {}, None
        for it in late.values():
            if it.key in self._rects:
                self._file(it)
        self.ready = True
        self.update()

    def _file(self, it: NodeItem) -> None:
        """Put a box in its colour's bucket (and ring set)."""
        key = it.key
        colour = it.far_fill()
        rgba = colour.rgba()
        old = self._colour.get(key)
        if old is not None and old != rgba:
            self._buckets[old][1].pop(key, None)
            self._lists.pop(old, None)
        if old != rgba:
            self._colour[key] = rgba
            self._buckets.setdefault(rgba, (colour, {}))[1][key] = self._rects[key]
            self._lists.pop(rgba, None)
        if it.highlighted or it.isSelected():
            self._rings.add(key)
        else:
            self._rings.discard(key)

    def changed(self, it: NodeItem) -> None:
        """A box changed state, overlay or highlight: repaint its spot."""
        self._changed[it.key] = it
        if self._late is not None:
            self._late[it.key] = it     # filed again once the fill is in
        elif it.key in self._rects:
            self._file(it)
            self.update(self._rects[it.key].adjusted(-6, -6, 6, 6))

    def take_changed(self) -> list[NodeItem]:
        """The boxes that changed since the last call (their items repaint when near again)."""
        out, self._changed = list(self._changed.values()), {}
        return out

    def boundingRect(self) -> QRectF:
        return self._rect

    def _draw(self, painter: QPainter, buckets: Buckets, cache: bool) -> None:
        painter.setRenderHint(ANTIALIAS, False)
        painter.setPen(NO_PEN)
        for rgba, (colour, rects) in buckets.items():
            if not rects:
                continue
            lst = self._lists.get(rgba) if cache else None
            if lst is None:
                lst = list(rects.values())
                if cache:
                    self._lists[rgba] = lst
            painter.setBrush(colour)
            painter.drawRects(lst)

    def draw_all(self, painter: QPainter) -> None:
        """Group and op boxes, as plain rectangles (the minimap's picture)."""
        self._draw(painter, self._groups, cache=False)
        self._draw(painter, self._buckets, cache=True)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        self._draw(painter, self._buckets, cache=True)
        if self._rings:
            lod = screen_scale(painter, option)
            pen = QPen(self._ring_pen.color(), 3.0 / max(lod, 1e-3))
            painter.setPen(pen)
            painter.setBrush(NO_BRUSH)
            painter.drawRects([self._rects[k] for k in self._rings])
