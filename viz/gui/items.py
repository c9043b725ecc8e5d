"""The scene's graphics items: node boxes, arrows, scope clusters and travelling pulses."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graphstage.viz.gui.lod import (
    ANTIALIAS,
    CENTER,
    DASH,
    DEVICE_CACHE,
    ELIDE_MIDDLE,
    ELIDE_RIGHT,
    LOD_SHADOW,
    LOD_SIMPLE,
    MIN_TEXT_PX,
    NO_BRUSH,
    NO_PEN,
    SELECTABLE,
    TITLE_PX,
    paint_frame,
    screen_scale,
)
from graphstage.viz.gui.theme import Theme, detail_font, label_font

NODE_H = 38
GROUP_H = 44
MIN_W, MAX_W, PAD = 64, 250, 18

_LABEL_FM: QFontMetricsF | None = None
_DETAIL_FM: QFontMetricsF | None = None


def _metrics() -> tuple[QFontMetricsF, QFontMetricsF]:
    global _LABEL_FM, _DETAIL_FM
    if _LABEL_FM is None:
        _LABEL_FM, _DETAIL_FM = QFontMetricsF(label_font()), QFontMetricsF(detail_font())
    return _LABEL_FM, _DETAIL_FM  # type: ignore[return-value]


def measure(label: str, detail: str, group: bool = False) -> tuple[float, float]:
    """Box size for a label and detail line, from Qt's font metrics (main thread)."""
    lf, df = _metrics()
    w = max(lf.horizontalAdvance(label) + (16 if group else 0), df.horizontalAdvance(detail))
    return float(min(MAX_W, max(MIN_W, math.ceil(w) + PAD))), float(GROUP_H if group else NODE_H)


_OUTLINES: dict[tuple[str, float, float], QPainterPath] = {}


def holder() -> QGraphicsRectItem:
    """An empty parent item (no contents, no pen: it adds nothing to the scene's bounds)."""
    item = QGraphicsRectItem()
    item.setPen(NO_PEN)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
    return item


def _outline(kind: str, w: float, h: float) -> QPainterPath:
    """A box's outline by kind (shared between boxes of one size: paths copy on write)."""
    r = QRectF(-w / 2, -h / 2, w, h)
    p = QPainterPath()
    if kind in ("loss", "update"):
        p.addRoundedRect(r, h / 2, h / 2)
    elif kind == "parameter":
        c = 9.0
        p.addPolygon(QPolygonF([QPointF(r.left() + c, r.top()), QPointF(r.right() - c, r.top()),
                                QPointF(r.right(), r.top() + c),
                                QPointF(r.right(), r.bottom() - c),
                                QPointF(r.right() - c, r.bottom()),
                                QPointF(r.left() + c, r.bottom()),
                                QPointF(r.left(), r.bottom() - c),
                                QPointF(r.left(), r.top() + c)]))
        p.closeSubpath()
    elif kind == "input":
        s = 8.0
        p.addPolygon(QPolygonF([QPointF(r.left() + s, r.top()), QPointF(r.right(), r.top()),
                                QPointF(r.right() - s, r.bottom()),
                                QPointF(r.left(), r.bottom())]))
        p.closeSubpath()
    else:
        p.addRoundedRect(r, 6, 6)
    return p


