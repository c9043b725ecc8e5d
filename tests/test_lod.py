"""Level of detail on a real trace: op text only where it is legible, titles of groups and scopes
still drawn at a low zoom, plain boxes and straight edges when far away."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")


from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.animation import AnimationClock  # noqa: E402
from graphstage.viz.gui.canvas import GraphCanvas, layout_spec  # noqa: E402
from graphstage.viz.gui.lod import LOD_SIMPLE  # noqa: E402
from graphstage.viz.gui.theme import make_theme  # noqa: E402
from graphstage.viz.gui.viewgraph import build_display, depth_collapse  # noqa: E402
from graphstage.viz.layout import compute_layout  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def canvas(qapp):
    """gpt_torch as the app opens it: op boxes, collapsed groups and scope frames."""
    g = trace_script(example_path("gpt_torch"), 1, seed=0).steps[0]
    display = build_display(g, depth_collapse(g, 2))  # blocks/0..11 as groups in a frame
    c = GraphCanvas(AnimationClock(), make_theme("light"))
    c.resize(1000, 700)
    c.show_graph(display, compute_layout(layout_spec(display)))
    yield c
    c.deleteLater()


def paint_at(canvas: GraphCanvas, scale: float, center) -> tuple[list, list, list]:
    """Render the view at `scale` around `center`; (ops, groups, clusters) that were painted."""
    canvas.resetTransform()
    canvas.scale(scale, scale)
    canvas.centerOn(center)
    items = [*canvas.nodes.values(), *canvas.clusters.values()]
    for it in items:
        it.drew_text = it.drew_title = None         # None: not painted this time
    canvas.viewport().grab()
    ops = [it for it in canvas.nodes.values() if not it.is_group and it.drew_text is not None]
    groups = [it for it in canvas.nodes.values() if it.is_group and it.drew_text is not None]
    clusters = [it for it in canvas.clusters.values() if it.drew_title is not None]
    return ops, groups, clusters


def test_op_text_shows_at_100_percent_and_hides_far_away(canvas):
    op = next(it for it in canvas.nodes.values() if not it.is_group and it.detail)
    ops, _, _ = paint_at(canvas, 1.0, op.pos())
    assert op in ops and ops and all(it.drew_text for it in ops)
    ops, _, _ = paint_at(canvas, 0.25, op.pos())
    assert op in ops and not any(it.drew_text for it in ops)


def test_group_and_scope_titles_stay_readable_at_low_zoom(canvas):
    group = max((it for it in canvas.nodes.values() if it.is_group), key=lambda it: it.w)
    # 12 px labels would be 4.2 px here: op text is gone, group titles are drawn at >= 9 px
    ops, groups, clusters = paint_at(canvas, 0.35, group.pos())
    assert ops and not any(it.drew_text for it in ops)
    assert group in groups and group.drew_text
    big = [c for c in clusters if c.rect.width() * 0.35 > 50 and c.rect.height() * 0.35 > 40
           and not c.nested]     # nested frames keep near-normal titles (no overlap)
    assert big and all(c.drew_title for c in big)


def _render(canvas: GraphCanvas, rect) -> QImage:
    img = QImage(400, 300, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    canvas.scene().render(p, QRectF(img.rect()), rect)
    p.end()
    return img


def test_far_away_edges_and_frames_come_from_one_backdrop(canvas):
    layer = canvas.edges
    arrow = layer.get(next(iter(layer)))
    area = arrow.rect.adjusted(-200, -150, 200, 150)
    canvas.resetTransform()
    near = _render(canvas, area)
    assert canvas.transform().m11() >= LOD_SIMPLE
    scene = canvas.scene()
    assert layer.scene() is scene and layer.isVisible()
    canvas.scale(0.1, 0.1)             # far away: one backdrop item draws frames and arrows
    assert layer.scene() is None                                  # out of the scene
    assert not any(c.scene() for c in canvas.clusters.values())
    assert canvas.detail.backdrop.isVisible()
    assert _render(canvas, area) == near   # exports draw full detail whatever the zoom
    canvas.resetTransform()
    assert layer.scene() is scene and layer.isVisible()
    assert not canvas.detail.backdrop.isVisible()


def test_arrows_are_drawn_by_region_and_not_again_per_frame(canvas):
    """At 100 % the arrow layer draws only the arrows crossing the view, and an animation frame
    that lights a box redraws none of them (Qt's cache holds the view's part)."""
    layer, display = canvas.edges, canvas.display
    assert set(layer) == {k for k in display.edges if k in canvas.layout_.edges}
    canvas.resize(400, 300)          # the graph is several views wide: Qt caches the view's part
    canvas.resetTransform()
    box = next(it for it in canvas.nodes.values() if not it.is_group)
    canvas.centerOn(box)
    canvas.viewport().grab()
    seen = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    crossing = set()
    for k, pts in canvas.layout_.edges.items():       # independent: the layout's own points
        if k not in display.edges:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if QRectF(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1).intersects(
                seen.adjusted(-8, -8, 8, 8)):
            crossing.add(k)
    before = layer.drawn
    layer.update()                                     # a full redraw of the visible part
    canvas.viewport().grab()
    drawn = layer.drawn - before
    assert crossing and drawn >= len(crossing) * 0.8 and drawn < len(layer) / 2
    before = layer.drawn
    box.set_state("active")                            # what a playing step does per frame
    canvas.viewport().grab()
    box.set_state("idle")
    canvas.viewport().grab()
    assert layer.drawn == before
    canvas.resize(1000, 700)


def test_hovering_an_arrow_names_its_tensor(canvas):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QMouseEvent

    layer = canvas.edges
    canvas.resetTransform()
    arrow = max((layer.get(k) for k in layer), key=lambda a: a.rect.height())
    mid = arrow.geometry()[0].pointAtPercent(0.5)
    canvas.centerOn(mid)
    at = canvas.mapFromScene(mid)
    assert layer.edge_at(mid, 1.0) is not None
    ev = QMouseEvent(QMouseEvent.Type.MouseMove, at, canvas.viewport().mapToGlobal(at),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier)
    canvas.mouseMoveEvent(ev)
    hovered = layer.get(layer.hovered)
    assert hovered is not None and "tensor: [" in hovered.tooltip()
    far = canvas.mapFromScene(arrow.rect.topLeft()) - QPoint(400, 400)
    ev = QMouseEvent(QMouseEvent.Type.MouseMove, far, canvas.viewport().mapToGlobal(far),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier)
    canvas.mouseMoveEvent(ev)
    assert layer.hovered is None


def _ring_pixels(canvas: GraphCanvas, key: str) -> int:
    img = canvas.viewport().grab().toImage()
    hi = canvas.theme.highlight
    box = canvas.mapFromScene(canvas.nodes[key].sceneBoundingRect()).boundingRect()
    return sum(1 for y in range(max(0, box.top() - 4), min(img.height(), box.bottom() + 5))
               for x in range(max(0, box.left() - 4), min(img.width(), box.right() + 5))
               if QColor(img.pixel(x, y)) == hi)


def test_search_ring_is_drawn_near_and_far(canvas):
    key = next(k for k, it in canvas.nodes.items() if not it.is_group)
    for scale in (1.0, 0.35, 0.1):
        canvas.resetTransform()
        canvas.scale(scale, scale)
        canvas.centerOn(canvas.nodes[key])
        canvas.set_highlight(set())
        assert _ring_pixels(canvas, key) == 0
        canvas.set_highlight({key})
        assert _ring_pixels(canvas, key) >= 8, scale    # a ring, even when the box is tiny
    canvas.set_highlight(set())


def test_far_away_big_graphs_draw_op_boxes_as_one_layer(canvas, monkeypatch, qtbot):
    """Past BOX_LAYER_MIN boxes, far away op boxes leave the scene for one BoxLayer, which
    still shows each box's state colour."""
    from graphstage.viz.gui import detail
    monkeypatch.setattr(detail, "BOX_LAYER_MIN", 20)   # the fixture counts as big
    op = max((it for it in canvas.nodes.values() if not it.is_group), key=lambda it: it.w)
    canvas.resetTransform()
    canvas.scale(0.15, 0.15)
    canvas.centerOn(op)
    assert op.scene() is None
    qtbot.waitUntil(canvas.detail.boxes.isVisible, timeout=3000)   # once its fill is in
    assert all(it.scene() is canvas.scene() for it in canvas.nodes.values() if it.is_group)
    centre = canvas.mapFromScene(op.pos())

    def colour() -> QColor:
        return QColor(canvas.viewport().grab().toImage().pixel(centre))

    op.set_state("idle")
    idle = colour()
    op.set_state("active")
    assert colour() == op.far_fill() != idle
    op.set_state("idle")
    assert colour() == idle
    canvas.resetTransform()
    assert op.scene() is canvas.scene() and not canvas.detail.boxes.isVisible()


