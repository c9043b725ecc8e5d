"""Level of detail: what the canvas leaves out as the zoom drops, and the far-away backdrop.

Text is drawn only where it is at least MIN_TEXT_PX tall on screen; group and scope titles are
drawn at least TITLE_PX tall where they fit; a group's card shadow only from LOD_SHADOW. Below
LOD_SIMPLE (20 %), boxes are plain rectangles without glow, and the canvas swaps its edge and
scope-frame items for one :class:`Backdrop` that draws every frame and every edge (as a straight
hairline) into a pixmap cached per zoom level, so an animation frame repaints only the boxes
that changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graphstage.viz.gui.theme import Theme, detail_font

if TYPE_CHECKING:
    from graphstage.viz.gui.edgelayer import EdgeLayer, Hairlines
    from graphstage.viz.gui.items import ClusterItem

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
MIN_LINE_PX = 1.0        # far-away arrows shorter than this on screen are not drawn
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
        self._lines: list[tuple[QColor, Hairlines]] = []
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
        self._lines = edges.hairlines() if edges is not None else []
        self._frames = sorted(frames, key=lambda c: -c.rect.width() * c.rect.height())
        rect = QRectF(edges.index.rect) if edges is not None else QRectF()
        for c in self._frames:
            rect = rect.united(c.rect)
        self._rect = rect.adjusted(-2, -2, 2, 2)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        self.draw(painter, screen_scale(painter, option))

    def draw(self, painter: QPainter, lod: float, arrows: bool = True) -> None:
        """Frames (titles where legible at lod) under hairline arrows (unless arrows=False:
        the minimap, where they would be a grey haze that takes 60 ms to draw)."""
        if self.theme is not None:
            for c in self._frames:
                paint_frame(painter, lod, c.rect, c.phase, c.title, c.nested, self.theme)
        if not arrows:
            return
        painter.setRenderHint(ANTIALIAS, False)
        painter.setBrush(NO_BRUSH)
        shortest = MIN_LINE_PX / max(lod, 1e-9)   # shorter ones would be a dot on a box
        for color, hairlines in self._lines:
            lines = hairlines.reaching(shortest)
            if lines:
                painter.setPen(QPen(color, 0))
                painter.drawLines(lines)
