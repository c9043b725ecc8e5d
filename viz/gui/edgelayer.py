"""Every arrow of a scene in one item, drawn by region from a grid index and cached per view.

Ten thousand QGraphicsPathItems take a second to build, and at 100 % zoom every long arrow that
crosses the view was redrawn in each animation frame. One item that draws only the arrows
crossing the exposed rect, under Qt's device-coordinate cache (Qt caches only the viewport's part
of an item bigger than the view and scrolls it), builds in milliseconds and costs an animation
frame nothing. The view asks :meth:`EdgeLayer.edge_at` for hover (tensor shape and role).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from graphstage.viz.gui.lod import (
    ANTIALIAS,
    DASH,
    DEVICE_CACHE,
    DOT,
    LOD_ARROWS,
    LOD_SIMPLE,
    NO_BRUSH,
    NO_PEN,
    screen_scale,
)
from graphstage.viz.gui.theme import Theme

CELL = 400.0        # smallest grid cell (scene px) of the arrow index
HOVER_PX = 4.0      # how close (screen px) the pointer must be to an arrow to hover it
CROWD = 1_500       # more arrows than this in view: drawn as hairlines (a fan of thousands)
EXTENDED = QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption


@dataclass(slots=True)
class Arrow:
    """One edge: its display key, role, phase, tensor shape and Graphviz points (bezier control
    points, then the tip); the curve is built on first paint."""

    key: tuple[str, str]
    role: str
    phase: str
    shape: list | None
    pts: list[tuple[float, float]]
    rect: QRectF
    geo: tuple[QPainterPath, QPolygonF, tuple[QPointF, QPointF]] | None = None
    straight: QLineF | None = None

    def hairline(self) -> QLineF:
        """Tail to tip as one QLineF, made once (crowded and far-away views draw thousands)."""
        if self.straight is None:
            self.straight = QLineF(*self.line())
        return self.straight

    def geometry(self) -> tuple[QPainterPath, QPolygonF, tuple[QPointF, QPointF]]:
        """(curve, arrowhead, tail-to-tip line), built once."""
        if self.geo is None:
            self.geo = arrow_geometry(self.pts)
        return self.geo

    def line(self) -> tuple[QPointF, QPointF]:
        """Tail and tip, straight from the points (no curve built): far-away hairlines."""
        if self.geo is not None:
            return self.geo[2]
        (sx, sy), _, (tx, ty) = _ends(self.pts)
        return QPointF(sx, sy), QPointF(tx, ty)

    def tooltip(self) -> str:
        s = self.shape
        shp = "scalar" if s == [] else ("×".join(map(str, s)) if s else "?")
        return f"{self.role} ({self.phase})\ntensor: [{shp}]\n{self.key[0]} → {self.key[1]}"


@dataclass(slots=True)
class Hairlines:
    """One role's arrows as straight lines, longest first, with their lengths negated (so
    bisect finds how many are at least a given length)."""

    lines: list[QLineF]
    shorter: list[float]

    def reaching(self, length: float) -> list[QLineF]:
        """The lines at least this long."""
        return self.lines[:bisect.bisect_right(self.shorter, -length)]


def make_arrow(key: tuple[str, str], pts: list[tuple[float, float]], role: str, phase: str,
               shape: list | None) -> Arrow:
    """An arrow with its bounding rect (control points, padded for the arrowhead and pen)."""
    xs = [p[0] for p in pts] or [0.0]
    ys = [p[1] for p in pts] or [0.0]
    rect = QRectF(min(xs) - 6, min(ys) - 6, max(xs) - min(xs) + 12, max(ys) - min(ys) + 12)
    return Arrow(key, role, phase, shape, pts, rect)


def arrow_geometry(pts: list[tuple[float, float]]
                   ) -> tuple[QPainterPath, QPolygonF, tuple[QPointF, QPointF]]:
    """The curve through Graphviz's bezier points, the arrowhead at the tip and the straight
    tail-to-tip line (far-away drawing)."""
    path = QPainterPath()
    (sx, sy), (ex, ey), (tx, ty) = _ends(pts)
    if len(pts) < 2:
        return path, QPolygonF(), (QPointF(sx, sy), QPointF(tx, ty))
    body = pts[:-1]
    path.moveTo(*body[0])
    i = 1
    while i + 2 <= len(body) - 1:
        path.cubicTo(*body[i], *body[i + 1], *body[i + 2])
        i += 3
    while i < len(body):
        path.lineTo(*body[i])
        i += 1
    return path, _arrowhead(ex, ey, tx, ty), (QPointF(sx, sy), QPointF(tx, ty))


Point = tuple[float, float]


def _ends(pts: list[Point]) -> tuple[Point, Point, Point]:
    """(tail, where the arrowhead's base aims from, tip) of Graphviz's points: the tip is the
    last point, or, without a separate tip, the curve's end (aimed at along the last segment)."""
    if len(pts) < 2:
        p = pts[0] if pts else (0.0, 0.0)
        return p, p, p
    body, tip = pts[:-1], pts[-1]
    end = body[-1]
    if abs(tip[0] - end[0]) + abs(tip[1] - end[1]) < 0.5:
        end, tip = (body[-2] if len(body) > 1 else (end[0], end[1] - 1)), end
    return body[0], end, tip


def _arrowhead(sx: float, sy: float, tx: float, ty: float) -> QPolygonF:
    dx, dy = tx - sx, ty - sy
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    size, half = 8.0, 4.0
    bx, by = tx - ux * size, ty - uy * size
    return QPolygonF([QPointF(tx, ty), QPointF(bx - uy * half, by + ux * half),
                      QPointF(bx + uy * half, by - ux * half)])


def arrow_color(role: str, theme: Theme) -> QColor:
    """Gradient and update arrows in their phase's colour, the rest in the theme's edge grey."""
    if role in ("gradient", "update"):
        c = QColor(theme.phase.get("backward" if role == "gradient" else "update"))
        c.setAlpha(170)
        return c
    return QColor(theme.edge)


def hairline_color(role: str, theme: Theme) -> QColor:
    """arrow_color made opaque over the canvas background: Qt draws translucent hairlines
    sixteen times slower (48,000 far-away arrows: 700 ms instead of 44)."""
    c, bg = arrow_color(role, theme), theme.background
    a = c.alphaF()
    return QColor.fromRgbF(bg.redF() + (c.redF() - bg.redF()) * a,
                           bg.greenF() + (c.greenF() - bg.greenF()) * a,
                           bg.blueF() + (c.blueF() - bg.blueF()) * a)


def arrow_pen(role: str, theme: Theme, hovered: bool = False) -> QPen:
    """Dotted for saved tensors, dashed for control dependencies; thicker when hovered."""
    pen = QPen(arrow_color(role, theme), 2.6 if hovered else 1.3)
    if role == "saved":
        pen.setStyle(DOT)
    elif role == "control":
        pen.setStyle(DASH)
    return pen


class ArrowIndex:
    """The arrows of one display graph and layout with their spatial index: plain data, built
    in the layout worker (tens of thousands of arrows take a second) and drawn by EdgeLayer."""

    def __init__(self, arrows: Iterable[Arrow]) -> None:
        self.arrows: dict[tuple[str, str], Arrow] = {a.key: a for a in arrows}
        self.order = {k: i for i, k in enumerate(self.arrows)}
        # a loose quadtree: each arrow in the level whose cells are at least its size (at most
        # four cells), so a long arrow costs as little to index as a short one
        self.grid: dict[tuple[int, int, int], list[Arrow]] = {}
        rect = QRectF()
        for a in self.arrows.values():
            rect = rect.united(a.rect)
            level = _level(a.rect)
            for cell in _cells(a.rect, level):
                self.grid.setdefault(cell, []).append(a)
        self.levels = sorted({k[0] for k in self.grid})
        self.rect = rect
        # every arrow as a straight tail-to-tip line, one list per role, longest first: the
        # far-away backdrop draws those that reach a pixel with one drawLines call (a path of
        # 48,000 lines took 600 ms to stroke)
        by_role: dict[str, list[tuple[float, int, QLineF]]] = {}
        for i, a in enumerate(self.arrows.values()):
            line = a.hairline()
            by_role.setdefault(a.role, []).append((-line.length(), i, line))
        self.hairlines: dict[str, Hairlines] = {}
        for role, found in by_role.items():
            found.sort()
            self.hairlines[role] = Hairlines([f[2] for f in found], [f[0] for f in found])

    @classmethod
    def of(cls, display: Any, layout: Any) -> ArrowIndex:
        """The arrows of display (DisplayGraph) where layout (Layout) routed them."""
        return cls(make_arrow(ek, pts, de.role, de.phase, de.shape)
                   for ek, de in display.edges.items()
                   if (pts := layout.edges.get(ek)) is not None)

    def near(self, rect: QRectF) -> list[Arrow]:
        """The arrows whose index cells meet rect (a superset of those crossing it)."""
        seen: dict[tuple[str, str], Arrow] = {}
        for level in self.levels:
            for cell in _cells(rect, level):
                for a in self.grid.get(cell, ()):
                    seen[a.key] = a
        return list(seen.values())


class EdgeLayer(QGraphicsItem):
    """The arrows of one display graph (a dict-like of Arrow by key)."""

    def __init__(self, index: ArrowIndex | Iterable[Arrow], theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.index = index if isinstance(index, ArrowIndex) else ArrowIndex(index)
        self._arrows = self.index.arrows
        self._order = self.index.order
        self._pens: dict[tuple[str, bool], QPen] = {}
        self.hovered: tuple[str, str] | None = None
        self.drawn = 0          # arrows drawn by paints so far (tests watch what a frame costs)
        self.setZValue(1)
        self.setFlag(EXTENDED)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setCacheMode(DEVICE_CACHE)

    # ---- a read-only mapping of arrows -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._arrows)

    def __contains__(self, key: object) -> bool:
        return key in self._arrows

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._arrows)

    def get(self, key: tuple[str, str]) -> Arrow | None:
        return self._arrows.get(key)

    def spline(self, key: tuple[str, str]) -> QPainterPath | None:
        """An arrow's curve without its head (where pulses travel), or None."""
        a = self._arrows.get(key)
        return a.geometry()[0] if a is not None else None

    def hairlines(self) -> list[tuple[QColor, Hairlines]]:
        """Every arrow as a straight tail-to-tip line, one list per colour (far away)."""
        return [(hairline_color(role, self.theme), lines)
                for role, lines in self.index.hairlines.items()]

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._pens = {}
        self.update()

    # ---- hover -------------------------------------------------------------------------------

    def edge_at(self, pos: QPointF, scale: float) -> Arrow | None:
        """The arrow within HOVER_PX screen pixels of scene point pos (the topmost), or None."""
        tol = HOVER_PX / max(scale, 1e-3)
        probe = QRectF(pos.x() - tol, pos.y() - tol, 2 * tol, 2 * tol)
        near = [a for a in self.index.near(probe) if a.rect.intersects(probe)]
        stroker = QPainterPathStroker()
        stroker.setWidth(2 * tol)
        for a in sorted(near, key=lambda a: -self._order[a.key]):
            spline, head, _ = a.geometry()
            if stroker.createStroke(spline).contains(pos) or head.containsPoint(
                    pos, Qt.FillRule.OddEvenFill):
                return a
        return None

    def set_hovered(self, key: tuple[str, str] | None) -> None:
        """Draw one arrow thicker (None: none)."""
        if key == self.hovered:
            return
        for k in (self.hovered, key):
            a = self._arrows.get(k) if k is not None else None
            if a is not None:
                self.update(a.rect)
        self.hovered = key

    # ---- drawing -----------------------------------------------------------------------------

    def _pen(self, role: str, hovered: bool) -> QPen:
        pen = self._pens.get((role, hovered))
        if pen is None:
            pen = self._pens[role, hovered] = arrow_pen(role, self.theme, hovered)
        return pen

    def boundingRect(self) -> QRectF:
        return self.index.rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        exposed = _visible(painter, option.exposedRect if not option.exposedRect.isEmpty()
                           else self.index.rect)
        arrows = [a for a in self.index.near(exposed) if a.rect.intersects(exposed)]
        lod = screen_scale(painter, option)
        self.drawn += len(arrows)
        if lod < LOD_SIMPLE or len(arrows) > CROWD:
            self._paint_lines(painter, arrows, exposed, heads=lod >= LOD_ARROWS)
            return
        arrows.sort(key=lambda a: self._order[a.key])
        painter.setRenderHint(ANTIALIAS, True)
        for a in arrows:
            self._paint_curve(painter, a)

    def _paint_curve(self, painter: QPainter, a: Arrow) -> None:
        spline, head, _ = a.geometry()
        pen = self._pen(a.role, a.key == self.hovered)
        painter.setPen(pen)
        painter.setBrush(NO_BRUSH)
        painter.drawPath(spline)
        painter.setPen(NO_PEN)
        painter.setBrush(pen.color())
        painter.drawPolygon(head)

    def _paint_lines(self, painter: QPainter, arrows: list[Arrow], exposed: QRectF,
                     heads: bool) -> None:
        """Far away, or more arrows in the view than anyone can follow (a fan of thousands):
        straight hairlines, one call per role; arrowheads only at tips in view."""
        painter.setRenderHint(ANTIALIAS, False)
        lines: dict[str, list[QLineF]] = {}
        for a in arrows:
            lines.setdefault(a.role, []).append(a.hairline())
        for role, drawn in lines.items():
            painter.setPen(QPen(hairline_color(role, self.theme), 0))
            painter.drawLines(drawn)
        if heads:
            near = exposed.adjusted(-10, -10, 10, 10)
            painter.setPen(NO_PEN)
            for a in arrows:
                if near.contains(a.hairline().p2()):
                    painter.setBrush(self._pen(a.role, False).color())
                    painter.drawPolygon(a.geometry()[1])
        hovered = self._arrows.get(self.hovered) if self.hovered is not None else None
        if hovered is not None and hovered.rect.intersects(exposed):
            painter.setRenderHint(ANTIALIAS, True)
            self._paint_curve(painter, hovered)


def _visible(painter: QPainter, exposed: QRectF) -> QRectF:
    """The part of exposed (item coordinates) the painter can reach: Qt fills a big item's
    device cache for the view's part only, but asks it to paint its whole exposed rect."""
    inv, ok = painter.worldTransform().inverted()
    device = painter.device()
    if ok and device is not None and device.width() > 0:
        exposed = exposed.intersected(inv.mapRect(QRectF(0, 0, device.width(),
                                                         device.height())))
    if painter.hasClipping():
        exposed = exposed.intersected(painter.clipBoundingRect())
    return exposed


def _level(rect: QRectF) -> int:
    """The quadtree level whose cells (CELL * 2**level) are at least rect's longer side."""
    side = max(rect.width(), rect.height(), 1.0)
    return max(0, math.ceil(math.log2(side / CELL)))


def _cells(rect: QRectF, level: int) -> Iterator[tuple[int, int, int]]:
    size = CELL * (1 << level)
    x0, x1 = math.floor(rect.left() / size), math.floor(rect.right() / size)
    y0, y1 = math.floor(rect.top() / size), math.floor(rect.bottom() / size)
    for gx in range(x0, x1 + 1):
        for gy in range(y0, y1 + 1):
            yield level, gx, gy
