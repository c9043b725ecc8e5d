"""The opening camera: a small graph fits whole; a big one opens readable at its start.

A small graph (shown unfolded) fits the view when its names stay at least ``READABLE_PX`` pixels
tall, so a toy model's whole step is in sight; otherwise it opens at that zoom. A big graph
(opened folded, or too big to fit) never opens at an unreadable fit: the view opens at the
smallest zoom where every label is at least ``READABLE_PX`` pixels, with the box that starts the
forward pass near the top-left corner (the forward pass runs down from it, backward beside it).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QTransform

from graphstage.viz.gui.pergraph import per_graph
from graphstage.viz.gui.theme import detail_font, label_font

READABLE_PX = 9.0
MARGIN = 40.0   # view pixels between the start box and the viewport's corner


def readable_zoom() -> float:
    """The smallest zoom at which the smallest label text is READABLE_PX pixels tall."""
    return READABLE_PX / min(label_font().pixelSize(), detail_font().pixelSize())


@per_graph
def first_forward(graph: Any) -> str | None:
    """The step's first forward op (its first input if it has one)."""
    best, best_rank = None, None
    for n, a in graph.nodes(data=True):
        if a.get("phase") != "forward" or a.get("kind") not in ("input", "op"):
            continue
        rank = (a.get("kind") != "input", a.get("order", 0))
        if best_rank is None or rank < best_rank:
            best, best_rank = n, rank
    return best


def forward_start(display: Any, graph: Any) -> str | None:
    """The display key of the box holding the first forward op (the input if there is one)."""
    best = first_forward(graph)
    return display.rep.get(best) if best is not None else None


def opening_view(canvas: Any, display: Any, graph: Any, folded: bool = False) -> None:
    """Fit the graph if its text stays readable (or it is small and unfolded); else zoom to
    readable text at the start of the forward pass."""
    zoom = readable_zoom()
    fit = canvas.fit_scale()
    if fit >= zoom or not canvas.nodes:
        canvas.fit()
        return
    if not folded:  # a small graph: fit while its names stay readable, else just readable
        names = READABLE_PX / label_font().pixelSize()
        if fit >= names:
            canvas.fit()
            return
        zoom = names
    canvas.stop_auto_fit()
    canvas.setTransform(QTransform.fromScale(zoom, zoom))
    key = forward_start(display, graph)
    item = canvas.nodes.get(key) if key else None
    if item is None:
        item = min(canvas.nodes.values(), key=lambda it: (it.pos().y(), it.pos().x()))
    vp = canvas.viewport()
    vw, vh = vp.width() / zoom, vp.height() / zoom
    r = canvas.content_rect()
    if r.width() <= vw:
        x = r.center().x()
    else:   # the start box in the left third: its parameters left of it, backward right of it
        x = max(r.left() - MARGIN / zoom, item.pos().x() - item.w / 2 - vw / 3) + vw / 2
    top = max(r.top() - MARGIN / zoom, item.pos().y() - item.h / 2 - 2 * MARGIN / zoom)
    canvas.centerOn(QPointF(x, top + vh / 2))


def boxes_rect(canvas: Any, keys: set[str], margin: float) -> QRectF | None:
    """The scene rect around the drawn boxes of these display keys, padded by margin (None if
    none is drawn)."""
    items = [canvas.nodes[k] for k in keys if k in canvas.nodes]
    if not items:
        return None
    rect = items[0].sceneBoundingRect()
    for it in items[1:]:
        rect = rect.united(it.sceneBoundingRect())
    return rect.adjusted(-margin, -margin, margin, margin)


def frame_nodes(canvas: Any, display: Any, nodes: list[str]) -> bool:
    """Point the camera at the boxes showing these graph nodes: fitted when that keeps their
    names readable, else at a readable zoom on their centre. False if none is drawn."""
    rect = boxes_rect(canvas, {display.rep.get(n) for n in nodes} - {None}, MARGIN)
    if rect is None:
        return False
    vp = canvas.viewport()
    fit = min(vp.width() / max(rect.width(), 1.0), vp.height() / max(rect.height(), 1.0))
    zoom = min(max(fit, READABLE_PX / label_font().pixelSize()), 1.0)
    canvas.stop_auto_fit()
    canvas.resetTransform()
    canvas.scale(zoom, zoom)
    canvas.centerOn(rect.center())
    return True
