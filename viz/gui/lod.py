"""Level of detail: what the canvas leaves out as the zoom drops, and the far-away backdrop.

Text is drawn only where it is at least MIN_TEXT_PX tall on screen; group and scope titles are
drawn at least TITLE_PX tall where they fit; a group's card shadow only from LOD_SHADOW. Below
LOD_SIMPLE (20 %), boxes are plain rectangles without glow, and the canvas swaps its edge and
scope-frame items for one :class:`Backdrop` that draws every frame and every edge (as a straight
hairline) into a pixmap cached per zoom level, so an animation frame repaints only the boxes
that changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graphstage.viz.gui.theme import Theme, detail_font

if TYPE_CHECKING:
    from graphstage.viz.gui.edgelayer import EdgeLayer
    from graphstage.viz.gui.items import ClusterItem, NodeItem

# Qt enum members, looked up once: attribute access on PySide's Python enums costs microseconds,
# and boxes are built and painted by the thousand.
ANTIALIAS = QPainter.RenderHint.Antialiasing
NO_PEN = Qt.PenStyle.NoPen
NO_BRUSH = Qt.BrushStyle.NoBrush
DASH = Qt.PenStyle.DashLine
DOT = Qt.PenStyle.DotLine
ELIDE_RIGHT = Qt.TextElideMode.ElideRight
ELIDE_MIDDLE = Qt.TextElideMode.ElideMiddle
CENTER = Qt.AlignmentFlag.AlignCenter
TOP_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
DEVICE_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
TRANSPARENT = Qt.GlobalColor.transparent
SELECTABLE = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable

MIN_TEXT_PX = 6.0
TITLE_PX = 9.0
LOD_SIMPLE = 0.2
LOD_ARROWS = 0.12
LOD_SHADOW = 0.5         # a group's stacked-card shadow only where its text shows
BOX_LAYER_MIN = 1500     # more boxes than this: far away they are drawn by one BoxLayer
NESTED_TITLE_MAX = 24.0  # scene px: a frame inside another frame enlarges its title up to this


def screen_scale(painter: QPainter, option: QStyleOptionGraphicsItem) -> float:
    """Scene-to-screen scale of the current paint (1.0 at 100 % zoom)."""
    return option.levelOfDetailFromTransform(painter.worldTransform())


def paint_frame(painter: QPainter, lod: float, rect: QRectF, phase: str, title: str,
                nested: bool, theme: Theme) -> bool:
    """Draw a scope's frame and, where legible and not covering its parent's, its title;
    returns whether the title was drawn."""
    painter.setRenderHint(ANTIALIAS, lod >= LOD_SIMPLE)
    hue = QColor(theme.phase.get(phase, theme.muted))
    border = QColor(hue)
    border.setAlpha(90)
    fill = QColor(hue)
    fill.setAlpha(14 if theme.dark else 10)
    painter.setPen(QPen(border, 1.0 if lod >= LOD_SIMPLE else 0))
    painter.setBrush(fill)
    if lod >= LOD_SIMPLE:
        painter.drawRoundedRect(rect, 8, 8)
    else:
        painter.drawRect(rect)
    size = max(10.0, TITLE_PX / max(lod, 1e-3))
    if rect.width() * lod < 30 or size > rect.height() * 0.34 or (
            nested and size > NESTED_TITLE_MAX):
        return False
    painter.setPen(theme.muted)
    f = detail_font()
    f.setBold(True)
    f.setPixelSize(max(1, round(size)))
    painter.setFont(f)
    text = QFontMetricsF(f).elidedText(title, ELIDE_RIGHT, rect.width() - 16)
    painter.drawText(rect.adjusted(8, 3, -8, 0),
                     TOP_LEFT, text)
    return True


class Backdrop(QGraphicsItem):
    """Every scope frame and edge of the scene in one item, for far-away zooms: the canvas hides
    the edge and frame items and shows this instead. Rebuilt when the graph or theme changes."""

    def __init__(self) -> None:
        super().__init__()
        self._paths: list[tuple[QColor, QPainterPath]] = []
        self._frames: list[ClusterItem] = []
        self._rect = QRectF()
        self.theme: Theme | None = None
        self.setZValue(0.5)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        # drawn once per zoom level into a pixmap; frames and pans then copy from it
        self.setCacheMode(DEVICE_CACHE)

    def set_content(self, edges: EdgeLayer | None, frames: Iterable[ClusterItem],
                    theme: Theme) -> None:
        """Draw these arrows (tail to tip, in their colours) over these frames."""
        self.prepareGeometryChange()
        self.theme = theme
        self._paths = edges.hairlines() if edges is not None else []
        self._frames = sorted(frames, key=lambda c: -c.rect.width() * c.rect.height())
        rect = QRectF()
        for _, path in self._paths:
            rect = rect.united(path.boundingRect())
        for c in self._frames:
            rect = rect.united(c.rect)
        self._rect = rect.adjusted(-2, -2, 2, 2)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        self.draw(painter, screen_scale(painter, option))

    def draw(self, painter: QPainter, lod: float) -> None:
        """Frames (titles where legible at lod) under hairline arrows."""
        if self.theme is not None:
            for c in self._frames:
                paint_frame(painter, lod, c.rect, c.phase, c.title, c.nested, self.theme)
        painter.setRenderHint(ANTIALIAS, False)
        painter.setBrush(NO_BRUSH)
        for color, path in self._paths:
            painter.setPen(QPen(color, 0))
            painter.drawPath(path)


def draw_boxes(painter: QPainter, items: Iterable[NodeItem]) -> None:
    """Boxes as plain rectangles in their far-away colours, one drawRects per colour."""
    buckets: dict[object, tuple[QColor, list[QRectF]]] = {}
    for it in items:
        ov = it.overlay
        key = (it.kind, it.phase, it.state, ov.rgba() if ov is not None else None)
        bucket = buckets.get(key)
        if bucket is None:     # one colour per kind, phase, state and overlay colour
            bucket = buckets[key] = (it.far_fill(), [])
        p = it.pos()
        bucket[1].append(QRectF(p.x() - it.w / 2, p.y() - it.h / 2, it.w, it.h))
    painter.setRenderHint(ANTIALIAS, False)
    painter.setPen(NO_PEN)
    for colour, rects in buckets.values():
        painter.setBrush(colour)
        painter.drawRects(rects)


class BoxLayer(QGraphicsItem):
    """A big graph's op boxes as plain rectangles in one item, for far-away zooms: one
    drawRects per colour instead of one item each, so Qt has a handful of items to sort
    through per frame instead of thousands. Boxes report their state changes (NodeItem.layer)."""

    def __init__(self) -> None:
        super().__init__()
        self._rects: dict[str, QRectF] = {}
        self._colour: dict[str, int] = {}
        self._buckets: dict[int, tuple[QColor, dict[str, QRectF]]] = {}
        self._lists: dict[int, list[QRectF]] = {}
        self._rings: set[str] = set()
        self._rect = QRectF()
        self._ring_pen = QPen()
        self.setZValue(2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_boxes(self, items: Iterable[NodeItem], theme: Theme) -> None:
        """Draw these boxes (at their item positions)."""
        self.prepareGeometryChange()
        self._rects, self._colour, self._buckets, self._lists = {}, {}, {}, {}
        self._rings = set()
        self._ring_pen = QPen(theme.highlight, 0)
        rect = QRectF()
        for it in items:
            p = it.pos()
            r = QRectF(p.x() - it.w / 2, p.y() - it.h / 2, it.w, it.h)
            self._rects[it.key] = r
            rect = rect.united(r)
            self._file(it)
        self._rect = rect.adjusted(-8, -8, 8, 8)

    def _file(self, it: NodeItem) -> None:
        """Put a box in its colour's bucket (and ring set)."""
        key = it.key
        colour = it.far_fill()
        rgba = colour.rgba()
        old = self._colour.get(key)
        if old is not None:
            if old == rgba:
                return
            self._buckets[old][1].pop(key, None)
            self._lists.pop(old, None)
        self._colour[key] = rgba
        self._buckets.setdefault(rgba, (colour, {}))[1][key] = self._rects[key]
        self._lists.pop(rgba, None)
        if it.highlighted or it.isSelected():
            self._rings.add(key)
        else:
            self._rings.discard(key)

    def changed(self, it: NodeItem) -> None:
        """A box changed state, overlay or highlight: repaint its spot."""
        if it.key in self._rects:
            self._file(it)
            self.update(self._rects[it.key].adjusted(-6, -6, 6, 6))

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(ANTIALIAS, False)
        painter.setPen(NO_PEN)
        for rgba, (colour, rects) in self._buckets.items():
            if not rects:
                continue
            lst = self._lists.get(rgba)
            if lst is None:
                lst = self._lists[rgba] = list(rects.values())
            painter.setBrush(colour)
            painter.drawRects(lst)
        if self._rings:
            lod = screen_scale(painter, option)
            pen = QPen(self._ring_pen.color(), 3.0 / max(lod, 1e-3))
            painter.setPen(pen)
            painter.setBrush(NO_BRUSH)
            painter.drawRects([self._rects[k] for k in self._rings])


