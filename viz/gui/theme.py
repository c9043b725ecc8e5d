"""Colours and fonts for the light and dark themes, by node kind and phase."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

PHASE_HUES = {"forward": "#2f6fdf", "backward": "#e8590c", "update": "#2b9a48"}
KIND_HUES = {
    "input": "#0c9a8a",
    "parameter": "#c99a06",
    "constant": "#868e96",
    "loss": "#d6336c",
    "output": "#5c5fd6",
    "grad_acc": "#e8590c",
    "update": "#2b9a48",
}


@dataclass
class Theme:
    """Every colour the canvas, timeline and panels draw with."""

    name: str
    background: QColor
    grid: QColor
    text: QColor
    muted: QColor
    node_fill: QColor
    cluster_fill: QColor
    cluster_border: QColor
    edge: QColor
    highlight: QColor
    added: QColor
    removed: QColor
    dark: bool
    phase: dict[str, QColor] = field(default_factory=dict)
    kind: dict[str, QColor] = field(default_factory=dict)

    def hue(self, kind: str, phase: str) -> QColor:
        """The identifying colour of a node: its kind's colour, else its phase's."""
        if kind in ("op", "group"):
            return self.phase.get(phase, self.muted)
        return self.kind.get(kind, self.phase.get(phase, self.muted))

    def tint(self, color: QColor, amount: float) -> QColor:
        """Blend color into the node background; amount 0 = background, 1 = color."""
        base = self.node_fill
        return QColor.fromRgbF(
            base.redF() + (color.redF() - base.redF()) * amount,
            base.greenF() + (color.greenF() - base.greenF()) * amount,
            base.blueF() + (color.blueF() - base.blueF()) * amount,
        )


def make_theme(name: str) -> Theme:
    """The 'light' or 'dark' theme (anything else falls back to light)."""
    dark = name == "dark"
    phase = {k: QColor(v) for k, v in PHASE_HUES.items()}
    kind = {k: QColor(v) for k, v in KIND_HUES.items()}
    if dark:
        phase["forward"] = QColor("#5b9cff")
        phase["backward"] = QColor("#ff8a3d")
        phase["update"] = QColor("#4cc46a")
        kind["parameter"] = QColor("#f0c419")
        kind["grad_acc"] = QColor("#ff8a3d")
        kind["update"] = QColor("#4cc46a")
        return Theme("dark", QColor("#1b1e23"), QColor("#252a31"), QColor("#e6e8eb"),
                     QColor("#8b949e"), QColor("#262b33"), QColor(255, 255, 255, 10),
                     QColor("#3a414c"), QColor("#6e7681"), QColor("#ffd43b"), QColor("#51cf66"),
                     QColor("#ff6b6b"), True, phase, kind)
    return Theme("light", QColor("#fafbfc"), QColor("#eef0f3"), QColor("#1f2328"),
                 QColor("#6a737d"), QColor("#ffffff"), QColor(20, 40, 80, 10),
                 QColor("#c9d1d9"), QColor("#8c959f"), QColor("#f59f00"), QColor("#2f9e44"),
                 QColor("#e03131"), False, phase, kind)


def label_font() -> QFont:
    """Font of a node's name line."""
    f = QFont("DejaVu Sans")
    f.setPixelSize(12)
    f.setWeight(QFont.Weight.DemiBold)
    return f


def detail_font() -> QFont:
    """Font of a node's op/shape line."""
    f = QFont("DejaVu Sans")
    f.setPixelSize(10)
    return f


def apply_palette(app: QApplication, theme: Theme) -> None:
    """Give the widgets a palette that matches the canvas."""
    app.setStyle("Fusion")
    pal = QPalette()
    if theme.dark:
        window, base, text = QColor("#22262c"), QColor("#1b1e23"), QColor("#e6e8eb")
        pal.setColor(QPalette.ColorRole.Window, window)
        pal.setColor(QPalette.ColorRole.WindowText, text)
        pal.setColor(QPalette.ColorRole.Base, base)
        pal.setColor(QPalette.ColorRole.AlternateBase, window)
        pal.setColor(QPalette.ColorRole.Text, text)
        pal.setColor(QPalette.ColorRole.Button, QColor("#2d323a"))
        pal.setColor(QPalette.ColorRole.ButtonText, text)
        pal.setColor(QPalette.ColorRole.ToolTipBase, QColor("#2d323a"))
        pal.setColor(QPalette.ColorRole.ToolTipText, text)
        pal.setColor(QPalette.ColorRole.Highlight, QColor("#3d6fb6"))
        pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        pal.setColor(QPalette.ColorRole.Link, QColor("#79b8ff"))
        pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8b949e"))
        pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText,
                     QColor("#6e7681"))
        pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText,
                     QColor("#6e7681"))
    else:
        pal = app.style().standardPalette()
    app.setPalette(pal)
