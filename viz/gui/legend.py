"""The legend: what every colour, shape, border, arrow, badge and abbreviation on the canvas means.

Each swatch is drawn by the canvas's own items (NodeItem, EdgeLayer, ClusterItem, CalloutItem) with
the current theme, so the legend cannot drift from what the canvas draws.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGridLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from graphstage.viz.gui.edgelayer import EdgeLayer, make_arrow
from graphstage.viz.gui.items import CalloutItem, ClusterItem, NodeItem, measure
from graphstage.viz.gui.theme import Theme, detail_font, label_font
from graphstage.viz.gui.timeline import RETRACE, bold_detail_font

SWATCH = QSize(132, 48)


@dataclass(frozen=True)
class Entry:
    """One legend row: how to draw the swatch and what it means."""

    swatch: tuple          # ("node", kind, phase, label, detail[, state/flag]) | ("edge", role)
    text: str


SECTIONS: list[tuple[str, list[Entry]]] = [
    ("Colour = phase", [
        Entry(("node", "op", "forward", "linear", "addmm [64×100]"),
              "<b>forward</b> pass: the ops that compute the loss"),
        Entry(("node", "op", "backward", "TBackward0", "[100×64]"),
              "<b>backward</b> pass: gradient ops (autograd nodes, tape gradients)"),
        Entry(("node", "op", "update", "mul", "scalar"),
              "<b>update</b>: the optimizer's work after the backward pass"),
    ]),
    ("Shape = kind of node", [
        Entry(("node", "input", "forward", "x", "[64×1000]"),
              "<b>input</b>: data fed to the step (batch, labels, placeholders)"),
        Entry(("node", "parameter", "forward", "weight", "[100×1000]"),
              "<b>parameter</b>: a trained weight (nn.Parameter, tf.Variable)"),
        Entry(("node", "constant", "forward", "const", "scalar"),
              "<b>constant</b>: a value baked into the graph, or a buffer"),
        Entry(("node", "op", "forward", "relu", "relu [64×100]"),
              "<b>op</b>: one executed operation; 1st line its name, 2nd its op and output "
              "shape"),
        Entry(("node", "output", "forward", "linear", "[64×10]"),
              "<b>output</b>: the op whose result is the model's output"),
        Entry(("node", "loss", "forward", "mse_loss", "scalar"),
              "<b>loss</b>: the value the gradients are taken of"),
        Entry(("node", "grad_acc", "backward", "∇ weight", "AccumulateGrad"),
              "<b>gradient accumulator</b> (∇ name): where a parameter's gradient lands"),
        Entry(("node", "update", "update", "weight", "sub_"),
              "<b>update</b>: the optimizer's change to one parameter"),
        Entry(("node", "group", "forward", "hidden", "12 ops"),
              "<b>folded scope</b> ▸: a module or name scope shown as one box; double-click "
              "to open it"),
    ]),
    ("Borders and frames", [
        Entry(("node", "grad_acc", "backward", "∇ bias", "AccumulateGrad"),
              "<b>dashed</b> border: a constant or a gradient accumulator; every other box is "
              "<b>solid</b> (thick: parameter, loss, folded scope)"),
        Entry(("frame",),
              "<b>frame</b>: a PyTorch module or TensorFlow name scope, one per phase; "
              "double-click to fold it"),
    ]),
    ("Arrows", [
        Entry(("edge", "data"), "<b>data</b>: a forward tensor from producer to consumer "
              "(hover: its shape)"),
        Entry(("edge", "gradient"), "<b>gradient</b> flowing back from the loss"),
        Entry(("edge", "update"), "<b>update</b>: a gradient consumed by the optimizer"),
        Entry(("edge", "control"), "<b>dashed</b>: order only, no data (TF control "
              "dependency; a nested graph opened in place)"),
    ]),
    ("While it plays", [
        Entry(("node", "op", "forward", "mul", "scalar", "active"),
              "<b>lit</b>: executing now; a dot runs along each arrow it fills"),
        Entry(("callout", "= 300"), "the executing op's value (μ σ ‖·‖ for big tensors)"),
        Entry(("node", "op", "forward", "mul", "scalar", "done"),
              "<b>tinted</b>: already ran in this step"),
    ]),
    ("Badges", [
        Entry(("node", "op", "forward", "relu", "[64×100]", "added"),
              "<b>+</b> new in this step: not in the previous step's graph"),
        Entry(("node", "op", "forward", "relu", "[64×100]", "highlighted"),
              "amber ring: a search match (Ctrl+F)"),
    ]),
    ("Text", [
        Entry(("text", "Mul ()", "label"), "<b>()</b> (TensorFlow): a scalar, a shape with no "
              "dimensions; PyTorch writes <i>scalar</i>"),
        Entry(("text", "Reshape ?", "label"), "<b>?</b>: shape unknown when the graph was built "
              "(TF1 placeholders, dynamic sizes)"),
        Entry(("text", "64×100"), "a tensor's shape (TensorFlow writes 64x100)"),
        Entry(("text", "same graph", "same"), "pane title: <i>same graph as previous step</i>: "
              "this step ran exactly the graph of the step before"),
    ]),
    ("Timeline (Steps)", [
        Entry(("text", "45 n", "count"), "the scale of the node-count bars (the biggest "
              "step has 45 nodes)"),
        Entry(("text", "loss", "loss"), "the <b>loss</b> of each step, a line over the bars; "
              "the orange handle is the step shown (click or drag to move)"),
        Entry(("tick",), "green tick under a step whose graph differs from the "
              "step before (a structure change)"),
        Entry(("text", "T", "trace"), "<b>T</b>, TensorFlow traced its graph at this "
              "step (the first trace)"),
        Entry(("text", "R", "retrace"), "<b>R</b>, a TensorFlow <b>retrace</b>: a "
              "new graph was built for this call (new input signature); the pane's banner "
              "says why"),
        Entry(("text", "TensorFlow", "label"), "side by side, <b>one row per "
              "pane</b>, named by framework, with its own bars, ticks, marks and loss; under "
              "the name, how many structures (PyTorch) or traces and retraces (TensorFlow)"),
    ]),
]


def swatch_items(spec: tuple, theme: Theme) -> list[QGraphicsItem]:
    """The canvas items that draw one legend swatch, centred on (0, 0)."""
    what = spec[0]
    if what == "node":
        kind, phase, label, detail = spec[1:5]
        w, h = measure(("▸ " if kind == "group" else "") + label, detail, kind == "group")
        it = NodeItem(f"legend:{kind}", label, detail, kind, phase, min(w, SWATCH.width() - 14),
                      h, theme)
        if len(spec) > 5:
            if spec[5] in ("active", "done"):
                it.set_state(spec[5])
            else:
                it.set_flag(spec[5], True)
        return [it]
    if what == "edge":
        phase = {"gradient": "backward", "update": "update"}.get(spec[1], "forward")
        pts = [(-46.0, 0.0), (-15.0, 0.0), (15.0, 0.0), (38.0, 0.0), (46.0, 0.0)]
        return [EdgeLayer([make_arrow(("a", "b"), pts, spec[1], phase, [64, 100])], theme)]
    if what == "frame":
        return [ClusterItem("forward:hidden", "hidden", "hidden", QRectF(-50, -20, 100, 40),
                            "forward", theme)]
    if what == "callout":
        c = CalloutItem(theme)
        c.setText(spec[1])
        c.setPos(-c.boundingRect().width() / 2, -c.boundingRect().height() / 2)
        return [c]
    if what == "tick":
        return _tick_items(theme)
    return [_text_item(spec[1], spec[2] if len(spec) > 2 else "", theme)]


def _text_item(text: str, style: str, theme: Theme) -> QGraphicsSimpleTextItem:
    """A piece of text as the canvas, timeline or pane title draws it, centred on (0, 0)."""
    t = QGraphicsSimpleTextItem(text)
    t.setFont(label_font() if style == "label" else
              bold_detail_font() if style in ("trace", "retrace") else detail_font())
    color = QColor(RETRACE if style == "retrace" else theme.text)
    if style == "count":
        color = QColor(theme.phase["forward"])
        color.setAlpha(70)
        color = color.lighter(180) if theme.dark else color.darker(150)
    elif style == "same":
        color = QColor("#2b9a48")
    elif style == "loss":
        color = QColor(theme.kind["loss"])
    t.setBrush(color)
    r = t.boundingRect()
    t.setPos(-r.width() / 2, -r.height() / 2)
    return t


def _tick_items(theme: Theme) -> list[QGraphicsItem]:
    """A timeline bar with the green 'graph changed' tick under it."""
    bar_col = QColor(theme.phase["forward"])
    bar_col.setAlpha(70)
    out: list[QGraphicsItem] = []
    for rect, color in ((QRectF(-8, -16, 16, 24), bar_col), (QRectF(-8, 11, 16, 3), theme.added)):
        it = QGraphicsRectItem(rect)
        it.setPen(Qt.PenStyle.NoPen)
        it.setBrush(color)
        out.append(it)
    return out


class Swatch(QWidget):
    """A fixed-size picture of one legend entry, painted by the canvas's items."""

    def __init__(self, spec: tuple, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(SWATCH)
        self.scene = QGraphicsScene(self)
        self.scene.setBackgroundBrush(theme.background)
        for it in swatch_items(spec, theme):
            self.scene.addItem(it)

    def paintEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        target = QRectF(self.rect())
        source = QRectF(target)
        source.moveCenter(QRectF(0, 0, 0, 0).center())
        self.scene.render(p, target, source)


class LegendPanel(QScrollArea):
    """Every legend section, one swatch and one sentence per row, in a scroll area."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        """Redraw every swatch with theme."""
        self.theme = theme
        body = QWidget()
        body.setObjectName("legend_body")
        body.setStyleSheet(f"#legend_body {{ background: {theme.background.name()}; }}")
        col = QVBoxLayout(body)
        col.setContentsMargins(8, 6, 8, 8)
        col.setSpacing(2)
        for title, entries in SECTIONS:
            head = QLabel(title)
            head.setStyleSheet(f"color: {theme.muted.name()}; font-weight: bold; "
                               "padding-top: 6px;")
            col.addWidget(head)
            grid = QGridLayout()
            grid.setHorizontalSpacing(8)
            grid.setVerticalSpacing(2)
            for row, e in enumerate(entries):
                grid.addWidget(Swatch(e.swatch, theme), row, 0)
                text = QLabel(e.text)
                text.setWordWrap(True)
                text.setStyleSheet(f"color: {theme.text.name()};")
                grid.addWidget(text, row, 1)
            grid.setColumnStretch(1, 1)
            col.addLayout(grid)
        col.addStretch(1)
        self.setWidget(body)

    def entry_count(self) -> int:
        """How many rows the legend explains."""
        return sum(len(entries) for _, entries in SECTIONS)


def make_legend_dock(win, theme: Theme) -> QDockWidget:
    """The legend in a dock (objectName 'legend', so the window's saved state remembers it)."""
    dock = QDockWidget("Legend", win)
    dock.setObjectName("legend")
    dock.setWidget(LegendPanel(theme))
    dock.setMinimumWidth(300)
    return dock
