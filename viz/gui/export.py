"""Export what the canvas shows: the whole scene to PNG/SVG/PDF, and frames to an animated GIF.

Everything is rendered from the QGraphicsScene itself, so exported labels are the canvas's labels.
"""

from __future__ import annotations

import struct
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

FORMATS = ("png", "svg", "pdf")
MAX_PX = 12000


def scene_rect(scene: QGraphicsScene) -> QRectF:
    """The whole drawing (not the viewport), with a small margin."""
    return scene.itemsBoundingRect().adjusted(-16, -16, 16, 16)


def render_scene(scene: QGraphicsScene, path: str | Path, fmt: str | None = None,
                 background: QColor | None = None, scale: float = 2.0) -> Path:
    """Write the whole scene to path as png, svg or pdf (by fmt or the file suffix)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot export {fmt!r}; choose one of {', '.join(FORMATS)}")
    rect = scene_rect(scene)
    bg = background or QColor("white")
    # cached items would be pasted as bitmaps: draw them for real so text stays text
    cached = [(it, it.cacheMode()) for it in scene.items()
              if it.cacheMode() != QGraphicsItem.CacheMode.NoCache]
    for it, _mode in cached:
        it.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        _render(scene, rect, path, fmt, bg, scale)
    finally:
        for it, mode in cached:
            it.setCacheMode(mode)
    return path


def _render(scene: QGraphicsScene, rect: QRectF, path: Path, fmt: str, bg: QColor,
            scale: float) -> None:
    if fmt == "png":
        scale = min(scale, MAX_PX / max(rect.width(), rect.height(), 1.0))
        img = QImage(QSize(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale))),
                     QImage.Format.Format_ARGB32)
        img.fill(bg)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        scene.render(p, QRectF(img.rect()), rect)
        p.end()
        if not img.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
    elif fmt == "svg":
        from PySide6.QtSvg import QSvgGenerator
        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(QSize(int(rect.width()), int(rect.height())))
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle("graphstage step graph")
        p = QPainter(gen)
        p.fillRect(QRectF(0, 0, rect.width(), rect.height()), bg)
        scene.render(p, QRectF(0, 0, rect.width(), rect.height()), rect)
        p.end()
    else:
        writer = QPdfWriter(str(path))
        writer.setResolution(72)
        writer.setPageSize(QPageSize(QSizeF(rect.width(), rect.height()), QPageSize.Unit.Point))
        writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
        p = QPainter(writer)
        target = QRectF(0, 0, writer.width(), writer.height())
        p.fillRect(target, bg)
        scene.render(p, target, rect, Qt.AspectRatioMode.KeepAspectRatio)
        p.end()


# ---- animated GIF ------------------------------------------------------------------------------

def _palette() -> bytes:
    cube = [(r * 51, g * 51, b * 51) for r in range(6) for g in range(6) for b in range(6)]
    grays = [(round(i * 255 / 39),) * 3 for i in range(40)]
    return bytes(c for rgb in cube + grays for c in rgb)


def _indices(img: QImage):
    """Map an image to the fixed 216-colour cube + 40 greys."""
    import numpy as np

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
    arr = arr.reshape(h, img.bytesPerLine())[:, : w * 3].reshape(h, w, 3).astype(np.int16)
    q = np.rint(arr / 51.0).astype(np.int16)
    idx = q[..., 0] * 36 + q[..., 1] * 6 + q[..., 2]
    gray = (arr.max(axis=2) - arr.min(axis=2)) < 10
    gidx = 216 + np.rint(arr.mean(axis=2) * 39 / 255).astype(np.int16)
    return np.where(gray, gidx, idx).astype(np.uint16).ravel()


def _lzw(pixels) -> bytes:
    """LZW data of literal 9-bit codes with a clear code every 250 pixels (fast, no table)."""
    import numpy as np

    clear, end, chunk = 256, 257, 250
    n = len(pixels)
    nchunks = (n + chunk - 1) // chunk
    codes = np.empty(n + nchunks + 1, dtype=np.uint16)
    pos = np.arange(n) + np.arange(n) // chunk + 1
    codes[pos] = pixels
    codes[np.arange(nchunks) * (chunk + 1)] = clear
    codes[-1] = end
    bits = ((codes[:, None] >> np.arange(9, dtype=np.uint16)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits, bitorder="little").tobytes()


def write_gif(frames: list[QImage], path: str | Path, delay_ms: int = 60) -> Path:
    """Write frames (same size) as a looping animated GIF."""
    path = Path(path)
    w, h = frames[0].width(), frames[0].height()
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0) + _palette())
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for img in frames:
        if img.width() != w or img.height() != h:
            img = img.scaled(w, h)
        out += b"\x21\xf9\x04\x04" + struct.pack("<H", max(2, delay_ms // 10)) + b"\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x08"
        data = _lzw(_indices(img))
        for i in range(0, len(data), 255):
            block = data[i:i + 255]
            out += bytes([len(block)]) + block
        out += b"\x00"
    out += b"\x3b"
    path.write_bytes(bytes(out))
    return path
