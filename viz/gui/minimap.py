"""An overview of the whole graph in a corner of the canvas, for graphs bigger than the view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

from graphstage.viz.gui.lod import draw_boxes

if TYPE_CHECKING:
    from graphstage.viz.gui.canvas import GraphCanvas

SIZE = (240, 160)
MARGIN = 10


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
        self.setFixedSize(*SIZE)
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
        self.refresh()

    def refresh(self, content: bool = False) -> None:
        """Show (fitted, framed, in the corner) or hide, after the canvas moved; content=True
        when the graph itself changed (the picture is drawn again when next shown)."""
        if content:
            self._picture = None
            self._picture_rect = self.canvas.content_rect()
            self.scene().setSceneRect(self._picture_rect)
        graph = self._picture_rect
        needed = not graph.isEmpty() and not self.visible_rect().adjusted(
            -2, -2, 2, 2).contains(graph)
        if needed != self.isVisible():
            self.setVisible(needed)
        if not needed:
            return
        self.fitInView(graph, Qt.AspectRatioMode.KeepAspectRatio)
        port = self.canvas.viewport().geometry()
        self.move(port.right() - SIZE[0] - MARGIN, port.bottom() - SIZE[1] - MARGIN)
        self.raise_()
        self.viewport().update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, self.canvas.theme.background)
        if self._picture is None:
            self._picture = self._render()
        painter.drawImage(self._picture_rect, self._picture)

    def _render(self) -> QImage:
        """The canvas's graph at the minimap's size (boxes at their lowest level of detail)."""
        w, h = SIZE[0] * 2, SIZE[1] * 2
        r = self._picture_rect
        k = min(w / max(r.width(), 1.0), h / max(r.height(), 1.0))
        img = QImage(max(1, int(r.width() * k)), max(1, int(r.height() * k)),
                     QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(self.canvas.theme.background)
        p = QPainter(img)
        # straight from the canvas's data (backdrop frames and hairlines, box rectangles): no
        # scene walk, no level-of-detail switch of thousands of items
        p.scale(k, k)
        p.translate(-r.x(), -r.y())
        self.canvas.detail.backdrop.draw(p, k)
        draw_boxes(p, self.canvas.nodes.values())
        p.end()
        return img

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
