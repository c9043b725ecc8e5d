"""Side by side on the DynamicNet twins, in a real window: hovering a box rings its counterpart in
the other pane, each pane names its own phase, and the timeline has one row per framework with
its own structure changes and (re)traces. Checked through the scene report."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.main_window import MainWindow  # noqa: E402
from graphstage.viz.gui.scene_report import scene_report  # noqa: E402
from graphstage.viz.gui.timeline import timeline_row  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.tf]
STEPS = 4


@pytest.fixture(scope="module")
def twins():
    return (trace_script(example_path("dynamicnet_torch"), STEPS, seed=0),
            trace_script(example_path("dynamicnet_tf"), STEPS, seed=0))


@pytest.fixture
def win(qtbot, twins):
    w = MainWindow(theme="light", steps=STEPS)
    qtbot.addWidget(w)
    w.remember_layout = False
    w.resize(1600, 1000)
    w.show()
    w.open_session(twins[0], "dynamicnet_torch.py", 0)
    w.open_session(twins[1], "dynamicnet_tf.py", 0, pane=1)
    qtbot.waitUntil(lambda: all(p.canvas.display is not None and not p.laying_out
                                for p in w.panes), timeout=60000)
    for p in w.panes:
        p.canvas.finish_morph()
    yield w
    w.shutdown()


def move_mouse(canvas, key: str | None) -> None:
    """A real mouse move over box key (centred first), or off every box when key is None."""
    vp = canvas.viewport()
    if key is None:
        where = QPointF(2, 2)
    else:
        canvas.centerOn(canvas.nodes[key])
        where = QPointF(canvas.mapFromScene(canvas.nodes[key].scenePos()))
    ev = QMouseEvent(QEvent.Type.MouseMove, where, QPointF(vp.mapToGlobal(where.toPoint())),
                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, ev)


def ringed(report: dict, pane: int) -> set[str]:
    return {i["key"] for i in report["panes"][pane]["items"] if i["highlighted"]}


def settle(qtbot, win) -> None:
    qtbot.waitUntil(lambda: not any(p.laying_out for p in win.panes), timeout=60000)
    for p in win.panes:
        p.canvas.finish_morph()


def test_layer_groups_link_across_panes(win, qtbot):
    """Side by side opens at the layer level: hovering, clicking or searching a layer group
    rings the same layer call's group, in the same phase, in the other pane."""
    torch_pane, tf_pane = win.panes
    assert torch_pane.layer_level and tf_pane.layer_level
    cases = [(0, "group:forward:hidden_layer#1", "group:forward:hidden_layer#1"),
             (0, "group:update:hidden_layer", "group:update:hidden_layer"),   # Adam ↔ adam/kernel
             (0, "group:backward:input_layer", "group:backward:input_layer"),
             (1, "group:backward:output_layer", "group:backward:output_layer"),
             (1, "group:update:output_layer", "group:update:output_layer")]
    for src, key, expected in cases:
        canvas = win.panes[src].canvas
        assert key in canvas.nodes and expected in win.panes[1 - src].canvas.nodes
        move_mouse(canvas, key)
        assert ringed(scene_report(win), 1 - src) == {expected}, key
    move_mouse(tf_pane.canvas, None)
    win._select(torch_pane, "group:forward:output_layer")
    assert tf_pane.canvas.nodes["group:forward:output_layer"].highlighted
    win.show_search()
    win.search_edit.setText("hidden_layer")
    for pane in win.panes:
        hits = {k for k, it in pane.canvas.nodes.items() if it.highlighted}
        assert {"group:forward:hidden_layer", "group:forward:hidden_layer#1"} <= hits
    # double-clicking a group opens it in its pane
    win._toggle(torch_pane, "group:forward:hidden_layer")
    settle(qtbot, win)
    assert "group:forward:hidden_layer" not in torch_pane.canvas.nodes
    assert "hidden_layer/linear#0" in torch_pane.canvas.nodes


