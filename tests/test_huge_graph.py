"""A step with no readable top level (a real PyTorch LSTM unrolled step by step: every call of
the cell and every input slice sits at the top) opens folded into one box per pass, with a
notice, and Expand all opens one level at a readable zoom. The limits are lowered so that a
150-step unroll stands for the 12,000-step (204,000-op) one measured in benchmarks/."""

from __future__ import annotations

import os
from collections import Counter

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
torch = pytest.importorskip("torch")

import graphstage  # noqa: E402
from graphstage.viz.gui import controller as controller_module  # noqa: E402
from graphstage.viz.gui import viewgraph  # noqa: E402
from graphstage.viz.gui.opening import forward_start, readable_zoom  # noqa: E402
from tests.conftest import change  # noqa: E402

pytestmark = [pytest.mark.gui]
STEPS = 150


@pytest.fixture(scope="module")
def unrolled():
    """One traced training step of an LSTM cell unrolled STEPS times."""
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(4, 8)
    model = torch.nn.ModuleDict({"cell": cell})
    opt = torch.optim.SGD(model.parameters(), 0.1)
    x = torch.randn(STEPS, 2, 4)

    def train_step():
        h, c = torch.zeros(2, 8), torch.zeros(2, 8)
        for t in range(STEPS):
            h, c = cell(x[t], (h, c))
        loss = h.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return graphstage.trace(train_step, steps=1, model=model, optimizer=opt)


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(viewgraph, "TOP_MAX", 200)
    monkeypatch.setattr(controller_module, "EXPAND_ALL_MAX", 1000)


def test_no_top_level_structure_folds_into_one_group_per_pass(unrolled, small_limits):
    g = unrolled.steps[0]
    tops = {a["scope"].split(".")[0] for _, a in g.nodes(data=True) if a["scope"]}
    assert len(tops) == STEPS   # every call of the cell is a top-level scope of its own
    collapsed = viewgraph.readable_collapse(g)
    assert viewgraph.ROOT in collapsed
    d = viewgraph.build_display(g, collapsed)
    phases = Counter(a["phase"] for _, a in g.nodes(data=True))
    assert {k: len(dn.members) for k, dn in d.nodes.items()} == \
        {viewgraph.group_key(p, viewgraph.ROOT): n for p, n in phases.items()}
    assert {dn.label for dn in d.nodes.values()} == {f"{p} pass" for p in phases}
    opened = viewgraph.build_display(g, collapsed - {viewgraph.ROOT})
    assert len(opened.nodes) > viewgraph.TOP_MAX   # one level down: the calls, as groups


@pytest.fixture
def win(big_window):
    return big_window


def test_the_app_opens_it_folded_and_expands_one_level_readably(qtbot, win, unrolled,
                                                                 small_limits):
    pane = win.pane
    notices: list[str] = []
    pane.controller.notice.connect(notices.append)
    with qtbot.waitSignal(win.loadFinished, timeout=60000):
        pane.controller.set_session(unrolled, "lstm", 0)
    pane.canvas.finish_morph()
    phases = {a["phase"] for _, a in unrolled.steps[0].nodes(data=True)}
    assert set(pane.canvas.nodes) == {viewgraph.group_key(p, "") for p in phases}
    assert "opened folded, one box per pass" in win.statusBar().currentMessage()
    change(qtbot, pane, win.expand_all)
    shown = pane.canvas.display.nodes
    assert len(shown) > viewgraph.TOP_MAX and viewgraph.ROOT not in pane.controller.collapsed
    assert any(dn.is_group for dn in shown.values())        # the calls stay folded
    assert pane.canvas.transform().m11() >= readable_zoom() - 1e-6
    start = pane.canvas.nodes[forward_start(pane.canvas.display, unrolled.steps[0])]
    seen = pane.canvas.mapToScene(pane.canvas.viewport().rect()).boundingRect()
    assert seen.contains(start.sceneBoundingRect())   # the camera is on the forward pass's start


def test_search_opens_the_folded_model_to_reach_a_node(qapp, unrolled, small_limits):
    from graphstage.viz.gui.controller import StageController
    c = StageController()
    c.set_session(unrolled)
    assert viewgraph.ROOT in c.collapsed
    g = unrolled.steps[0]
    node = next(n for n, a in g.nodes(data=True) if a["kind"] == "op" and not a["scope"])
    key = c.reveal(node)                # what a search hit or a jump does
    assert viewgraph.ROOT not in c.collapsed
    assert key == g.nodes[node]["key"] and c.display().nodes[key].members == [node]


def test_export_folds_it_into_one_box_per_pass_like_the_app(unrolled, monkeypatch):
    from graphstage.viz import export
    monkeypatch.setattr(export, "TOP_MAX", 200)
    g = unrolled.steps[0]
    source, _depth, boxes = export.step_source(g)
    phases = {a["phase"] for _, a in g.nodes(data=True)}
    assert boxes == len(phases)
    for phase in phases:
        assert f"{phase} pass" in source
    monkeypatch.setattr(export, "TOP_MAX", 10 ** 6)   # limit not reached: the calls stay boxes
    assert export.step_source(g)[2] > 200
