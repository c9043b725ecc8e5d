"""Behaviour of the desktop app, offscreen: load, play, steps, collapse, search, export, errors."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="graphstage-cfg-"))

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.export import export_animation  # noqa: E402
from graphstage.viz.gui.items import NodeItem  # noqa: E402
from graphstage.viz.gui.main_window import MainWindow  # noqa: E402
from graphstage.viz.gui.viewgraph import build_display  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def dyn():
    """DynamicNet traced for 6 steps once (its depth changes between steps)."""
    return trace_script(example_path("dynamicnet_torch"), 6, seed=0)


@pytest.fixture(scope="module")
def mul():
    return trace_script(example_path("mul_torch"), 1, seed=0)


@pytest.fixture
def win(qtbot):
    w = MainWindow(theme="light", steps=3)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    w.shutdown()


def show(qtbot, win, session, step=0, pane=0):
    with qtbot.waitSignal(win.loadFinished, timeout=20000):
        win.panes[pane].controller.set_session(session, "test", step)
    win.panes[pane].canvas.finish_morph()


def scene_keys(win, pane=0) -> set[str]:
    """Keys of the node items actually in the scene (not fading out)."""
    canvas = win.panes[pane].canvas
    return {it.key for it in canvas.scene().items()
            if isinstance(it, NodeItem) and it.opacity() > 0.99}


def test_node_set_follows_every_step(qtbot, win, dyn):
    show(qtbot, win, dyn)
    c = win.pane.controller
    counts = set()
    for step in range(5):
        with qtbot.waitSignal(win.pane.shown, timeout=20000):
            win.set_step(step) if step else win.pane.refresh("step")
        win.pane.canvas.finish_morph()
        g = dyn.steps[step]
        assert scene_keys(win) == {a["key"] for _, a in g.nodes(data=True)}
        counts.add(g.number_of_nodes())
        assert c.step == step
    assert len(counts) > 1, "the 5 steps should include a depth change"
    # with a scope collapsed, the scene shows the group instead of its members
    with qtbot.waitSignal(win.pane.shown, timeout=20000):
        c.toggle_scope("input_layer")
    win.pane.canvas.finish_morph()
    expected = build_display(dyn.steps[4], {"input_layer"})
    assert scene_keys(win) == set(expected.nodes)
    assert "group:forward:input_layer" in scene_keys(win)
    members = expected.nodes["group:forward:input_layer"].members
    assert {dyn.steps[4].nodes[m]["key"] for m in members} >= {"input_layer/linear#0",
                                                                "param:input_layer.weight"}


def test_step_change_morphs_and_marks_added(qtbot, win, dyn):
    show(qtbot, win, dyn, step=2)          # step 3: no hidden layer call
    before = scene_keys(win)
    with qtbot.waitSignal(win.pane.canvas.morphStarted, timeout=20000):
        win.set_step(3)
    assert win.pane.canvas.morphing
    qtbot.waitUntil(lambda: not win.pane.canvas.morphing, timeout=5000)
    after = scene_keys(win)
    added = after - before
    assert added and all(win.pane.canvas.nodes[k].added for k in added)
    assert not any(win.pane.canvas.nodes[k].added for k in after & before)
    assert "hidden_layer" in win.diff_label.text()
    assert win.timeline.step == 3


def test_play_forward_then_backward(qtbot, win, dyn):
    show(qtbot, win, dyn, step=0)
    player = win.pane.player
    player.speed = 4.0
    win._autoadvance = False
    win.toggle_play()
    assert player.playing
    sched = player.schedule
    qtbot.waitUntil(lambda: player.t > sched.phase_start["backward"] + sched.beat, timeout=15000)
    items = win.pane.canvas.nodes
    g = dyn.steps[0]
    fwd = [a["key"] for _, a in g.nodes(data=True) if a["phase"] == "forward" and a["order"] >= 0]
    assert all(items[k].state == "done" for k in fwd)
    assert any(items[k].state == "active" for k in items
               if items[k].phase == "backward") or player.t > sched.total
    qtbot.waitUntil(lambda: not player.playing, timeout=20000)
    assert all(it.state == "done" for it in items.values())
    # 'step one op' from the first op lights exactly the second one
    player.seek(0.0)
    assert items[sched.events[0].key].state == "active"
    player.step_op()
    assert items[sched.events[1].key].state == "active"
    assert items[sched.events[0].key].state == "done"
    assert sum(it.state == "active" for it in items.values()) == 1


def test_one_clock_drives_everything(qtbot, win, dyn):
    show(qtbot, win, dyn)
    win._autoadvance = False
    win.toggle_play()
    qtbot.wait(200)
    timers = [t for t in win.findChildren(QTimer) if t.isActive()]
    assert timers == [win.clock._timer]
    win.toggle_play()


def test_double_click_collapses_and_expands(qtbot, win, dyn):
    show(qtbot, win, dyn, step=0)
    canvas = win.pane.canvas
    item = canvas.nodes["output_layer/linear#0"]
    with qtbot.waitSignal(win.pane.shown, timeout=20000):
        qtbot.mouseDClick(canvas.viewport(), qtbot_left(),
                          pos=canvas.mapFromScene(item.pos()))
    canvas.finish_morph()
    assert "group:forward:output_layer" in canvas.nodes
    assert "output_layer/linear#0" not in canvas.nodes
    group = canvas.nodes["group:forward:output_layer"]
    t0 = time.perf_counter()
    with qtbot.waitSignal(win.pane.shown, timeout=20000):
        qtbot.mouseDClick(canvas.viewport(), qtbot_left(),
                          pos=canvas.mapFromScene(group.pos()))
    assert time.perf_counter() - t0 < 5
    assert "output_layer/linear#0" in canvas.nodes


def qtbot_left():
    from PySide6.QtCore import Qt
    return Qt.MouseButton.LeftButton


def test_search_highlights_and_centres(qtbot, win, dyn):
    show(qtbot, win, dyn, step=0)
    win.show_search()
    win.search_edit.setText("mse")
    canvas = win.pane.canvas
    hits = {k for k, it in canvas.nodes.items() if it.highlighted}
    assert hits == {"loss_fn/mse_loss#0", "loss_fn/mse_loss#0/MseLossBackward0#0"}
    first = win._matches[0]
    canvas.scale(3, 3)   # zoomed in, the match must still be brought into view
    win.next_match()
    win.next_match()
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(canvas.nodes[first].sceneBoundingRect())
    assert win.pane.controller.selected == first
    win.search_edit.setText("")
    assert not any(it.highlighted for it in canvas.nodes.values())


def test_inspector_values_and_jump(qtbot, win, mul):
    show(qtbot, win, mul)
    c = win.pane.controller
    c.select("mul#0")
    text = win.inspector.toPlainText()
    assert "300" in text and "MulBackward0" in text
    c.select("mul#0/MulBackward0#0")
    text = win.inspector.toPlainText()
    assert re.search(r"∇ a.*20", text) and re.search(r"∇ b.*15", text)
    assert "saved for backward" in text
    win._jump("f0")      # the forward counterpart link
    assert c.selected == "mul#0"
    assert win.pane.canvas.nodes["mul#0"].isSelected()


def test_export_png_svg_pdf_match_canvas(qtbot, win, dyn, tmp_path):
    show(qtbot, win, dyn, step=3)
    labels = {it.label for it in win.pane.canvas.nodes.values()}
    svg = win.export_current(str(tmp_path / "g.svg"))
    text = svg.read_text(encoding="utf-8")
    svg_texts = {re.sub(r"\s+", " ", t).strip()
                 for t in re.findall(r"<text[^>]*>([^<]*)</text>", text)}
    assert labels <= svg_texts
    png = win.export_current(str(tmp_path / "g.png"))
    img = QImage(str(png))
    view = win.pane.canvas.viewport().size()
    assert img.width() > view.width() or img.height() > view.height()
    pdf = win.export_current(str(tmp_path / "g.pdf"))
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 2000


def test_export_gif_and_every_step(qtbot, win, dyn, tmp_path):
    show(qtbot, win, dyn, step=0)
    gif = export_animation(win.pane, tmp_path / "a.gif", fps=2, width=300)
    img = QImage(str(gif))    # Qt's own GIF reader; tests/test_video*.py check frames in detail
    assert not img.isNull() and img.width() == 300
    files = win.export_all(str(tmp_path), "svg")
    assert len(files) == 6 and all(f.stat().st_size > 1000 for f in files)


def test_script_error_shows_traceback_and_app_stays_usable(qtbot, win, tmp_path):
    bad = tmp_path / "broken_torch.py"
    bad.write_text("FRAMEWORK = 'torch'\n\ndef setup():\n    return 1 / 0\n")
    with qtbot.waitSignal(win.loadFailed, timeout=60000):
        win.open_path(str(bad))
    box = win.error_box
    assert box is not None and box.isVisible()
    assert "ZeroDivisionError" in box.text()
    assert "broken_torch.py" in box.detailedText() and "1 / 0" in box.detailedText()
    box.close()
    with qtbot.waitSignal(win.loadFinished, timeout=60000):
        win.open_path(str(example_path("mul_torch")))
    assert "mul#0" in win.pane.canvas.nodes


SLOW = """
import time
import torch
FRAMEWORK = "torch"