class NodeItem(QGraphicsPathItem):
    """A box for one step-graph node or a collapsed scope, drawn by kind, phase and state.

    Its bounding rect comes from Qt (a path item), so the scene finds exposed boxes without
    calling into Python; paint() draws less as the zoom drops (see MIN_TEXT_PX, LOD_SIMPLE).
    """

    MARGIN = 7.0

    def __init__(self, key: str, label: str, detail: str, kind: str, phase: str,
                 w: float, h: float, theme: Theme) -> None:
        super().__init__()
        self.key, self.label, self.detail, self.kind, self.phase = key, label, detail, kind, phase
        self.w, self.h, self.theme = w, h, theme
        self.state = "idle"            # idle | active | done
        self.highlighted = False       # search match
        self.added = False             # new in this step (diff marker)
        self.overlay: QColor | None = None
        self.progress: tuple[int, int] | None = None   # (ops run, ops) while a group plays
        self.note: str | None = None   # a figure shown first on the detail line (overlays)
        self.drew_text = False         # whether the last paint drew the label (level of detail)
        self.layer = None              # the BoxLayer drawing this box when far away, if any
        self.setFlag(SELECTABLE)
        self.setAcceptHoverEvents(True)
        # repaints of unchanged boxes (pans, zooms, full frames) copy a pixmap, not paint()
        self.setCacheMode(DEVICE_CACHE)
        self.setZValue(2)
        self.setToolTip(f"{label}\n{detail}\nkey: {key}")
        self._shape = self._outline()
        # the item's path is only its bounding box (outline plus glow and shadow margin), so
        # Qt computes the bounding rect itself; shape() (hit tests) and paint() use the outline
        m = self.MARGIN
        bounds = QPainterPath()
        bounds.addRect(QRectF(-w / 2 - m, -h / 2 - m, w + 2 * m, h + 2 * m))
        self.setPath(bounds)
        self.setPen(NO_PEN)

    @property
    def is_group(self) -> bool:
        return self.kind == "group"

    def shape(self) -> QPainterPath:
        return self._shape

    def _outline(self) -> QPainterPath:
        key = (self.kind, self.w, self.h)
        path = _OUTLINES.get(key)
        if path is None:
            path = _OUTLINES[key] = _outline(self.kind, self.w, self.h)
        return path

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._changed()

    def set_flag(self, name: str, value: object) -> None:
        """Set highlighted / added / overlay / progress and repaint if it changed."""
        if getattr(self, name) != value:
            setattr(self, name, value)
            self._changed()

    def _changed(self) -> None:
        # hidden in a box layer: tell the layer only (an update() of a hidden child makes Qt
        # walk all its thousands of siblings every frame)
        if self.layer is not None:
            self.layer.changed(self)
        else:
            self.update()

    def far_fill(self) -> QColor:
        """The colour of the plain far-away rectangle."""
        hue, fill, _ = self._colors()
        return hue if self.state == "active" and self.overlay is None else fill

    def _colors(self) -> tuple[QColor, QColor, QColor]:
        """(hue, fill, text) for the current state and overlay."""
        t = self.theme
        hue = t.hue(self.kind, self.phase)
        if self.overlay is not None:
            return hue, self.overlay, _contrast(self.overlay)
        if self.state == "active":
            return hue, hue, QColor("white")
        if self.state == "done":
            return hue, t.tint(hue, 0.42 if t.dark else 0.30), t.text
        return hue, t.tint(hue, 0.16 if t.dark else 0.09), t.text

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = screen_scale(painter, option)
        hue, fill, text = self._colors()
        self.drew_text = False
        if lod < LOD_SIMPLE:
            self._paint_simple(painter, lod, hue, fill, text)
            return
        t = self.theme
        painter.setRenderHint(ANTIALIAS, lod > 0.3)   # crisp (and cheaper) when small
        if self.state == "active":
            glow = QColor(hue)
            glow.setAlpha(90)
            painter.setPen(QPen(glow, 8))
            painter.setBrush(NO_BRUSH)
            painter.drawPath(self._shape)
        if self.is_group and lod >= LOD_SHADOW:
            painter.setPen(QPen(hue, 1.2))
            painter.setBrush(t.tint(hue, 0.05))
            painter.drawPath(self._shape.translated(4, 4))
        pen = QPen(hue, 2.2 if self.kind in ("parameter", "loss", "group") else 1.3)
        if self.kind in ("grad_acc", "constant"):
            pen.setStyle(DASH)
        if self.isSelected():
            pen = QPen(t.highlight, 3)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawPath(self._shape)
        if self.highlighted:
            # a search match's ring stays at least 2.5 px wide on screen
            ring = min(max(3.5, 2.5 / lod), 2 * (self.MARGIN - 5))
            painter.setPen(QPen(t.highlight, ring))
            painter.setBrush(NO_BRUSH)
            painter.drawRoundedRect(QRectF(-self.w / 2, -self.h / 2, self.w, self.h)
                                    .adjusted(-5, -5, 5, 5), 9, 9)
        if self.added:
            self._paint_added(painter)
        self._paint_progress(painter, lod, hue)
        if self.is_group and 12 * lod < TITLE_PX:
            self._paint_title(painter, lod, text)
        elif 12 * lod >= MIN_TEXT_PX:
            self._paint_text(painter, lod, text)

    def _paint_simple(self, painter: QPainter, lod: float, hue: QColor, fill: QColor,
                      text: QColor) -> None:
        """Far away: a plain rectangle in the state's colour (a group keeps its title, a
        search match or selection a ring at least 3 px wide on screen)."""
        painter.setRenderHint(ANTIALIAS, False)
        r = QRectF(-self.w / 2, -self.h / 2, self.w, self.h)
        painter.setPen(QPen(hue, 0) if lod > 0.08 else NO_PEN)
        painter.setBrush(self.far_fill())
        painter.drawRect(r)
        if self.highlighted or self.isSelected():
            ring = min(3.0 / max(lod, 1e-3), self.MARGIN * 2)
            painter.setPen(QPen(self.theme.highlight, ring))
            painter.setBrush(NO_BRUSH)
            painter.drawRect(r.adjusted(-ring / 4, -ring / 4, ring / 4, ring / 4))
        self._paint_progress(painter, lod, hue)
        if self.is_group:
            self._paint_title(painter, lod, text)

    def _paint_added(self, painter: QPainter) -> None:
        c = QPointF(self.w / 2 - 2, -self.h / 2 + 2)
        painter.setPen(NO_PEN)
        painter.setBrush(self.theme.added)
        painter.drawEllipse(c, 6.5, 6.5)
        painter.setPen(QPen(QColor("white"), 1.8))
        painter.drawLine(c + QPointF(-3.5, 0), c + QPointF(3.5, 0))
        painter.drawLine(c + QPointF(0, -3.5), c + QPointF(0, 3.5))

    def _paint_progress(self, painter: QPainter, lod: float, hue: QColor) -> None:
        """A playing group's fill bar along its bottom edge (ops run / ops)."""
        if self.progress is None:
            return
        done, total = self.progress
        bar_h = min(max(3.0, 3.0 / max(lod, 1e-3)), self.h / 3)
        r = QRectF(-self.w / 2 + 4, self.h / 2 - 1.5 - bar_h, self.w - 8, bar_h)
        painter.setPen(NO_PEN)
        back = QColor(self.theme.background)
        back.setAlpha(200)
        painter.setBrush(back)
        painter.drawRect(r)
        painter.setBrush(self.theme.tint(hue, 0.85) if self.state == "active" else hue)
        painter.drawRect(QRectF(r.left(), r.top(), r.width() * done / max(total, 1), r.height()))

    def _paint_title(self, painter: QPainter, lod: float, text: QColor) -> None:
        """A group's name at least TITLE_PX tall on screen, if it fits inside the box."""
        size = TITLE_PX / max(lod, 1e-3)
        if size > self.h * 0.62 or self.w * lod < 24:
            return
        f = label_font()
        f.setPixelSize(max(1, round(size)))
        painter.setFont(f)
        painter.setPen(text)
        label = QFontMetricsF(f).elidedText(self.label, ELIDE_MIDDLE,
                                            self.w - 6)
        painter.drawText(QRectF(-self.w / 2, -self.h / 2, self.w, self.h * 0.8),
                         CENTER, label)
        self.drew_text = True

    def _paint_text(self, painter: QPainter, lod: float, text: QColor) -> None:
        lf, df = _metrics()
        inner = self.w - PAD + 4
        painter.setPen(text)
        painter.setFont(label_font())
        top = -self.h / 2
        label = "▸ " + self.label if self.is_group else self.label
        label = lf.elidedText(label, ELIDE_MIDDLE, inner)
        painter.drawText(QRectF(-self.w / 2, top + 4, self.w, 18),
                         CENTER, label)
        self.drew_text = True
        detail = self.detail
        if self.progress is not None:
            detail = f"{self.progress[0]}/{self.progress[1]} ops"
        elif self.note:
            detail = f"{self.note} · {detail}"
        if detail and 10 * lod >= MIN_TEXT_PX:
            sub = QColor(text)
            sub.setAlphaF(0.72)
            painter.setPen(sub)
            painter.setFont(detail_font())
            detail = df.elidedText(detail, ELIDE_RIGHT, inner)
            painter.drawText(QRectF(-self.w / 2, top + 20, self.w, 14),
                             CENTER, detail)


