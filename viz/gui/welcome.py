"""The welcome view shown while nothing is loaded: every bundled example with what it shows.

Examples are grouped by model, PyTorch on the left and TensorFlow on the right; a click opens
one, "side by side" opens a PyTorch example next to its TensorFlow twin.
"""

from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

# one sentence per example: the claim the example makes visible
CLAIMS = {
    "mul_torch": "c = a·b → 300; autograd gives dc/da = 20, dc/db = 15",
    "mul_tf": "c = a·b → 300, dc/da = 20, dc/db = 15 from a GradientTape in a tf.function",
    "mul_tf1": "c = a·b → 300, dc/da = 20, dc/db = 15 with TF1 placeholders, tf.gradients and "
               "Session.run",
    "linreg_torch": "y = m·x + b: two registered Parameters, MSE, a hand-written update",
    "linreg_tf": "y = w·x + b: tf.Variables captured by the tf.function, a GradientTape, a "
                 "hand-written update",
    "dynamicnet_torch": "PyTorch builds a new graph every forward: the hidden layer runs 0–3 "
                        "times per step",
    "dynamicnet_tf": "tf.function freezes the random depth when it traces: every step runs "
                     "the same graph",
    "dynamicnet_while_tf": "The depth drawn inside the graph: a tf.while_loop whose body is the "
                           "shared hidden layer",
    "mnist_mlp_torch": "A hand-written training loop: Linear 512, ReLU, Linear 10, "
                       "cross-entropy, RMSprop",
    "mnist_mlp_tf": "Keras fit(): the traced step is fit()'s own train function, RMSprop "
                    "updates included",
    "cnn_torch": "Conv, BatchNorm, ReLU and pooling stages trained with SGD momentum",
    "cnn_tf": "The same CNN in Keras, trained in one tf.function step",
    "resnet18_torch": "ResNet-18 with torchvision's module names; residual stages fold into "
                      "boxes",
    "resnet18_tf": "ResNet-18 in Keras' functional API, one fit() step",
    "gpt_torch": "A 12-block GPT decoder: causal self-attention, GELU MLP, AdamW",
    "gpt_tf": "The same 12-block GPT in Keras, one tf.function step with AdamW",
}

FAMILIES = [  # (title, example name prefix), in the order a newcomer should try them
    ("c = a · b", "mul"),
    ("DynamicNet", "dynamicnet"),
    ("Linear regression", "linreg"),
    ("MNIST MLP", "mnist_mlp"),
    ("CNN", "cnn"),
    ("ResNet-18", "resnet18"),
    ("GPT", "gpt"),
]


def example_claim(name: str) -> str:
    """The one-line claim of an example (its docstring's first line when none is written)."""
    if name in CLAIMS:
        return CLAIMS[name]
    from graphstage.tracers.script import example_path
    doc = ast.get_docstring(ast.parse(Path(example_path(name)).read_text(encoding="utf-8")))
    return (doc or name).strip().splitlines()[0]