def setup():
    w = torch.ones(3, requires_grad=True)
    def step():
        time.sleep(0.4)
        loss = (w * 2).sum()
        loss.backward()
        return loss
    return {"step": step, "params": {"w": w}}
"""


def test_gui_responsive_while_tracing_and_cancel(qtbot, win, tmp_path):
    slow = tmp_path / "slow_torch.py"
    slow.write_text(SLOW)
    win.steps = 100
    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    win.open_path(str(slow))
    assert win.cancel_button.isVisible() and win.progress.isVisible()
    qtbot.waitUntil(lambda: win.progress.maximum() == 100 and win.progress.value() >= 2,
                    timeout=60000)
    ticks.clear()
    qtbot.wait(1500)
    assert len(ticks) >= 35, f"event loop starved: {len(ticks)} ticks in 1.5 s"
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert max(gaps) < 0.25
    t0 = time.perf_counter()
    with qtbot.waitSignal(win.loadFailed, timeout=10000) as sig:
        win.cancel_button.click()
    assert sig.args == ["cancelled"]
    assert time.perf_counter() - t0 < 3
    qtbot.waitUntil(lambda: not win.loading and not win.cancel_button.isVisible(),
                    timeout=5000)
    timer.stop()


def test_overlay_and_theme(qtbot, win, dyn):
    show(qtbot, win, dyn, step=0)
    win.overlay.setCurrentText("gradient")
    canvas = win.pane.canvas
    assert canvas.legend is not None and canvas.legend[0] == "gradient RMS"
    colored = {k for k, it in canvas.nodes.items() if it.overlay is not None}
    assert "param:hidden_layer.weight" in colored and "input:inputs" not in colored
    win.overlay.setCurrentText("none")
    assert canvas.legend is None
    win.toggle_theme()
    assert win.theme.dark and canvas.backgroundBrush().color() == win.theme.background
    win.toggle_theme()


def test_main_screenshot_offscreen(tmp_path):
    """`graphstage --example NAME --step K --screenshot out.png` writes the window and exits."""
    import subprocess
    import sys
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "graphstage", "--example", "mul_torch", "--steps",
                           "1", "--step", "1", "--screenshot", str(out), "--size", "900x600"],
                          env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (900, 600)


def test_minimap_shows_for_big_views_and_navigates(qtbot, win, dyn):
    show(qtbot, win, dyn, step=0)
    canvas = win.pane.canvas
    canvas.fit()
    qtbot.wait(30)                                   # the minimap follows on the next turn
    assert not canvas.minimap.isVisible()            # the whole graph fits: no overview needed
    canvas.zoom(4.0)
    qtbot.waitUntil(canvas.minimap.isVisible, timeout=2000)
    graph = canvas.scene().itemsBoundingRect()
    target = canvas.nodes["output_layer/linear#0"].pos()
    assert not canvas.minimap.visible_rect().contains(target) or graph.height() < 50
    from PySide6.QtCore import QPoint, QPointF, Qt
    click = canvas.minimap.mapFromScene(QPointF(target))
    qtbot.mouseClick(canvas.minimap.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(click))
    assert canvas.minimap.visible_rect().contains(target)
    canvas.fit()
    qtbot.waitUntil(lambda: not canvas.minimap.isVisible(), timeout=2000)


def test_while_body_opens_in_place(qtbot, win):
    pytest.importorskip("tensorflow")
    session = trace_script(example_path("dynamicnet_while_tf"), 1, seed=0)
    show(qtbot, win, session)
    with qtbot.waitSignal(win.pane.shown, timeout=30000):
        win.expand_all()
    canvas = win.pane.canvas
    canvas.finish_morph()
    loop = next(k for k, it in canvas.nodes.items()
                if it.phase == "forward" and "While" in it.detail)
    before = scene_keys(win)
    with qtbot.waitSignal(win.pane.shown, timeout=20000):
        canvas.nodeDoubleClicked.emit(loop)            # what a double-click on the box sends
    canvas.finish_morph()
    inline = scene_keys(win) - before
    ops = {canvas.display.nodes[k].attrs["op"] for k in inline}
    assert {"MatMul", "Relu"} <= ops                   # the hidden layer runs inside the loop
    assert all(k.startswith(loop + "::") for k in inline)
    win._select(win.pane, next(k for k in inline if canvas.display.nodes[k].attrs["op"] == "Relu"))
    assert "Relu" in win.inspector.toPlainText()
    with qtbot.waitSignal(win.pane.shown, timeout=20000):
        canvas.nodeDoubleClicked.emit(loop)
    canvas.finish_morph()
    assert scene_keys(win) == before