def _layer(scene: QGraphicsScene, z: float) -> QGraphicsRectItem:
    """An empty parent item for one kind of item; the switch takes it out of the scene (with
    its children) when it is not drawn."""
    item = QGraphicsRectItem()
    item.setPen(NO_PEN)      # an empty rect and no pen: it adds nothing to the scene's bounds
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
    item.setZValue(z)
    scene.addItem(item)
    return item


class DetailSwitch:
    """Holds the canvas's items in four parent layers (frames, edges, op boxes, group boxes)
    and, below LOD_SIMPLE, swaps the frame and edge layers for one Backdrop and a big graph's
    op boxes (over BOX_LAYER_MIN) for one BoxLayer."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self.frames, self.edges = _layer(scene, 0), _layer(scene, 1)
        self.ops, self.groups = _layer(scene, 2), _layer(scene, 2)
        self.backdrop = Backdrop()
        self.backdrop.setVisible(False)
        scene.addItem(self.backdrop)
        self.boxes = BoxLayer()
        self.boxes.setVisible(False)
        scene.addItem(self.boxes)
        self.far = False        # whether the zoom asks for the backdrop
        self._shown = False     # whether the backdrop is what is shown now
        self._nodes: dict = {}
        self._boxes_stale = True  # the box layer's rectangles predate the boxes' places
        self._theme: Theme | None = None
        self._scene = scene

    def _attach(self, layer: QGraphicsItem, on: bool) -> None:
        """Put a layer in the scene or take it out: out of the scene its thousands of items
        cost nothing per frame (hidden ones would still be walked by Qt's index)."""
        if on and layer.scene() is None:
            self._scene.addItem(layer)
        elif not on and layer.scene() is not None:
            self._scene.removeItem(layer)

    @staticmethod
    def drop(item: QGraphicsItem) -> None:
        """Remove an item from the canvas, whether or not its layer is in the scene."""
        if item.scene() is not None:
            item.scene().removeItem(item)
        else:
            item.setParentItem(None)

    def parent_of(self, item: QGraphicsItem) -> QGraphicsItem:
        """The layer an item belongs in."""
        kind = type(item).__name__
        if kind == "NodeItem":
            return self.groups if item.is_group else self.ops
        return self.edges if kind == "EdgeLayer" else self.frames

    def set_content(self, edges: EdgeLayer | None, frames: dict, theme: Theme,
                    nodes: dict | None = None) -> None:
        """The canvas's current arrow layer, frame and box items (dicts it keeps up to date)."""
        self._nodes = nodes if nodes is not None else self._nodes
        self._boxes_stale = True
        self.backdrop.set_content(edges, frames.values(), theme)
        self._theme = theme
        self._show(self.far, force=True)

    def boxes_moved(self) -> None:
        """The boxes reached new places (a graph shown, a morph done): the box layer draws
        them again when next shown."""
        self._boxes_stale = True
        if self.boxes.isVisible():
            self._refill_boxes()

    def _refill_boxes(self) -> None:
        if self._boxes_stale:
            self.boxes.set_boxes([it for it in self._nodes.values() if not it.is_group],
                                 self._theme)
            self._boxes_stale = False

    def _boxes_far(self, far: bool) -> None:
        """Op boxes of a big graph go into the box layer when far away (groups stay items:
        they keep their titles and progress bars)."""
        big = far and len(self._nodes) > BOX_LAYER_MIN
        if big == self.boxes.isVisible():
            if big:
                self._refill_boxes()
            return
        ops = [it for it in self._nodes.values() if not it.is_group]
        if big:
            self._refill_boxes()
        self.boxes.setVisible(big)
        self._attach(self.ops, not big)
        for it in ops:
            it.layer = self.boxes if big else None
            if not big:
                it.update()     # it may have changed while the layer drew it

    def zoom(self, scale: float) -> None:
        """The view's scale changed."""
        self.far = scale < LOD_SIMPLE
        self._show(self.far)

    def _show(self, far: bool, force: bool = False) -> None:
        if far == self._shown and not force:
            return
        self._shown = far
        self.backdrop.setVisible(far)
        self._attach(self.edges, not far)
        self._attach(self.frames, not far)
        self._boxes_far(far)

    @contextmanager
    def rendering(self, far: bool) -> Iterator[None]:
        """Draw with (far=False) every item, or (far=True) the backdrop and box layer,
        whatever the zoom, for the duration (exports, the minimap's picture)."""
        shown = self._shown
        self._show(far)
        try:
            yield
        finally:
            self._show(shown)
