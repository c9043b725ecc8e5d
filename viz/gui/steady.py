"""Stable geography from one step to the next: a top-level group frame (or loose box) that is
still there, with the same size, goes back to the column it had on the step shown before.

Graphviz places each step's layout afresh, so inserting one layer call into a chain of layer
frames slides the frames above and below it sideways. The pane passes each new step's layout
through :func:`steady_layout` with the layout on screen: persisting units keep their x (their
rows still follow the new ranks), and arrows between units that moved differently are re-drawn
through their old waypoints. A shift that would make two units overlap is dropped. Pure Python.
"""

from __future__ import annotations

from graphstage.viz import hroute
from graphstage.viz.layout import Layout

Rect = tuple[float, float, float, float]   # x, y, w, h
GAP = 4.0        # units closer than this count as overlapping
SAME_SIZE = 1.0  # px: a unit whose frame changed more than this is laid out afresh
MAX_UNITS = 400  # more top-level units than this (a flat graph): no steadying, it would cost
MAX_BOXES = 3000  # bigger steps are shown as laid out (the steadying runs on the GUI thread)
MAX_UNDO = 20    # collisions undone one by one before giving up on steadying a step


def _inside(r: Rect, outer: Rect) -> bool:
    return outer[0] <= r[0] and outer[1] <= r[1] and \
        r[0] + r[2] <= outer[0] + outer[2] and r[1] + r[3] <= outer[1] + outer[3]


def _box(n: tuple[float, float, float, float]) -> Rect:
    cx, cy, w, h = n
    return cx - w / 2, cy - h / 2, w, h


class Grid:
    """Rectangles bucketed by CELL-pixel cells: which may contain or touch a given one."""

    CELL = 256.0

    def __init__(self, rects: dict[str, Rect]) -> None:
        self.rects = rects
        self.cells: dict[tuple[int, int], list[str]] = {}
        for key, r in rects.items():
            for cell in self._cells(r):
                self.cells.setdefault(cell, []).append(key)

    def _cells(self, r: Rect, pad: float = 0.0) -> list[tuple[int, int]]:
        c = self.CELL
        xs = range(int((r[0] - pad) // c), int((r[0] + r[2] + pad) // c) + 1)
        ys = range(int((r[1] - pad) // c), int((r[1] + r[3] + pad) // c) + 1)
        return [(x, y) for x in xs for y in ys]

    def near(self, r: Rect, pad: float = 0.0) -> set[str]:
        """Keys of the rectangles sharing a cell with r (grown by pad)."""
        return {k for cell in self._cells(r, pad) for k in self.cells.get(cell, ())}

    def holder(self, r: Rect, skip: str = "") -> str | None:
        """A rectangle (other than skip) that contains r, if any."""
        centre = (r[0] + r[2] / 2, r[1] + r[3] / 2, 0.0, 0.0)
        return next((k for k in self.near(centre) if k != skip and _inside(r, self.rects[k])),
                    None)


def units(lay: Layout) -> tuple[dict[str, Rect], dict[str, str]]:
    """The layout's top-level units (frames inside no other frame, as 'frame:ID', and boxes in
    no frame, as 'box:KEY') with their rectangles, and the unit of every box and frame."""
    frames = Grid(lay.clusters)
    top = Grid({c: r for c, r in lay.clusters.items() if frames.holder(r, skip=c) is None})
    rects: dict[str, Rect] = {f"frame:{c}": r for c, r in top.rects.items()}
    owner: dict[str, str] = {}
    for c, r in lay.clusters.items():
        owner[f"frame:{c}"] = f"frame:{top.holder(r) or c}"
    for key, n in lay.nodes.items():
        b = _box(n)
        frame = top.holder(b)
        unit = f"frame:{frame}" if frame is not None else f"box:{key}"
        if frame is None:
            rects[unit] = b
        owner[key] = unit
    return rects, owner


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] + GAP and b[0] < a[0] + a[2] + GAP and \
        a[1] < b[1] + b[3] + GAP and b[1] < a[1] + a[3] + GAP


def unit_shifts(before: Layout, after: Layout) -> tuple[dict[str, float], dict[str, str]]:
    """Per unit of after, how far right it moves to sit where it sat in before (0 for new or
    resized units, and for any shift that would make it overlap another unit)."""
    old, _ = units(before)
    new, owner = units(after)
    dx = {u: (old[u][0] - r[0]) if u in old and abs(old[u][2] - r[2]) <= SAME_SIZE and
          abs(old[u][3] - r[3]) <= SAME_SIZE else 0.0 for u, r in new.items()}
    if len(new) > MAX_UNITS:
        return dict.fromkeys(new, 0.0), owner
    for _ in range(MAX_UNDO):   # undo shifts that collide, biggest first, until none do
        moved = Grid({u: (r[0] + dx[u], r[1], r[2], r[3]) for u, r in new.items()})
        clash = [u for u in new if dx[u] and any(
            v != u and dx[v] != dx[u] and _overlaps(moved.rects[u], moved.rects[v])
            for v in moved.near(moved.rects[u], GAP))]
        if not clash:
            return dx, owner
        dx[max(clash, key=lambda u: abs(dx[u]))] = 0.0
    return dict.fromkeys(new, 0.0), owner


def steady_layout(before: Layout | None, after: Layout) -> Layout:
    """after, with every persisting top-level unit moved back to its column in before."""
    if before is None or len(after.nodes) > MAX_BOXES or len(after.clusters) > MAX_UNITS:
        return after
    dx, owner = unit_shifts(before, after)
    if not any(dx.values()):
        return after

    def shift_of(key: str) -> float:
        return dx.get(owner.get(key, ""), 0.0)

    nodes = {k: (cx + shift_of(k), cy, w, h) for k, (cx, cy, w, h) in after.nodes.items()}
    clusters = {c: (x + shift_of(f"frame:{c}"), y, w, h)
                for c, (x, y, w, h) in after.clusters.items()}
    edges = {}
    for (u, v), pts in after.edges.items():
        du, dv = shift_of(u), shift_of(v)
        if du == dv:
            edges[(u, v)] = hroute.shift(pts, du, 0.0) if du else pts
            continue
        mid = hroute.waypoints(pts)[1:-1]
        n = len(mid) + 1
        mid = [(x + du + (dv - du) * (i + 1) / n, y) for i, (x, y) in enumerate(mid)]
        edges[(u, v)] = hroute.route(nodes[u], nodes[v], mid or None, True, True)
    right = max([x + w / 2 for x, _y, w, _h in nodes.values()] +
                [x + w for x, _y, w, _h in clusters.values()] + [after.width])
    return Layout(nodes, edges, clusters, right, after.height)
