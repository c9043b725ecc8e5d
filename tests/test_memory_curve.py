"""Saved-for-backward memory through a step: the curve's peak equals what
saved_tensors_hooks packs in the same step, it returns to zero, and a click selects an op."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PySide6")

from graphstage.tracers import torch_tracer  # noqa: E402
from graphstage.tracers.script import example_path, load_script  # noqa: E402
from graphstage.viz.gui.memory import peak, saved_memory_curve  # noqa: E402


def test_curve_peaks_at_the_saved_total_and_frees_it():
    ms = load_script(example_path("cnn_torch"))
    packed = []
    step = ms.step

    def hooked():
        with torch.autograd.graph.saved_tensors_hooks(
                lambda t: packed.append(t.numel() * t.element_size()) or t, lambda t: t):
            return step()

    ms.step = hooked
    graph = torch_tracer.trace(ms, 1).graph(0)
    curve = saved_memory_curve(graph)
    node, most = peak(curve)
    assert most == sum(packed) > 0        # everything is alive when backward starts...
    assert curve[-1][1] == 0               # ...and freed by the time it ends
    assert graph.nodes[node]["phase"] == "forward"
    forward = [b for n, b in curve if graph.nodes[n]["phase"] == "forward"]
    assert forward == sorted(forward)      # forward only adds


def test_widget_selects_the_op_at_the_click(qtbot):
    from PySide6.QtCore import QPointF, Qt

    from graphstage.viz.gui.memory import MemoryCurveWidget
    from graphstage.viz.gui.theme import make_theme

    graph = torch_tracer.trace(load_script(example_path("dynamicnet_torch")), 1).graph(0)
    w = MemoryCurveWidget(make_theme("light"))
    qtbot.addWidget(w)
    w.resize(600, 48)
    w.set_graph(graph)
    with qtbot.waitSignal(w.nodeRequested) as blocker:
        qtbot.mouseClick(w, Qt.MouseButton.LeftButton, pos=QPointF(77, 20).toPoint())
    assert blocker.args[0] == saved_memory_curve(graph)[0][0]


def test_a_long_curve_draws_its_envelope(qtbot):
    """Over two points per pixel column, the widget draws each column's lowest and highest
    point: the peak and every low survive, and a 600-px curve is at most 1,200 points."""
    from graphstage.viz.gui.memory import MemoryCurveWidget, envelope
    from graphstage.viz.gui.theme import make_theme

    graph = torch_tracer.trace(load_script(example_path("cnn_torch")), 1).graph(0)
    curve = saved_memory_curve(graph)
    columns = max(2, len(curve) // 5)
    points = envelope(curve, columns)
    assert len(points) <= 2 * columns < len(curve)
    values = [b for _, b in curve]
    assert max(b for _, b in points) == max(values) and min(b for _, b in points) == min(values)
    for c in range(columns):      # every column's extremes are drawn at their own places
        lo, hi = c * len(curve) // columns, (c + 1) * len(curve) // columns
        part = values[lo:hi]
        mine = [b for f, b in points if lo <= round(f * (len(curve) - 1)) < hi]
        assert max(mine) == max(part) and min(mine) == min(part)
    w = MemoryCurveWidget(make_theme("light"))
    qtbot.addWidget(w)
    w.resize(600, 48)
    w.set_graph(graph)
    w.grab()                                  # paints through the envelope
    assert len(w._points(int(w._plot().width()))) <= 2 * int(w._plot().width())
