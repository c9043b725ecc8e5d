"""Orientation: the welcome view, the legend, and settings that command-line options leave alone."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="graphstage-cfg-"))

import pytest  # noqa: E402

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from graphstage.tracers.contract import KINDS, ROLES  # noqa: E402
from graphstage.tracers.script import list_examples  # noqa: E402
from graphstage.viz.gui.legend import SECTIONS, Swatch  # noqa: E402
from graphstage.viz.gui.main_window import MainWindow  # noqa: E402
from graphstage.viz.gui.theme import make_theme  # noqa: E402
from graphstage.viz.gui.welcome import CLAIMS, example_claim  # noqa: E402

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def win(qtbot):
    w = MainWindow(theme="light", steps=1)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    w.shutdown()


def test_welcome_lists_every_example_and_opens_one(qtbot, win):
    assert win.welcome.isVisible() and win.welcome.geometry() == win.splitter.geometry()
    win.resize(1000, 700)
    qtbot.waitUntil(lambda: win.welcome.geometry() == win.splitter.geometry())
    assert set(win.welcome.cards) == set(list_examples())
    assert set(CLAIMS) == set(list_examples()), "write a one-line claim for each example"
    for name, card in win.welcome.cards.items():
        assert card.claim.text() == example_claim(name) and len(card.claim.text()) > 20
    pytest.importorskip("torch")
    card = win.welcome.cards["mul_torch"]
    with qtbot.waitSignal(win.loadFinished, timeout=60000):
        qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert not win.welcome.isVisible()
    assert win.pane.controller.session.model == "Multiply"


def test_mul_claims_state_the_traced_numbers():
    pytest.importorskip("torch")
    from graphstage.tracers.run import trace_script
    from graphstage.tracers.script import example_path
    g = trace_script(example_path("mul_torch"), 1, seed=0).steps[0]
    loss = next(a for _, a in g.nodes(data=True) if a["kind"] == "loss")
    grads = {a["label"]: a["grad"]["values"][0] for _, a in g.nodes(data=True)
             if a["kind"] == "parameter"}
    want = (loss["value"]["values"][0], grads["a"], grads["b"])
    for name in ("mul_torch", "mul_tf", "mul_tf1"):
        m = re.search(r"→ (\d+).*dc/da = (\d+), dc/db = (\d+)", CLAIMS[name])
        assert m and tuple(float(v) for v in m.groups()) == want, name


def test_legend_is_shown_by_default_and_toggles(qtbot, win):
    assert win.legend_dock.isVisible()
    toggle = win.legend_dock.toggleViewAction()
    assert toggle.shortcut().toString() == "F1"
    toggle.trigger()
    assert not win.legend_dock.isVisible()
    toggle.trigger()
    assert win.legend_dock.isVisible()


def test_legend_explains_every_kind_and_drawn_arrow():
    specs = [e.swatch for _, entries in SECTIONS for e in entries]
    kinds = {s[1] for s in specs if s[0] == "node"}
    roles = {s[1] for s in specs if s[0] == "edge"}
    assert set(KINDS) <= kinds
    assert set(ROLES) - {"saved"} <= roles      # saved tensors are not drawn as arrows
    text = " ".join(e.text for _, entries in SECTIONS for e in entries)
    for term in ("()", "?", "45 n", "dashed", "solid", "new in this step", "search match"):
        assert term in text, term


@pytest.mark.parametrize("name", ["light", "dark"])
def test_legend_swatches_use_the_theme_colours(qtbot, name):
    theme = make_theme(name)
    for kind in ("parameter", "loss", "input"):
        sw = Swatch(("node", kind, "forward", "w", "scalar"), theme)
        qtbot.addWidget(sw)
        img = sw.grab().toImage()
        want = theme.kind[kind]
        hits = sum(1 for y in range(img.height()) for x in range(img.width())
                   if _close(QColor(img.pixel(x, y)), want))
        assert hits > 30, (kind, hits)


def _close(c: QColor, ref: QColor) -> bool:
    return abs(c.red() - ref.red()) + abs(c.green() - ref.green()) + \
        abs(c.blue() - ref.blue()) < 40


def test_theme_toggle_is_saved_but_a_given_theme_is_not(qtbot, win):
    settings = QSettings("graphstage", "graphstage")
    win.toggle_theme()                          # the user's choice: saved
    assert settings.value("theme") == "dark"
    other = MainWindow(theme="light")           # what `--theme light` does: not saved
    qtbot.addWidget(other)
    assert other.theme.name == "light"
    assert QSettings("graphstage", "graphstage").value("theme") == "dark"
    other.shutdown()


def test_command_line_options_leave_saved_settings_alone(tmp_path):
    cfg = tmp_path / "cfg"
    conf = cfg / "graphstage" / "graphstage.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[General]\ntheme=light\n", encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "graphstage", "--theme", "dark", "--size", "900x600",
         "--screenshot", str(tmp_path / "w.png")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "w.png").exists()
    saved = configparser.ConfigParser()
    saved.read(conf)
    assert saved["General"]["theme"] == "light"
    assert "geometry" not in saved["General"] and "state" not in saved["General"]


def test_welcome_returns_when_a_load_fails(qtbot, win, tmp_path):
    bad = tmp_path / "bad_model.py"
    bad.write_text("raise RuntimeError('broken model script')\n", encoding="utf-8")
    with qtbot.waitSignal(win.loadFailed, timeout=60000):
        win.open_path(str(bad))
        assert not win.welcome.isVisible()      # hidden while loading
    assert win.welcome.isVisible()