def test_thousands_of_groups_far_away_are_drawn_by_the_box_layer_too(canvas, monkeypatch,
                                                                     qtbot):
    """With more group boxes than BOX_LAYER_MIN (an RNN unrolled 12,000 times: 24,000 calls),
    far away the groups leave the scene for the box layer as well, in their state colour."""
    from graphstage.viz.gui import detail
    groups = [it for it in canvas.nodes.values() if it.is_group]
    monkeypatch.setattr(detail, "BOX_LAYER_MIN", len(groups) - 1)
    canvas.detail.boxes_moved()                      # refilled: now with the groups
    qtbot.waitUntil(lambda: canvas.detail.boxes.ready, timeout=3000)
    group = max(groups, key=lambda it: it.w)
    canvas.resetTransform()
    canvas.scale(0.15, 0.15)
    canvas.centerOn(group)
    assert group.scene() is None and canvas.detail.boxes.isVisible()
    centre = canvas.mapFromScene(group.pos())
    group.set_state("active")
    assert QColor(canvas.viewport().grab().toImage().pixel(centre)) == group.far_fill()
    group.set_state("idle")
    canvas.resetTransform()
    assert group.scene() is canvas.scene() and not canvas.detail.boxes.isVisible()
    monkeypatch.undo()
    canvas.detail.boxes_moved()
    qtbot.waitUntil(lambda: canvas.detail.boxes.ready, timeout=3000)


def test_box_layer_keeps_a_change_made_while_it_fills(canvas):
    """The layer collects its rectangles over several event-loop turns; a box that changes
    state meanwhile shows its new colour once the fill is in."""
    from graphstage.viz.gui.boxlayer import BoxLayer
    layer = BoxLayer()
    items = list(canvas.nodes.values())
    op = next(it for it in items if not it.is_group)
    fill = layer.filling(items, canvas.theme)
    for _ in items:
        next(fill)                   # every box collected with its idle colour, not swapped in
    assert not layer.ready
    op.set_state("active")
    layer.changed(op)
    for _ in fill:
        pass
    assert layer.ready and layer._colour[op.key] == op.far_fill().rgba()
    ops = [it for it in items if not it.is_group]
    assert len(layer._rects) == len(ops)
    op.set_state("idle")
