"""The step timeline: a slider over the captured steps with loss curve and node counts under it."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from graphstage.viz.gui.summary import fmt
from graphstage.viz.gui.theme import Theme, detail_font


class TimelineWidget(QWidget):
    """Click or drag to pick a step; draws loss (line) and node count (bars) per step."""

    stepRequested = Signal(int)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.losses: list[float | None] = []
        self.counts: list[int] = []
        self.changed: list[bool] = []
        self.retraced: list[bool] = []
        self.step = 0
        self.setMinimumHeight(86)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Steps: click or drag to choose; ←/→ step; the line is the loss, "
                        "bars the node count, green ticks mark structure changes")

    def sizeHint(self) -> QSize:
        return QSize(600, 92)

    def set_data(self, losses: list[float | None], counts: list[int],
                 changed: list[bool], retraced: list[bool] | None = None) -> None:
        """Per-step loss, node count, whether the structure changed from the step before, and
        whether TensorFlow retraced its function for that step (marked R)."""
        self.losses, self.counts, self.changed = losses, counts, changed
        self.retraced = retraced or []
        self.update()

    def set_step(self, step: int) -> None:
        if step != self.step:
            self.step = step
            self.update()

    def _plot(self) -> QRectF:
        return QRectF(54, 8, max(10, self.width() - 70), self.height() - 30)

    def _x(self, i: int) -> float:
        r = self._plot()
        n = max(len(self.counts), 1)
        return r.left() + (i + 0.5) * r.width() / n

    def _step_at(self, x: float) -> int:
        r = self._plot()
        n = max(len(self.counts), 1)
        return max(0, min(n - 1, int((x - r.left()) / (r.width() / n))))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.counts:
            self.stepRequested.emit(self._step_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.counts and event.buttons() & Qt.MouseButton.LeftButton:
            s = self._step_at(event.position().x())
            if s != self.step:
                self.stepRequested.emit(s)

    def paintEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        t = self.theme
        p.fillRect(self.rect(), t.background)
        r = self._plot()
        p.setFont(detail_font())
        if not self.counts:
            p.setPen(t.muted)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no trace loaded")
            return
        n = len(self.counts)
        slot = r.width() / n
        cmax = max(self.counts) or 1
        bar_area = r.height() * 0.45
        node_col = QColor(t.phase["forward"])
        node_col.setAlpha(70)
        for i, c in enumerate(self.counts):
            h = bar_area * c / cmax
            p.fillRect(QRectF(self._x(i) - slot * 0.35, r.bottom() - h, slot * 0.7, h), node_col)
            if i < len(self.changed) and self.changed[i] and i > 0:
                p.fillRect(QRectF(self._x(i) - slot * 0.35, r.bottom() + 2, slot * 0.7, 3),
                           t.added)
            if i < len(self.retraced) and self.retraced[i]:
                p.setPen(QColor("#c0392b"))
                p.drawText(QRectF(self._x(i) - 8, r.top(), 16, 14),
                           Qt.AlignmentFlag.AlignCenter, "R")
        vals = [v for v in self.losses if v is not None]
        if vals:
            lo, hi = min(vals), max(vals)
            span = (hi - lo) or 1.0
            path = QPainterPath()
            first = True
            for i, v in enumerate(self.losses):
                if v is None:
                    continue
                pt = QPointF(self._x(i), r.top() + 4 + (r.height() - 8) * (1 - (v - lo) / span))
                if first:
                    path.moveTo(pt)
                    first = False
                else:
                    path.lineTo(pt)
            p.setPen(QPen(t.kind["loss"], 2))
            p.drawPath(path)
            p.setPen(t.muted)
            p.drawText(QRectF(0, r.top() - 2, 50, 14), Qt.AlignmentFlag.AlignRight, fmt(hi))
            p.drawText(QRectF(0, r.bottom() - 26, 50, 14), Qt.AlignmentFlag.AlignRight, fmt(lo))
            p.setPen(t.kind["loss"])
            p.drawText(QRectF(0, r.center().y() - 14, 50, 14), Qt.AlignmentFlag.AlignRight, "loss")
        p.setPen(node_col.darker(150) if not t.dark else node_col.lighter(180))
        p.drawText(QRectF(0, r.bottom() - 12, 50, 14), Qt.AlignmentFlag.AlignRight,
                   f"{cmax} n")
        # the current-step handle
        x = self._x(self.step)
        p.setPen(QPen(t.highlight, 2))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom() + 6))
        p.setBrush(t.highlight)
        p.drawEllipse(QPointF(x, r.bottom() + 10), 5, 5)
        p.setPen(t.text)
        label = f"step {self.step + 1}/{n}"
        if self.step < len(self.losses) and self.losses[self.step] is not None:
            label += f"  loss {fmt(self.losses[self.step])}  ·  {self.counts[self.step]} nodes"
        p.drawText(QRectF(r.left(), self.height() - 16, r.width(), 14),
                   Qt.AlignmentFlag.AlignCenter, label)
