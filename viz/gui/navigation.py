"""Zoom, pan and fit for a QGraphicsView, and a colour-bar legend drawn in its corner."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from graphstage.viz.gui.theme import Theme, detail_font


class NavigableView(QGraphicsView):
    """A view that zooms with the wheel and +/-/0, fits its scene (refitting on resize until
    the user zooms) and can show a legend; subclasses hear of moves through view_moved()."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self._auto_fit = False  # refit on resize until the user zooms
        self.legend: tuple[str, float, float] | None = None

    def view_moved(self) -> None:
        """Called after a resize (the minimap follows)."""

    def zoom_changed(self) -> None:
        """Called after every change of scale made from Python (level of detail follows)."""

    def scale(self, sx: float, sy: float) -> None:
        super().scale(sx, sy)
        self.zoom_changed()

    def resetTransform(self) -> None:
        super().resetTransform()
        self.zoom_changed()

    def setTransform(self, matrix, combine: bool = False) -> None:
        super().setTransform(matrix, combine)
        self.zoom_changed()

    def fitInView(self, *args) -> None:
        super().fitInView(*args)
        self.zoom_changed()

    def content_rect(self) -> QRectF:
        """The part of the scene the graph covers (what Fit shows)."""
        return self.scene().itemsBoundingRect()

    def fit_scale(self) -> float:
        """The scale fit() would set, worked out without setting it (which would switch every
        box's level of detail there and back)."""
        r = self.content_rect().adjusted(-20, -20, 20, 20)
        vp = self.viewport().rect().adjusted(2, 2, -2, -2)   # QGraphicsView's fit margin
        if r.isEmpty() or vp.isEmpty():
            return 1.0
        return min(vp.width() / r.width(), vp.height() / r.height(), 1.25)

    def fit(self) -> None:
        """Fit the whole graph, but never magnify small graphs beyond 1.25x; keeps fitting
        when the view is resized until the user zooms."""
        r = self.content_rect()
        if r.isEmpty():
            return
        self._auto_fit = True
        self.fitInView(r.adjusted(-20, -20, 20, 20), Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1.25:
            self.resetTransform()
            self.scale(1.25, 1.25)
            self.centerOn(r.center())

    def stop_auto_fit(self) -> None:
        """The user navigated: keep their view when the window is resized."""
        self._auto_fit = False

    def zoom(self, factor: float) -> None:
        self._auto_fit = False
        z = self.transform().m11() * factor
        if 0.02 < z < 8:
            self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom(1.0015 ** event.angleDelta().y())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        k = event.key()
        if k in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif k == Qt.Key.Key_Minus:
            self.zoom(0.8)
        elif k == Qt.Key.Key_0:
            self._auto_fit = False
            self.resetTransform()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()
        self.view_moved()

    def set_legend(self, legend: tuple[str, float, float] | None) -> None:
        """Show (title, low, high) as a colour bar in the view's corner, or hide it."""
        self.legend = legend
        self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.legend is None:
            return
        from graphstage.viz.gui.summary import fmt, ramp
        title, lo, hi = self.legend
        painter.save()
        painter.resetTransform()
        x, y, w, h = 14, self.viewport().height() - 58, 200, 12
        painter.setPen(Qt.PenStyle.NoPen)
        bg = QColor(self.theme.background)
        bg.setAlpha(225)
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(x - 8, y - 22, w + 16, 58), 6, 6)
        for i in range(w):
            painter.setPen(ramp(i / (w - 1)))
            painter.drawLine(x + i, y, x + i, y + h)
        painter.setPen(self.theme.text)
        painter.setFont(detail_font())
        painter.drawText(QRectF(x, y - 18, w, 14), Qt.AlignmentFlag.AlignLeft,
                         f"{title} (log scale)")
        painter.drawText(QRectF(x, y + h + 3, w, 14), Qt.AlignmentFlag.AlignLeft, fmt(lo))
        painter.drawText(QRectF(x, y + h + 3, w, 14), Qt.AlignmentFlag.AlignRight, fmt(hi))
        painter.restore()
