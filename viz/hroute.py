"""Arrows of a composed layout: Graphviz splines inside a group, polylines between groups.

An arrow whose ends sit in different child groups follows the spline Graphviz drew between the
two child boxes in their common group, with straight legs from each end's box to that spline.
Points use :class:`~graphstage.viz.layout.Layout`'s edge format (bezier points, then the tip).
Pure Python.
"""

from __future__ import annotations

import math

Point = tuple[float, float]
Box = tuple[float, float, float, float]   # cx, cy, w, h
ARROW = 7.0


def shift(points: list[Point], dx: float, dy: float) -> list[Point]:
    """points translated by (dx, dy)."""
    return [(x + dx, y + dy) for x, y in points]


def waypoints(spline: list[Point]) -> list[Point]:
    """The on-curve points of a Graphviz spline (every third bezier point, then the tip)."""
    body, tip = spline[:-1], spline[-1]
    pts = body[0::3] if body else []
    return [*pts, tip]


def port(box: Box, toward: Point) -> Point:
    """Where an arrow leaves (or enters) box on its way to (from) a point."""
    cx, cy, w, h = box
    tx, ty = toward
    if ty > cy + h / 2:
        return cx, cy + h / 2
    if ty < cy - h / 2:
        return cx, cy - h / 2
    return (cx + w / 2 if tx > cx else cx - w / 2), cy


def polyline(points: list[Point]) -> list[Point]:
    """Straight segments as bezier points with a separate arrow tip (Layout's edge format)."""
    pts: list[Point] = []
    for p in points:
        if not pts or math.dist(pts[-1], p) > 0.5:
            pts.append(p)
    if len(pts) < 2:
        p = pts[0] if pts else (0.0, 0.0)
        pts = [p, (p[0], p[1] + 1.0)]
    *body, end = pts
    prev = body[-1]
    d = math.dist(prev, end)
    t = min(0.5, ARROW / d)
    short = (end[0] - (end[0] - prev[0]) * t, end[1] - (end[1] - prev[1]) * t)
    out = [body[0]]
    for a, b in zip(body, [*body[1:], short], strict=True):
        out += [a, b, b]
    out.append(end)
    return out


def route(u_box: Box, v_box: Box, mid: list[Point] | None, u_leg: bool, v_leg: bool
          ) -> list[Point]:
    """An arrow from u to v through the on-curve points mid (from the common group's spline);
    a leg joins u (v) to the spline when u (v) sits inside a child box."""
    if not mid:
        a = port(u_box, (v_box[0], v_box[1]))
        return polyline([a, port(v_box, a)])
    pts = list(mid)
    if u_leg:
        pts.insert(0, port(u_box, pts[0]))
    if v_leg:
        pts.append(port(v_box, pts[-1]))
    return polyline(pts)