def test_hover_rings_the_counterpart_in_the_other_pane(win, qtbot):
    torch_pane, tf_pane = win.panes
    win.expand_all()                            # op by op: raw ops find their counterparts too
    settle(qtbot, win)

    def tf_param(rest: str) -> str:
        """A TF variable's key (Keras names the model dynamic_net, dynamic_net_1, ... when
        earlier tests of the session built one)."""
        return next(k for k in tf_pane.canvas.nodes if k.startswith("param:")
                    and k.endswith("/" + rest))

    assert ringed(scene_report(win), 0) == ringed(scene_report(win), 1) == set()
    cases = [(0, "input_layer/linear#0", "input_layer_1/MatMul"),
             (0, "param:input_layer.weight", "input_layer/kernel"),
             (0, "param:hidden_layer.bias", "hidden_layer/bias"),
             (1, tf_param("output_layer/kernel"), "param:output_layer.weight")]
    for src, key, expected in cases:
        canvas, peer = win.panes[src].canvas, win.panes[1 - src].canvas
        peer.centerOn(next(it for k, it in peer.nodes.items() if k.endswith(expected)))
        move_mouse(canvas, key)
        report = scene_report(win)
        assert report["panes"][src]["hovered"] == key
        [other] = ringed(report, 1 - src)       # exactly the counterpart, and it is in view
        assert other.endswith(expected), (key, other)
        assert ringed(report, src) == set()     # hovering rings the other pane only
    move_mouse(tf_pane.canvas, None)            # off the boxes: the ring goes
    report = scene_report(win)
    assert report["panes"][1]["hovered"] == ""
    assert ringed(report, 0) == set()
    # a search ring outlives a hover ring on the same pane (in view or not)
    def all_ringed() -> set[str]:
        return {k for k, it in torch_pane.canvas.nodes.items() if it.highlighted}

    win.show_search()
    win.search_edit.setText("mse_loss")
    found = all_ringed()
    assert "loss_fn/mse_loss#0" in found
    move_mouse(tf_pane.canvas, tf_param("input_layer/kernel"))
    assert all_ringed() == found | {"param:input_layer.weight"}
    move_mouse(tf_pane.canvas, None)
    assert all_ringed() == found
    # a click links too; a later click in the other pane takes that pane's old ring away
    win._select(torch_pane, "param:output_layer.bias")
    assert {k for k, it in tf_pane.canvas.nodes.items() if it.highlighted} >= \
        {tf_param("output_layer/bias")}
    win._select(tf_pane, tf_param("hidden_layer/kernel"))
    assert tf_param("output_layer/bias") not in \
        {k for k, it in tf_pane.canvas.nodes.items() if it.highlighted}
    assert all_ringed() == found | {"param:hidden_layer.weight"}


