"""The step timeline: a slider over the captured steps with one row per pane (framework), each
with its loss curve, node counts, structure changes and TensorFlow (re)traces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from graphstage.viz.gui.summary import fmt
from graphstage.viz.gui.theme import Theme, detail_font

FRAMEWORKS = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
GUTTER = 116       # room left of the plots for each row's name and scales
ROW_H = 54         # one framework's row, when there are several
RETRACE = QColor("#c0392b")


@dataclass
class TimelineRow:
    """One framework's steps: loss, node count, and per step whether the structure changed
    from the step before, whether TensorFlow retraced (R) or first traced (T) its function."""

    name: str
    losses: list[float | None] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)
    retraced: list[bool] = field(default_factory=list)
    traced: list[bool] = field(default_factory=list)

    def summary(self) -> str:
        """A few words under the row's name: how the graphs came about."""
        if self.name == "TensorFlow":
            n = sum(self.traced) + sum(self.retraced)
            return f"{n} trace{'s' if n != 1 else ''}, {sum(self.retraced)} retraced"
        return f"{1 + sum(self.changed[1:])} structures"


def timeline_row(session: Any) -> TimelineRow:
    """The timeline row of a trace session (what its step graphs say about themselves)."""
    steps = session.steps
    return TimelineRow(
        FRAMEWORKS.get(session.framework, session.framework),
        [m.get("loss") for m in session.metrics],
        [g.number_of_nodes() for g in steps],
        [i > 0 and not g.graph.get("same_as_previous", False) for i, g in enumerate(steps)],
        [bool(g.graph.get("retraced")) for g in steps],
        [bool(g.graph.get("traced_new")) and not g.graph.get("retraced") for g in steps])


def bold_detail_font() -> QFont:
    """The detail font in bold: row names and (re)trace marks."""
    f = detail_font()
    f.setBold(True)
    return f