def family_rows(names: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """(title, PyTorch examples, TensorFlow examples) per model; unknown ones go last."""
    rows, used = [], set()
    for title, prefix in FAMILIES:
        mine = [n for n in names if n == prefix or n.startswith(prefix + "_")]
        used.update(mine)
        torch = [n for n in mine if n.endswith("_torch")]
        if mine:
            rows.append((title, torch, [n for n in mine if n not in torch]))
    rest = [n for n in names if n not in used]
    if rest:
        rows.append(("More", [n for n in rest if n.endswith("_torch")],
                     [n for n in rest if not n.endswith("_torch")]))
    return rows


class ExampleCard(QFrame):
    """A clickable card: the example's name and its claim."""

    clicked = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setObjectName("card")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Open {name}")
        col = QVBoxLayout(self)
        col.setContentsMargins(12, 8, 12, 9)
        col.setSpacing(3)
        title = QLabel(f"<b>{name}</b>")
        title.setObjectName("card_title")
        self.claim = QLabel(example_claim(name))
        self.claim.setWordWrap(True)
        col.addWidget(title)
        col.addWidget(self.claim)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit(self.name)
        super().mouseReleaseEvent(event)


def style_sheet(pal: QPalette) -> str:
    """The welcome page's style in the current palette's colours (light or dark theme)."""
    c = {k: pal.color(r).name() for k, r in (
        ("base", QPalette.ColorRole.Base), ("window", QPalette.ColorRole.Window),
        ("text", QPalette.ColorRole.Text), ("mid", QPalette.ColorRole.Mid),
        ("hi", QPalette.ColorRole.Highlight), ("link", QPalette.ColorRole.Link))}
    text, base = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
    c["muted"] = QColor((text.red() + base.red()) // 2, (text.green() + base.green()) // 2,
                        (text.blue() + base.blue()) // 2).name()
    return f"""
#welcome_body {{ background: {c['base']}; }}
#welcome_body QLabel {{ color: {c['text']}; }}
#card {{ border: 1px solid {c['mid']}; border-radius: 8px; background: {c['window']}; }}
#card:hover {{ border: 1px solid {c['hi']}; }}
#card_title {{ font-family: 'DejaVu Sans Mono'; font-size: 13px; }}
#family {{ font-size: 14px; font-weight: bold; padding-top: 10px; }}
#welcome_body QLabel#colhead {{ color: {c['muted']}; font-weight: bold; }}
#twin {{ color: {c['link']}; border: none; padding: 2px 6px; }}
#twin:hover {{ text-decoration: underline; }}
"""


class WelcomeView(QScrollArea):
    """Title, the examples grouped by model, and Open file…; shown until something loads."""

    exampleChosen = Signal(str, bool)    # example name, side by side with its twin
    openRequested = Signal()

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.cards: dict[str, ExampleCard] = {}
        body = QWidget()
        body.setObjectName("welcome_body")
        self.body = body
        self._restyle()
        outer = QHBoxLayout(body)
        page = QVBoxLayout()
        outer.addStretch(1)
        outer.addLayout(page, 12)
        outer.addStretch(1)
        head = QLabel("<span style='font-size:26px; font-weight:bold'>graphstage</span><br>"
                      "Watch what PyTorch and TensorFlow build and run in one training step. "
                      "Pick an example: each card says what it shows.<br>New here? Open "
                      "<b>DynamicNet ⇆ side by side</b>: PyTorch's graph changes from step to "
                      "step, TensorFlow's stays the one it traced.")
        head.setWordWrap(True)
        page.addWidget(head)
        page.addLayout(self._open_row())
        page.addLayout(self._grid(names))
        tip = QLabel("The <b>Legend</b> (F1) explains every colour, shape and badge. "
                     "<b>Space</b> plays a step, <b>← / →</b> change step, double-click "
                     "a box to open it.")
        tip.setWordWrap(True)
        page.addWidget(tip)
        page.addStretch(1)
        self.setWidget(body)

    def _restyle(self) -> None:
        self.body.setStyleSheet(style_sheet(QApplication.palette()))

    def changeEvent(self, event: QEvent) -> None:
        """Follow the theme: the window changes the application palette."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        super().changeEvent(event)

    def _open_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.open_button = QPushButton("Open file…")
        self.open_button.setToolTip("Open your own model script (.py) or a saved trace (.json)")
        self.open_button.clicked.connect(self.openRequested)
        row.addWidget(self.open_button)
        row.addWidget(QLabel("your own model script (.py) or a saved trace (.json)"))
        row.addStretch(1)
        return row

    def _grid(self, names: list[str]) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        for c, text in enumerate(("PyTorch", "TensorFlow")):
            h = QLabel(text)
            h.setObjectName("colhead")
            grid.addWidget(h, 0, c)
        row = 1
        for title, torch, tf in family_rows(names):
            fam = QHBoxLayout()
            label = QLabel(title)
            label.setObjectName("family")
            fam.addWidget(label)
            twin = next((n for n in torch if n[: -len("_torch")] + "_tf" in tf), None)
            if twin is not None:
                both = QPushButton("⇆ side by side")
                both.setObjectName("twin")
                both.setFlat(True)
                both.setCursor(Qt.CursorShape.PointingHandCursor)
                both.setToolTip(f"Open {twin} and its TensorFlow twin together")
                both.clicked.connect(lambda _=False, n=twin: self.exampleChosen.emit(n, True))
                fam.addWidget(both, 0, Qt.AlignmentFlag.AlignBottom)
            fam.addStretch(1)
            grid.addLayout(fam, row, 0, 1, 2)
            row += 1
            for c, names_ in enumerate((torch, tf)):
                cell = QVBoxLayout()
                cell.setSpacing(6)
                for n in names_:
                    card = ExampleCard(n)
                    card.clicked.connect(lambda n: self.exampleChosen.emit(n, False))
                    self.cards[n] = card
                    cell.addWidget(card)
                cell.addStretch(1)
                grid.addLayout(cell, row, c)
            row += 1
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        return grid


class _Cover(QObject):
    """Keeps the welcome view over the panes' area as the window resizes."""

    def __init__(self, view: QWidget, target: QWidget) -> None:
        super().__init__(view)
        self.view, self.target = view, target
        target.installEventFilter(self)
        self.follow()

    def follow(self) -> None:
        self.view.setGeometry(self.target.geometry())
        self.view.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Move, QEvent.Type.Show):
            self.follow()
        return False


def attach_welcome(win) -> WelcomeView:
    """Lay a welcome view over the panes until something loads.

    The panes stay in place underneath (so a graph opens at the right size) and the view hides
    as soon as the first pane gets a session, however it was given one."""
    from graphstage.tracers.script import example_path, list_examples

    view = WelcomeView(list_examples(), win.splitter.parentWidget())
    view.cover = _Cover(view, win.splitter)
    view.exampleChosen.connect(
        lambda n, both: win.open_path(str(example_path(n)), compare=both))
    view.openRequested.connect(win.open_dialog)
    win.panes[0].controller.sessionChanged.connect(lambda: view.setVisible(False))
    return view


def show_welcome(win, shown: bool) -> None:
    """Show the welcome view (nothing loaded) or uncover the panes."""
    view = getattr(win, "welcome", None)
    if view is not None:
        view.setVisible(shown)
        if shown:
            view.cover.follow()


def restore_if_empty(win) -> None:
    """After a failed or cancelled load, show the welcome again if no pane has a session."""
    if all(p.controller.session is None for p in win.panes):
        show_welcome(win, True)
