"""An overview of the whole graph in a corner of the canvas, for graphs bigger than the view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from graphstage.viz.gui.items import NodeItem

if TYPE_CHECKING:
    from graphstage.viz.gui.canvas import GraphCanvas

SIZE = (240, 160)   # the largest minimap (in a wide canvas)
SHARE = 0.2         # at most this share of the canvas's width and height
MIN_WIDTH = 90      # narrower than this it would show nothing: hidden instead
MARGIN = 10


def minimap_size(port_w: int, port_h: int) -> tuple[int, int] | None:
    """The minimap's size in a canvas viewport of port_w × port_h: SIZE's proportions, at most
    SHARE of each side (so a narrow side-by-side pane keeps its boxes); None when too small."""
    k = min(1.0, SHARE * port_w / SIZE[0], SHARE * port_h / SIZE[1])
    w, h = int(SIZE[0] * k), int(SIZE[1] * k)
    return (w, h) if w >= MIN_WIDTH else None


class Minimap(QGraphicsView):
    """The canvas's scene drawn small; the frame is what the canvas shows. Click or drag to
    move there. Shown only while the graph does not fit the canvas. It draws a picture of the
    scene rendered once per graph change (on an empty scene of the same coordinates), so
    panning a 25,000-box graph repaints one image and a frame, not every item."""

    def __init__(self, canvas: GraphCanvas) -> None:
        super().__init__(QGraphicsScene(canvas), canvas)
        self.canvas = canvas
        self._picture: QImage | None = None
        self._picture_rect = QRectF()
        self._due = False       # a refresh is queued for the next event-loop turn
        self.setFixedSize(*SIZE)
        self.keep_clear: set[str] = set()   # display keys it must never cover (the claim's boxes)
        self.setInteractive(False)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.NoViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.Box)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setVisible(False)
        for bar in (canvas.horizontalScrollBar(), canvas.verticalScrollBar()):
            # not connected to refresh directly: the signals' ints would land in `content`
            # and every scroll would draw the whole graph's picture again
            bar.valueChanged.connect(self._moved)
            bar.rangeChanged.connect(self._moved)

    def visible_rect(self) -> QRectF:
        """The part of the scene the canvas shows now."""
        return self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()

    def _moved(self, *_: int) -> None:
        # once per event-loop turn, after the turn's other work: showing a big graph moves the
        # scroll bars, and the corner's scene query would build the new scene's index then
        if not self._due:
            self._due = True
            QTimer.singleShot(0, self, self._refresh_due)

    def _refresh_due(self) -> None:
        self._due = False
        self.refresh()

    def refresh(self, content: bool = False) -> None:
        """Show (fitted, framed, in the corner) or hide, after the canvas moved; content=True
        when the graph itself changed (the picture is drawn again when next shown, and the
        corner is chosen on the next event-loop turn: its query of the scene builds the
        scene's index of thousands of new items, which should not add to the turn that
        showed them)."""
        if content:
            self._picture = None
            self._picture_rect = self.canvas.content_rect()
            self.scene().setSceneRect(self._picture_rect)
            self._moved()
            return
        graph = self._picture_rect
        port = self.canvas.viewport().geometry()
        size = minimap_size(port.width(), port.height())
        needed = size is not None and not graph.isEmpty() and not self.visible_rect().adjusted(
            -2, -2, 2, 2).contains(graph)
        corner = self._corner(port, size) if needed else None
        if (corner is not None) != self.isVisible():
            self.setVisible(corner is not None)
        if corner is None:
            return
        if (self.width(), self.height()) != size:
            self.setFixedSize(*size)
            self._picture = None
        self.move(corner.topLeft())
        self.fitInView(graph, Qt.AspectRatioMode.KeepAspectRatio)
        self.raise_()
        self.viewport().update()

    def _corner(self, port: QRect, size: tuple[int, int]) -> QRect | None:
        """Where to sit: the first corner (bottom right, bottom left, top right, top left)
        covering no box, else the one covering fewest; never over a keep_clear box (None:
        hidden when every corner would cover one)."""
        w, h = size
        left, top = port.left() + MARGIN, port.top() + MARGIN
        right, bottom = port.right() - w - MARGIN, port.bottom() - h - MARGIN
        best, fewest = None, None
        for x, y in ((right, bottom), (left, bottom), (right, top), (left, top)):
            rect = QRect(x, y, w, h)
            local = rect.translated(-port.left(), -port.top())   # viewport coordinates
            keys = {it.key for it in self.canvas.items(local) if isinstance(it, NodeItem)}
            if keys & self.keep_clear:
                continue
            if not keys:
                return rect
            if fewest is None or len(keys) < fewest:
                best, fewest = rect, len(keys)
        return best

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, self.canvas.theme.background)
        if self._picture is None:
            self._picture = self._render()
        painter.drawImage(self._picture_rect, self._picture)

    def _render(self) -> QImage:
        """The canvas's graph at the minimap's size (boxes at their lowest level of detail)."""
        w, h = self.width() * 2, self.height() * 2
        r = self._picture_rect
        k = min(w / max(r.width(), 1.0), h / max(r.height(), 1.0))
        img = QImage(max(1, int(r.width() * k)), max(1, int(r.height() * k)),
                     QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(self.canvas.theme.background)
        p = QPainter(img)
        # straight from the canvas's data (backdrop frames, the box layer's rectangles): no
        # scene walk, no level-of-detail switch of thousands of items
        p.scale(k, k)
        p.translate(-r.x(), -r.y())
        detail = self.canvas.detail
        detail.backdrop.draw(p, k, arrows=False)
        if detail.boxes.ready:
            detail.boxes.draw_all(p)
        p.end()
        return img

    def boxes_in(self) -> None:
        """The box layer's rectangles are in: draw the picture again with them."""
        self._picture = None
        if self.isVisible():
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        theme = self.canvas.theme
        frame = QColor(theme.highlight)
        painter.setPen(QPen(frame, 2 / max(self.transform().m11(), 1e-6)))
        frame.setAlpha(40)
        painter.setBrush(frame)
        painter.drawRect(self.visible_rect())

    def _go(self, pos: QPoint) -> None:
        self.canvas.stop_auto_fit()
        self.canvas.centerOn(self.mapToScene(pos))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._go(event.position().toPoint())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event.position().toPoint())