class TimelineWidget(QWidget):
    """Click or drag to pick a step; per row: loss (line), node count (bars), structure changes
    (green ticks) and retraces (R)."""

    stepRequested = Signal(int)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.rows: list[TimelineRow] = []
        self.step = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self._height())
        self.setToolTip("Steps: click or drag to choose; ←/→ step. One row per framework: the "
                        "line is the loss, bars the node count, green ticks mark structure "
                        "changes, R a TensorFlow retrace, T its first trace")

    def _height(self) -> int:
        return 92 if len(self.rows) <= 1 else 36 + ROW_H * len(self.rows)

    def sizeHint(self) -> QSize:
        return QSize(600, self._height() + 6)

    def set_rows(self, rows: list[TimelineRow]) -> None:
        """Show these rows (one per pane, top to bottom)."""
        self.rows = rows
        self.setMinimumHeight(self._height())
        self.updateGeometry()
        self.update()

    def set_step(self, step: int) -> None:
        if step != self.step:
            self.step = step
            self.update()

    @property
    def steps(self) -> int:
        return max((len(r.counts) for r in self.rows), default=0)

    def _plot(self) -> QRectF:
        return QRectF(GUTTER, 8, max(10, self.width() - GUTTER - 16), self.height() - 44)

    def row_rect(self, i: int) -> QRectF:
        """Row i's plot area (widget coordinates)."""
        r = self._plot()
        h = r.height() / max(len(self.rows), 1)
        return QRectF(r.left(), r.top() + i * h, r.width(), h - (6 if len(self.rows) > 1 else 0))

    def _x(self, i: int) -> float:
        r = self._plot()
        return r.left() + (i + 0.5) * r.width() / max(self.steps, 1)

    def _step_at(self, x: float) -> int:
        r = self._plot()
        n = max(self.steps, 1)
        return max(0, min(n - 1, int((x - r.left()) / (r.width() / n))))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.steps:
            self.stepRequested.emit(self._step_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.steps and event.buttons() & Qt.MouseButton.LeftButton:
            s = self._step_at(event.position().x())
            if s != self.step:
                self.stepRequested.emit(s)

    def paintEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.theme.background)
        p.setFont(detail_font())
        if not self.steps:
            p.setPen(self.theme.muted)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no trace loaded")
            return
        for i, row in enumerate(self.rows):
            self._paint_row(p, row, self.row_rect(i))
        self._paint_handle(p)

    def _node_colour(self) -> QColor:
        c = QColor(self.theme.phase["forward"])
        c.setAlpha(70)
        return c

    def _paint_row(self, p: QPainter, row: TimelineRow, r: QRectF) -> None:
        """One framework: bars, change ticks, (re)trace marks, loss line and the gutter."""
        t, slot = self.theme, r.width() / max(self.steps, 1)
        cmax = max(row.counts, default=0) or 1
        node_col = self._node_colour()
        for i, c in enumerate(row.counts):
            h = (r.height() - 6) * 0.5 * c / cmax
            left = self._x(i) - slot * 0.35
            p.fillRect(QRectF(left, r.bottom() - 3 - h, slot * 0.7, h), node_col)
            if i < len(row.changed) and row.changed[i]:
                p.fillRect(QRectF(left, r.bottom() - 2, slot * 0.7, 3), t.added)
            mark = "R" if row.retraced[i:i + 1] == [True] else \
                "T" if row.traced[i:i + 1] == [True] else ""
            if mark:
                p.setFont(bold_detail_font())
                p.setPen(RETRACE if mark == "R" else t.text)
                p.drawText(QRectF(self._x(i) - 8, r.top() - 2, 16, 14),
                           Qt.AlignmentFlag.AlignCenter, mark)
                p.setFont(detail_font())
        self._paint_loss(p, row, r)
        self._paint_gutter(p, row, r, cmax, node_col)

    def _paint_loss(self, p: QPainter, row: TimelineRow, r: QRectF) -> None:
        vals = [v for v in row.losses if v is not None]
        if not vals:
            return
        lo, span = min(vals), (max(vals) - min(vals)) or 1.0
        path, first = QPainterPath(), True
        for i, v in enumerate(row.losses):
            if v is None:
                continue
            pt = QPointF(self._x(i), r.top() + 14 + (r.height() - 20) * (1 - (v - lo) / span))
            path.moveTo(pt) if first else path.lineTo(pt)
            first = False
        p.setPen(QPen(self.theme.kind["loss"], 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)

    def _paint_gutter(self, p: QPainter, row: TimelineRow, r: QRectF, cmax: int,
                      node_col: QColor) -> None:
        """Left of the row: its framework, how its graphs came about, the bar scale, 'loss'."""
        t = self.theme
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        box = QRectF(0, r.top() - 2, GUTTER - 8, 13)
        p.setFont(bold_detail_font())
        p.setPen(t.text)
        p.drawText(box, right, row.name)
        p.setFont(detail_font())
        p.setPen(t.muted)
        p.drawText(box.translated(0, 12), right, row.summary())
        ink = QColor(node_col)
        ink.setAlpha(255)
        p.setPen(ink.darker(140) if not t.dark else ink.lighter(130))
        scale = f"{cmax} n" + ("  ·  " if any(v is not None for v in row.losses) else "")
        p.drawText(box.translated(-28, 24), right, scale)
        if any(v is not None for v in row.losses):
            p.setPen(t.kind["loss"])
            p.drawText(box.translated(0, 24), right, "loss")

    def _paint_handle(self, p: QPainter) -> None:
        """The current step: a line through every row, a knob, and the step's numbers."""
        t, r = self.theme, self._plot()
        x = self._x(self.step)
        p.setPen(QPen(t.highlight, 2))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom() + 6))
        p.setBrush(t.highlight)
        p.drawEllipse(QPointF(x, r.bottom() + 10), 4, 4)
        p.setPen(t.text)
        parts = []
        for row in self.rows:
            if self.step >= len(row.counts):
                continue
            loss = row.losses[self.step] if self.step < len(row.losses) else None
            words = f"{row.counts[self.step]} nodes" + (f", loss {fmt(loss)}" if loss is not None
                                                        else "")
            parts.append(f"{row.name} {words}" if len(self.rows) > 1 else words)
        label = f"step {self.step + 1}/{self.steps}  ·  " + "  ·  ".join(parts)
        p.drawText(QRectF(r.left(), self.height() - 16, r.width(), 14),
                   Qt.AlignmentFlag.AlignCenter, label)
