"""An overview of the whole graph in a corner of the canvas, for graphs bigger than the view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsView

if TYPE_CHECKING:
    from graphstage.viz.gui.canvas import GraphCanvas

SIZE = (240, 160)
MARGIN = 10


class Minimap(QGraphicsView):
    """The canvas's own scene drawn small; the frame is what the canvas shows. Click or drag to
    move there. Shown only while the graph does not fit the canvas; it repaints on navigation,
    not on every animation frame."""

    def __init__(self, canvas: GraphCanvas) -> None:
        super().__init__(canvas.scene(), canvas)
        self.canvas = canvas
        self.setFixedSize(*SIZE)
        self.setInteractive(False)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.NoViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.Box)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setVisible(False)
        for bar in (canvas.horizontalScrollBar(), canvas.verticalScrollBar()):
            bar.valueChanged.connect(self.refresh)
            bar.rangeChanged.connect(self.refresh)

    def visible_rect(self) -> QRectF:
        """The part of the scene the canvas shows now."""
        return self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()

    def refresh(self) -> None:
        """Show (fitted, framed, in the corner) or hide, after the canvas moved or changed."""
        graph = self.scene().itemsBoundingRect()
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
