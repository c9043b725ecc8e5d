"""Stable layouts across steps on the real DynamicNet (its hidden layer runs 0-3 times per step):
a box that persists keeps its place, only what changed moves."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.main_window import MainWindow  # noqa: E402
from graphstage.viz.gui.steady import steady_layout  # noqa: E402
from graphstage.viz.layout import Layout  # noqa: E402

pytestmark = pytest.mark.gui
STEPS = 8
TOL = 2.0   # px


def neighbours(display) -> dict[str, set]:
    """Each box's arrows in and out, by the keys at their other ends."""
    out: dict[str, set] = {k: set() for k in display.nodes}
    for u, v in display.edges:
        out[u].add(("out", v))
        out[v].add(("in", u))
    return out


def test_persisting_boxes_keep_their_place_across_steps(qtbot):
    """Persisting: the same key in both steps with the same arrows in and out (a box whose
    arrows changed is part of the region that changed). Across each pair of consecutive steps
    every persisting box keeps its column, and its row too unless the change above it added or
    removed rows: then the whole region below the change moves by one common offset."""
    session = trace_script(example_path("dynamicnet_torch"), STEPS, seed=0)
    calls = [sum(1 for a in g.nodes.values() if a["phase"] == "forward" and a["op"] == "linear"
                 and "hidden_layer" in (a.get("scope") or "")) for g in session.steps]
    assert len(set(calls)) >= 3, calls       # the structure really changes in these steps
    win = MainWindow(theme="light", steps=STEPS)
    qtbot.addWidget(win)
    win.remember_layout = False
    win.resize(1400, 900)
    win.show()
    pane = win.pane
    with qtbot.waitSignal(win.loadFinished, timeout=60000):
        win.open_session(session, "dynamicnet_torch.py", 0)
    seen = []
    for step in range(STEPS):
        if step:
            with qtbot.waitSignal(pane.shown, timeout=60000):
                pane.controller.set_step(step)
        pane.canvas.finish_morph()
        seen.append(({k: (it.pos().x(), it.pos().y()) for k, it in pane.canvas.nodes.items()},
                     neighbours(pane.canvas.display)))
    win.shutdown()
    checked = 0
    for step in range(1, STEPS):
        (pos0, nb0), (pos1, nb1) = seen[step - 1], seen[step]
        persisting = [k for k in pos0.keys() & pos1.keys() if nb0[k] == nb1[k]]
        assert len(persisting) >= 15, step
        moved_x = {k: round(pos1[k][0] - pos0[k][0]) for k in persisting
                   if abs(pos1[k][0] - pos0[k][0]) > TOL}
        assert not moved_x, (step, calls[step - 1], calls[step], moved_x)
        rows = sorted({round(pos1[k][1] - pos0[k][1]) for k in persisting})
        assert len(rows) <= 2 and (rows[0] == 0 or rows[-1] == 0), (step, rows)
        # the input layer sits above every change: it does not move at all
        assert all(pos1[k] == pos0[k] for k in persisting if k.startswith("input_layer/"))
        checked += calls[step] != calls[step - 1]
    assert checked >= 3


def _lay(nodes: dict, clusters: dict, edges: dict | None = None) -> Layout:
    return Layout(nodes, edges or {}, clusters, 400.0, 400.0)


def test_steady_layout_restores_columns_but_never_overlaps():
    before = _lay({"a": (50, 20, 40, 20), "b": (250, 120, 40, 20)},
                  {"f:A": (20, 0, 60, 40), "f:B": (220, 100, 60, 40)})
    # the next step's layout slid both frames left; a new frame C now sits where B was
    after = _lay({"a": (30, 20, 40, 20), "b": (150, 120, 40, 20), "c": (250, 220, 40, 20)},
                 {"f:A": (0, 0, 60, 40), "f:B": (120, 100, 60, 40), "f:C": (220, 200, 60, 40)},
                 {("a", "b"): [(30, 30), (60, 70), (120, 90), (150, 110)]})
    out = steady_layout(before, after)
    assert out.nodes["a"][0] == 50 and out.clusters["f:A"][0] == 20
    assert out.nodes["b"][0] == 250 and out.clusters["f:B"][0] == 220
    assert out.nodes["c"] == after.nodes["c"]          # new: where the layout put it
    pts = out.edges[("a", "b")]                        # re-drawn between the moved boxes
    assert pts[0][1] == 30 and abs(pts[-1][0] - 250) < 1 and abs(pts[-1][1] - 110) < 1
    # B resized: laid out afresh; C moved into B's old column would overlap: it stays put
    grown = _lay({"b": (150, 120, 40, 20), "c": (250, 125, 40, 20)},
                 {"f:B": (100, 100, 100, 40), "f:C": (220, 105, 60, 40)})
    before_c = _lay({"c": (140, 125, 40, 20)}, {"f:C": (110, 105, 60, 40)})
    assert steady_layout(before, grown).nodes == grown.nodes
    assert steady_layout(before_c, grown).nodes["c"] == grown.nodes["c"]
