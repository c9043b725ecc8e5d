"""Saved-for-backward memory through a step: the curve under the timeline, with its peak.

A forward op's run keeps alive the tensors its backward nodes saved; each backward node frees
its own once it has run. Pure function plus a small widget; clicking the curve selects the op
at that point (the peak is marked).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from graphstage.viz.gui.pergraph import per_graph
from graphstage.viz.gui.summary import fmt
from graphstage.viz.gui.theme import Theme, detail_font


@per_graph
def saved_memory_curve(graph: Any) -> list[tuple[str, int]]:
    """(node, bytes saved for backward and still alive after it ran), in execution order:
    forward ops by their order, then backward nodes in the order the engine fired them."""
    saved_by: dict[str, int] = {}
    for a in graph.nodes.values():
        if a.get("phase") == "backward" and a.get("forward") and a.get("saved_bytes"):
            saved_by[a["forward"]] = saved_by.get(a["forward"], 0) + a["saved_bytes"]
    ran = [(n, a) for n, a in graph.nodes(data=True) if a.get("order", -1) >= 0
           and a.get("phase") in ("forward", "backward")]
    ran.sort(key=lambda na: (na[1]["phase"] != "forward", na[1]["order"]))
    live, curve = 0, []
    for n, a in ran:
        if a["phase"] == "forward":
            live += saved_by.get(n, 0)
        elif a.get("forward") and a.get("saved_bytes"):
            live -= a["saved_bytes"]
        curve.append((n, live))
    return curve


def envelope(curve: list[tuple[str, int]], columns: int) -> list[tuple[float, int]]:
    """The curve as at most two points per column (its lowest and highest there), at
    fractions 0..1 along it: a 200,000-op step draws 1,000 points, not 200,000."""
    n = len(curve)
    if n <= 2 * columns:
        return [(i / max(n - 1, 1), b) for i, (_, b) in enumerate(curve)]
    out = []
    for c in range(columns):
        lo, hi = c * n // columns, (c + 1) * n // columns
        part = [b for _, b in curve[lo:hi]]
        i_min, i_max = part.index(min(part)), part.index(max(part))
        for i in sorted({i_min, i_max}):
            out.append(((lo + i) / (n - 1), part[i]))
    return out


def peak(curve: list[tuple[str, int]]) -> tuple[str, int] | None:
    """The first point of highest memory."""
    return max(curve, key=lambda p: p[1]) if curve else None


class MemoryCurveWidget(QWidget):
    """The curve for the step shown; click anywhere to select the op at that point."""

    nodeRequested = Signal(str)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.curve: list[tuple[str, int]] = []
        self._graph: Any = None
        self._peak: tuple[str, int] = ("", 0)
        self._peak_at = 0
        self._drawn: tuple[int, list] = (-1, [])
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Memory saved for backward through the step (forward ops keep tensors "
                        "alive, backward nodes free them); click to select the op there")

    def sizeHint(self) -> QSize:
        return QSize(600, 48)

    def set_graph(self, graph: Any) -> None:
        """Plot this step graph's curve (kept while the same graph is shown again: expanding
        or collapsing groups does not change it)."""
        if graph is self._graph and graph is not None:
            return
        self._graph = graph
        self.curve = saved_memory_curve(graph) if graph is not None else []
        self._peak = peak(self.curve) or ("", 0)
        self._peak_at = next((k for k, (m, _) in enumerate(self.curve) if m == self._peak[0]), 0)
        self._drawn = (-1, [])
        self.setVisible(self._peak[1] > 0)
        self.update()

    def _points(self, columns: int) -> list[tuple[float, int]]:
        """The curve's envelope for this many pixel columns, kept while the width stays."""
        if self._drawn[0] != columns:
            self._drawn = (columns, envelope(self.curve, max(columns, 1)))
        return self._drawn[1]

    def _plot(self) -> QRectF:
        return QRectF(76, 6, max(self.width() - 96, 10), max(self.height() - 14, 10))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.curve:
            r = self._plot()
            f = (event.position().x() - r.left()) / r.width()
            i = min(len(self.curve) - 1, max(0, round(f * (len(self.curve) - 1))))
            self.nodeRequested.emit(self.curve[i][0])

    def paintEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        if not self.curve:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setFont(detail_font())
        r = self._plot()
        node, most = self._peak
        top = most or 1
        n = max(len(self.curve) - 1, 1)
        path = QPainterPath(QPointF(r.left(), r.bottom()))
        for f, b in self._points(int(r.width())):
            path.lineTo(r.left() + r.width() * f, r.bottom() - r.height() * b / top)
        path.lineTo(r.right(), r.bottom())
        colour = QColor(self.theme.hue("op", "backward"))
        fill = QColor(colour)
        fill.setAlpha(60)
        p.fillPath(path, fill)
        p.setPen(QPen(colour, 1.2))
        p.drawPath(path)
        x = r.left() + r.width() * self._peak_at / n
        p.setPen(QPen(QColor("#c0392b"), 1.5))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(self.palette().windowText().color())
        p.drawText(QRectF(0, r.top(), 72, 16), Qt.AlignmentFlag.AlignRight,
                   f"{fmt(most / 2**20)} MiB")
        p.drawText(QRectF(0, r.bottom() - 14, 72, 16), Qt.AlignmentFlag.AlignRight, "saved")
        p.end()
