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

from graphstage.viz.gui.summary import fmt
from graphstage.viz.gui.theme import Theme, detail_font


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
        self.setVisible(any(b for _, b in self.curve))
        self.update()

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
        top = max(b for _, b in self.curve) or 1
        n = max(len(self.curve) - 1, 1)
        path = QPainterPath(QPointF(r.left(), r.bottom()))
        for i, (_, b) in enumerate(self.curve):
            path.lineTo(r.left() + r.width() * i / n, r.bottom() - r.height() * b / top)
        path.lineTo(r.right(), r.bottom())
        colour = QColor(self.theme.hue("op", "backward"))
        fill = QColor(colour)
        fill.setAlpha(60)
        p.fillPath(path, fill)
        p.setPen(QPen(colour, 1.2))
        p.drawPath(path)
        node, most = peak(self.curve)
        i = next(k for k, (m, _) in enumerate(self.curve) if m == node)
        x = r.left() + r.width() * i / n
        p.setPen(QPen(QColor("#c0392b"), 1.5))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(self.palette().windowText().color())
        p.drawText(QRectF(0, r.top(), 72, 16), Qt.AlignmentFlag.AlignRight,
                   f"{fmt(most / 2**20)} MiB")
        p.drawText(QRectF(0, r.bottom() - 14, 72, 16), Qt.AlignmentFlag.AlignRight, "saved")
        p.end()