def test_each_pane_names_its_own_phase(win):
    torch_pane, tf_pane = win.panes
    s = tf_pane.player.schedule
    t_back = next(s.total * f / 100 for f in range(100) if s.phase_at(s.total * f / 100)
                  == "backward")
    torch_pane.player.seek(0.0)
    tf_pane.player.seek(t_back)
    report = scene_report(win)
    left, right = report["panes"]
    assert (left["phase"], right["phase"]) == ("forward", "backward")
    assert (left["phase_shown"], right["phase_shown"]) == ("forward pass", "backward pass")
    # each indicator sits over its own pane, in its phase's colour
    for pane, phase in ((torch_pane, "forward"), (tf_pane, "backward")):
        label = pane.phase_label
        x = label.mapTo(win, QPoint(label.width() // 2, 0)).x()
        left_edge = pane.mapTo(win, QPoint(0, 0)).x()
        assert left_edge <= x <= left_edge + pane.width()
        assert win.theme.phase[phase].name() in label.text()
    assert right["phase"] != left["phase"]
    win.toggle_compare()                        # alone again: the toolbar says the phase
    assert scene_report(win)["panes"][0]["phase_shown"] == ""
    assert "forward pass" in win.phase_label.text()


def test_timeline_has_a_row_per_framework(win, twins):
    torch_s, tf_s = twins
    rows = scene_report(win)["timeline"]
    assert [r["framework"] for r in rows] == ["PyTorch", "TensorFlow"]
    torch_changes = [i + 1 for i in range(1, STEPS)
                     if set(torch_s.steps[i].edges) != set(torch_s.steps[i - 1].edges)]
    assert torch_changes                        # DynamicNet changes structure in 4 steps
    assert rows[0]["changed"] == torch_changes
    assert rows[0]["retraced"] == rows[0]["traced"] == []
    # TensorFlow traced once, at step 1, and ran that graph every step
    assert (rows[1]["traced"], rows[1]["retraced"], rows[1]["changed"]) == ([1], [], [])
    assert all(r["steps"] == STEPS for r in rows)
    top, bottom = rows[0]["rect"], rows[1]["rect"]
    assert bottom[1] >= top[1] + top[3] and min(top[3], bottom[3]) >= 30
    # the T of TensorFlow's first trace is drawn in its row, over step 1
    img = win.timeline.grab().toImage()
    r = win.timeline.row_rect(1)
    x0 = int(win.timeline._x(0))
    dark = [(x, y) for x in range(x0 - 6, x0 + 7) for y in range(int(r.top()), int(r.top()) + 12)
            if QColor(img.pixel(x, y)).lightness() < 90]
    assert len(dark) >= 6
    win.toggle_compare()
    assert [r["framework"] for r in scene_report(win)["timeline"]] == ["PyTorch"]


def test_timeline_row_marks_a_retrace(models_dir):
    """A tf.function fed batches of 8, 8, 16, 16, 8 rows: traced at step 1, retraced at 3."""
    row = timeline_row(trace_script(models_dir / "retrace_tf.py", 5))
    assert row.name == "TensorFlow"
    assert [i + 1 for i, v in enumerate(row.traced) if v] == [1]
    assert [i + 1 for i, v in enumerate(row.retraced) if v] == [3]
    assert [i + 1 for i, v in enumerate(row.changed) if v] == [3, 5]
    assert row.summary() == "2 traces, 1 retraced"


def test_minimap_fits_a_narrow_pane_and_keeps_off_the_claims_boxes(win, qtbot):
    """Zoomed in, a side-by-side pane's overview is at most a fifth of the pane and never over
    the boxes proving the claim (the hidden layer's calls); a pane too narrow hides it."""
    from graphstage.viz.gui.compare_opening import claim_keys
    from graphstage.viz.gui.minimap import minimap_size

    tf_pane = win.panes[1]
    canvas, mini = tf_pane.canvas, tf_pane.canvas.minimap
    keep = claim_keys(tf_pane)
    assert "group:forward:hidden_layer#2" in keep and mini.keep_clear == keep
    canvas.zoom(1.6)
    canvas.centerOn(canvas.nodes["group:forward:hidden_layer#1"])
    assert mini.isVisible()
    port = canvas.viewport().geometry()
    assert mini.width() <= port.width() / 5 + 1 and mini.height() <= port.height() / 5 + 1
    covered = {it.key for it in canvas.items(mini.geometry().translated(-port.topLeft()))
               if hasattr(it, "key")}
    assert not covered & keep
    assert minimap_size(1600, 900) == (240, 160)     # a wide single pane keeps the full size
    assert minimap_size(300, 400) is None            # too narrow: hidden, not a postage stamp


def test_legend_explains_the_timeline_marks(qtbot):
    """The legend's timeline section names the green structure-change tick, T (first trace),
    R (retrace, drawn in the timeline's retrace red) and the one-row-per-pane layout."""
    from graphstage.viz.gui.legend import SECTIONS, Swatch
    from graphstage.viz.gui.theme import make_theme
    from graphstage.viz.gui.timeline import RETRACE

    [entries] = [e for title, e in SECTIONS if title.startswith("Timeline")]
    specs = {e.swatch: e.text for e in entries}
    assert "structure change" in specs[("tick",)]
    assert "first trace" in specs[("text", "T", "trace")]
    assert "retrace" in specs[("text", "R", "retrace")]
    assert any("one row per pane" in t for t in specs.values())
    sw = Swatch(("text", "R", "retrace"), make_theme("light"))
    qtbot.addWidget(sw)
    img = sw.grab().toImage()
    red = sum(1 for y in range(img.height()) for x in range(img.width())
              if abs(QColor(img.pixel(x, y)).red() - RETRACE.red()) < 30
              and QColor(img.pixel(x, y)).green() < 120)
    assert red > 10


def test_a_twin_beside_brings_layers_and_new_calls_stay_folded(qtbot, twins):
    """Alone, a pane opens as always (raw ops for this small graph); a twin opened beside it
    turns both to the layer level; a later step's new hidden_layer calls fold too; closing
    the twin gives the single pane's opening back."""
    w = MainWindow(theme="light", steps=STEPS)
    qtbot.addWidget(w)
    w.remember_layout = False
    w.resize(1600, 1000)
    w.show()
    torch_pane = w.pane
    w.open_session(twins[0], "dynamicnet_torch.py", 2)     # step 3: no hidden_layer call
    settle(qtbot, w)
    assert not torch_pane.layer_level and "input_layer/linear#0" in torch_pane.canvas.nodes
    w.open_session(twins[1], "dynamicnet_tf.py", 2, pane=1)
    settle(qtbot, w)
    assert torch_pane.layer_level and w.panes[1].layer_level
    assert "group:forward:input_layer" in torch_pane.canvas.nodes
    assert "input_layer/linear#0" not in torch_pane.canvas.nodes
    w.set_step(0)                                  # step 1 calls the hidden layer 3 times
    settle(qtbot, w)
    keys = set(torch_pane.canvas.nodes)
    assert {"group:forward:hidden_layer#1", "group:forward:hidden_layer#2",
            "group:backward:hidden_layer#2"} <= keys
    assert not [k for k in keys if k.startswith("hidden_layer")]   # no raw op of the layer
    w.toggle_compare()
    settle(qtbot, w)
    assert not torch_pane.layer_level and "hidden_layer#2/linear#0" in torch_pane.canvas.nodes
    w.shutdown()


def test_examples_menu_offers_each_twin_side_by_side(qtbot):
    """File ▸ Examples lists every example, then each torch/TF pair as one side-by-side entry."""
    w = MainWindow(theme="light", steps=STEPS)
    qtbot.addWidget(w)
    w._fill_examples()
    texts = [a.text() for a in w.examples_menu.actions() if a.text()]
    assert "dynamicnet_torch" in texts and "dynamicnet: PyTorch ⇆ TensorFlow" in texts
    assert "mul: PyTorch ⇆ TensorFlow" in texts
    assert not [t for t in texts if t.startswith("dynamicnet_while") and "⇆" in t]
    opened = []
    w.open_path = lambda path, compare=False: opened.append((path, compare))
    next(a for a in w.examples_menu.actions() if a.text().startswith("dynamicnet:")).trigger()
    [(path, compare)] = opened
    assert path.endswith("dynamicnet_torch.py") and compare
    w.shutdown()
