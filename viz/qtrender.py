"""Render Graphviz SVG to PDF or PNG with Qt, for engines that lack those outputs or fonts.

graphviz-pure writes no PDF, and its own PNG renderer only has the Arimo/Cousine/Tinos fonts
(no '∇', no CJK); Qt draws the same SVG with the system's fonts and their fallbacks. Qt is
imported only when one of these functions runs, with the offscreen platform if no
QGuiApplication exists yet.
"""

from __future__ import annotations

import math
import os
from typing import Any

from graphstage.viz import qtfix
from graphstage.viz.graphviz import GraphvizError

_app: Any = None  # a QGuiApplication created here, kept alive for later conversions


def available() -> bool:
    """Whether PySide6 with QtSvg can be imported."""
    try:
        import PySide6.QtSvg  # noqa: F401
    except ImportError:
        return False
    return True


def _renderer(svg: bytes) -> Any:
    global _app
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    qtfix.apply()
    from PySide6.QtCore import QByteArray
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:  # a QApplication, so widgets may follow in-process
        _app = QApplication([])
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise GraphvizError("Qt could not read the engine's SVG; export SVG instead or install "
                            "Graphviz ('apt-get install graphviz') for its own PDF/PNG output")
    return renderer


def svg_to_pdf(svg: bytes, max_side_pt: float = 200 * 72) -> bytes:
    """A one-page vector PDF of a Graphviz SVG (its user units are points), page capped in size."""
    from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QRectF, QSizeF
    from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter

    renderer = _renderer(svg)
    box = renderer.viewBoxF()
    scale = min(1.0, max_side_pt / max(box.width(), box.height(), 1.0))
    width, height = max(box.width() * scale, 1.0), max(box.height() * scale, 1.0)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setCreator("graphstage")
    writer.setResolution(72)
    writer.setPageLayout(QPageLayout(QPageSize(QSizeF(width, height), QPageSize.Unit.Point),
                                     QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
    painter = QPainter(writer)
    renderer.render(painter, QRectF(0, 0, width, height))
    painter.end()
    buffer.close()
    return bytes(buffer.data())


def svg_to_png(svg: bytes, dpi: float, max_side: int, max_pixels: int) -> bytes:
    """A PNG of a Graphviz SVG at ``dpi``, scaled down to fit max_side and max_pixels."""
    from PySide6.QtCore import QBuffer, QIODevice, QRectF
    from PySide6.QtGui import QColor, QImage, QPainter

    renderer = _renderer(svg)
    box = renderer.viewBoxF()
    width, height = max(box.width(), 1.0) * dpi / 72, max(box.height(), 1.0) * dpi / 72
    scale = min(1.0, max_side / max(width, height), math.sqrt(max_pixels / (width * height)))
    width, height = max(1, round(width * scale)), max(1, round(height * scale))
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    dots_per_meter = round(dpi * scale / 0.0254)
    image.setDotsPerMeterX(dots_per_meter)
    image.setDotsPerMeterY(dots_per_meter)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    renderer.render(painter, QRectF(0, 0, width, height))
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(buffer.data())
