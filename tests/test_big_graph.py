"""The app on a real ~10,000-op step (Keras MobileNetV2, random weights, traced once): expand all
draws every op without freezing the window, toggles keep unrelated groups' layouts, playback
stays bounded, and Expand all on a step too big to draw opens one level with a notice."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("tensorflow")

from graphstage.viz.gui import controller as controller_module  # noqa: E402
from graphstage.viz.gui.schedule import STEP_BUDGET_S  # noqa: E402
from graphstage.viz.gui.staging import CHUNK, STAGE_MIN  # noqa: E402
from tests.conftest import change  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.tf]


@pytest.fixture(scope="module")
def big(mobilenetv2):
    return mobilenetv2


@pytest.fixture
def win(big_window):
    return big_window


def opened(qtbot, win, session):
    pane = win.pane
    with qtbot.waitSignal(win.loadFinished, timeout=120000):
        pane.controller.set_session(session, "mobilenetv2", 0)
    pane.canvas.finish_morph()
    return pane


def test_expand_all_draws_every_op_in_slices(qtbot, win, big):
    graph = big.steps[0]
    assert graph.number_of_nodes() > 8000
    pane = opened(qtbot, win, big)
    assert pane.controller.collapsed                    # a big step opens folded
    change(qtbot, pane, win.expand_all)
    canvas, display = pane.canvas, pane.canvas.display
    assert not pane.controller.collapsed
    assert all(not dn.is_group for dn in display.nodes.values())
    assert {m for dn in display.nodes.values() for m in dn.members} == set(graph.nodes)
    assert set(canvas.nodes) == set(display.nodes)
    assert len(canvas.nodes) == graph.number_of_nodes()   # one box per op, each in the scene
    assert all(it.scene() is not None or it.layer is not None for it in canvas.nodes.values())
    routed = {k for k in display.edges if k in canvas.layout_.edges}
    assert set(canvas.edges) == routed and len(routed) >= 0.95 * len(display.edges)
    # thousands of new boxes were made a slice per event-loop turn, not in one block, and
    # shown a chunk per turn after that; then every one of them is visible
    assert len(canvas.nodes) > STAGE_MIN and pane.stager.slices >= 2
    qtbot.waitUntil(lambda: not pane.laying_out, timeout=10000)
    assert canvas.detail.reveal.slices >= len(canvas.nodes) // CHUNK
    assert all(it.isVisible() for it in canvas.nodes.values())
    # one step plays in a bounded time, and stepping op by op still reaches every op
    sched = pane.player.schedule
    assert sched.total <= STEP_BUDGET_S + 1.0
    executed = {n for n, a in graph.nodes(data=True) if a["order"] >= 0}
    assert {e.node for e in sched.events} == executed


def test_toggling_a_group_keeps_the_other_groups_layouts(qtbot, win, big):
    pane = opened(qtbot, win, big)
    change(qtbot, pane, win.expand_all)
    lay = pane.canvas.layout_
    # frames are "<phase or mixed>:<scope>"; a top-level layer's frame holds its forward ops,
    # gradients and updates ("mixed")
    frames = {cid: r for cid, r in lay.clusters.items() if "/" not in cid}
    target = sorted(frames, key=lambda c: frames[c][1])[len(frames) // 2]   # one mid-graph
    scope = target.partition(":")[2]

    def inside(layout, cid):
        """Each box of a frame relative to the frame's corner."""
        x, y, w, h = layout.clusters[cid]
        return {k: (round(cx - x, 3), round(cy - y, 3)) for k, (cx, cy, _, _) in
                layout.nodes.items() if x <= cx <= x + w and y <= cy <= y + h}

    others = [c for c in frames if c != target][:40]
    before = {c: inside(lay, c) for c in others}
    runs = len(pane.layouts.hier.runs)
    assert pane.canvas.detail.revealing     # the expanded boxes are still being shown...
    change(qtbot, pane, lambda: pane.controller.toggle_scope(scope))
    after = pane.canvas.layout_
    assert any(k.startswith("group:") and k.endswith(f":{scope}") for k in pane.canvas.nodes)
    assert all(it.isVisible() for it in pane.canvas.nodes.values())   # ...and none stays hidden
    assert len(pane.layouts.hier.runs) - runs <= 3   # the group, its parents: nothing else
    for c in others:          # every other group's inside is laid out exactly as before
        if c in after.clusters:
            assert inside(after, c) == before[c], c


def test_expand_all_on_a_step_too_big_to_draw_opens_one_level(qtbot, win, big, monkeypatch):
    monkeypatch.setattr(controller_module, "EXPAND_ALL_MAX", 5000)
    notices: list[str] = []
    win.pane.controller.notice.connect(notices.append)
    pane = opened(qtbot, win, big)
    assert notices and "top-level structure" in notices[0]
    before = set(pane.controller.collapsed)
    change(qtbot, pane, win.expand_all)
    after = pane.controller.collapsed
    assert after and after < before                  # one more level open, not everything
    assert "too many to draw at once" in notices[-1]
    assert "too many to draw at once" in win.statusBar().currentMessage()
    assert any(dn.is_group for dn in pane.canvas.display.nodes.values())