def _contrast(c: QColor) -> QColor:
    return QColor("black") if c.lightnessF() > 0.55 else QColor("white")


class ClusterItem(QGraphicsItem):
    """A scope's box with its name; double-click collapses the scope."""

    def __init__(self, cid: str, scope: str, title: str, rect: QRectF, phase: str,
                 theme: Theme) -> None:
        super().__init__()
        self.cid, self.scope, self.title, self.rect, self.phase = cid, scope, title, rect, phase
        self.theme = theme
        self.drew_title = False        # whether the last paint drew the title (level of detail)
        self.nested = False            # inside another frame: its title stays near normal size
        self.setZValue(0)
        self.setToolTip(f"{scope} ({phase}) — double-click to collapse")

    def boundingRect(self) -> QRectF:
        return self.rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        self.drew_title = paint_frame(painter, screen_scale(painter, option), self.rect,
                                      self.phase, self.title, self.nested, self.theme)


class PulseItem(QGraphicsItem):
    """A glowing dot that travels along an edge while its tensor is produced."""

    R = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.color = QColor("white")
        self.setZValue(5)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        r = self.R + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def set_color(self, c: QColor) -> None:
        if c != self.color:
            self.color = QColor(c)
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(ANTIALIAS)
        halo = QColor(self.color)
        halo.setAlpha(80)
        painter.setPen(NO_PEN)
        painter.setBrush(halo)
        painter.drawEllipse(QPointF(0, 0), self.R + 3.5, self.R + 3.5)
        painter.setBrush(QBrush(self.color))
        painter.drawEllipse(QPointF(0, 0), self.R, self.R)


class CalloutItem(QGraphicsItem):
    """The executing node's value summary: text on an opaque box above every other item, so it
    stays readable where it overlaps a neighbour."""

    PAD = 4.0

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self._text = ""
        self._rect = QRectF()
        self.setZValue(10)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        self.prepareGeometryChange()
        self._text = text
        size = QFontMetricsF(detail_font()).size(0, text)
        self._rect = QRectF(0, 0, size.width() + 2 * self.PAD, size.height() + 2 * self.PAD)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setPen(QPen(self.theme.muted, 1))
        painter.setBrush(self.theme.background)
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setPen(self.theme.text)
        painter.setFont(detail_font())
        painter.drawText(self._rect, CENTER, self._text)
