"""The app on a real transformer step: opening overview, expand all, cached expand/collapse."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtCore import QRectF  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.items import ClusterItem, NodeItem  # noqa: E402
from graphstage.viz.gui.opening import forward_start, readable_zoom  # noqa: E402
from graphstage.viz.gui.theme import detail_font, label_font  # noqa: E402
from tests.conftest import change  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def gpt():
    return trace_script(example_path("gpt_torch"), 1, seed=0)


@pytest.fixture
def win(big_window):
    return big_window


def in_view(canvas) -> list:
    """Node and cluster items whose box lies at least partly inside the viewport."""
    view = QRectF(canvas.viewport().rect())
    out = []
    for it in canvas.scene().items():
        if isinstance(it, (NodeItem, ClusterItem)) and it.opacity() > 0.99:
            r = canvas.mapFromScene(it.sceneBoundingRect()).boundingRect()
            if view.intersects(QRectF(r)):
                out.append(it)
    return out


def test_opening_view_shows_top_level_groups_readably(qtbot, win, gpt):
    pane = win.pane
    with qtbot.waitSignal(win.loadFinished, timeout=60000):
        pane.controller.set_session(gpt, "gpt", 0)
    canvas = pane.canvas
    zoom = canvas.transform().m11()
    assert zoom >= readable_zoom() - 1e-6
    assert min(label_font().pixelSize(), detail_font().pixelSize()) * zoom >= 9.0
    # the top-level structure: embeddings, the 12 blocks as one stack per phase, head, loss
    groups = {it.label for it in canvas.nodes.values() if it.kind == "group"}
    assert {"blocks ×12"} <= groups
    frames = {c.scope for c in canvas.clusters.values()}
    assert {"tok_emb", "pos_emb", "ln_f", "head"} <= frames
    assert len(canvas.nodes) <= 90
    # the camera is on the start of the forward pass, and the blocks stack is on screen too
    shown = in_view(canvas)
    start = forward_start(canvas.display, pane.controller.graph)
    assert start in {it.key for it in shown if isinstance(it, NodeItem)}
    assert any(isinstance(it, NodeItem) and it.label == "blocks ×12" for it in shown)


def test_expand_all_then_toggle_reuses_group_layouts(qtbot, win, gpt):
    pane = win.pane
    with qtbot.waitSignal(win.loadFinished, timeout=60000):
        pane.controller.set_session(gpt, "gpt", 0)
    change(qtbot, pane, pane.controller.expand_all)
    graph = pane.controller.graph
    assert set(pane.canvas.nodes) == {a["key"] for _, a in graph.nodes(data=True)}
    lay = pane.canvas.layout_
    for key, item in pane.canvas.nodes.items():
        assert (item.pos().x(), item.pos().y()) == pytest.approx(lay.nodes[key][:2])
    runs = pane.layouts.hier.runs
    n = len(runs)
    change(qtbot, pane, lambda: pane.controller.toggle_scope("blocks/7/mlp"))
    after_collapse = len(runs)
    assert after_collapse - n <= 3          # blocks/7, blocks and the root, nothing else
    assert max(runs[n:]) < 40
    toggle = lambda: pane.controller.toggle_scope("blocks/7/mlp")  # noqa: E731
    change(qtbot, pane, toggle)             # expand (its own children stay collapsed)
    first_expand = len(runs)
    change(qtbot, pane, toggle)             # collapse: seen before
    assert len(runs) == first_expand
    change(qtbot, pane, toggle)             # the second expand costs no Graphviz run
    assert len(runs) == first_expand
    assert "group:forward:blocks/7/mlp/fc" in pane.canvas.nodes
