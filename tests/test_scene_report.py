"""The --scene-json report: what `graphstage --screenshot` drew, checked against its own pixels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtGui import QColor, QImage  # noqa: E402

from graphstage.viz.gui.items import NODE_H  # noqa: E402
from graphstage.viz.gui.theme import label_font, make_theme  # noqa: E402

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parent.parent
W, H = 1200, 800


def run_app(out: Path, *args: str) -> tuple[dict, QImage]:
    """Run the app offscreen with --screenshot and --scene-json; the report and the picture."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="graphstage-cfg-"))
    png, js = out / "shot.png", out / "scene.json"
    proc = subprocess.run(
        [sys.executable, "-m", "graphstage", *args, "--theme", "light", "--size", f"{W}x{H}",
         "--screenshot", str(png), "--scene-json", str(js)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(js.read_text(encoding="utf-8")), QImage(str(png))


@pytest.fixture(scope="module")
def dyn(tmp_path_factory):
    """DynamicNet, 3 steps, 15 % into step 1's animation, with a search for mse_loss."""
    return run_app(tmp_path_factory.mktemp("dyn"), "--example", "dynamicnet_torch",
                   "--steps", "3", "--at", "0.15", "--find", "mse_loss")


def near(c: QColor, ref: QColor, tol: int = 60) -> bool:
    return abs(c.red() - ref.red()) + abs(c.green() - ref.green()) + \
        abs(c.blue() - ref.blue()) < tol


def same_hue(c: QColor, ref: QColor) -> bool:
    """A clearly coloured pixel of ref's hue (a thin antialiased pen is lighter than ref)."""
    d = abs(c.hsvHue() - ref.hsvHue()) % 360
    return c.hsvSaturationF() > 0.25 and min(d, 360 - d) < 16


def border_drawn(img: QImage, rect: list[float], hue: QColor) -> bool:
    """Whether the box's colour is painted on both the left and the top edge of rect."""
    x, y, w, h = rect

    def found(probes) -> bool:
        return any(0 <= px < img.width() and 0 <= py < img.height() and
                   same_hue(QColor(img.pixel(px, py)), hue) for px, py in probes)

    left = [(int(x) + dx, int(y + h * f)) for dx in range(-1, 2) for f in (0.3, 0.5, 0.7)]
    top = [(int(x + w * f), int(y) + dy) for dy in range(-1, 2) for f in (0.3, 0.5, 0.7)]
    return found(left) and found(top)


def test_report_lists_the_boxes_in_view(dyn):
    report, img = dyn
    assert (img.width(), img.height()) == (W, H)
    assert report["legend"] is True
    assert isinstance(report["caption"], str)
    [pane] = report["panes"]
    assert pane["framework"] == "PyTorch" and pane["step"] == 1
    assert pane["phase"] in ("forward", "backward", "update")
    items = pane["items"]
    assert len(items) >= 10
    fields = {"key", "label", "kind", "phase", "group", "rect", "text_px", "highlighted", "lit"}
    assert all(set(it) == fields for it in items)
    for it in items:
        x, y, w, h = it["rect"]
        assert w > 10 and h > 5, it
        assert x + w > 0 and y + h > 0 and x < W and y < H, it
    # every rect is where the picture shows that box: its kind's or phase's colour on its edge
    theme = make_theme("light")
    inside = [it for it in items if it["kind"] != "constant"   # grey: no hue to look for
              and not it["highlighted"]                          # ringed in the search colour
              and it["rect"][0] > 2 and it["rect"][1] > 2
              and it["rect"][0] + it["rect"][2] < W * 0.7]
    drawn = [border_drawn(img, it["rect"], theme.hue(it["kind"], it["phase"])) for it in inside]
    assert inside and sum(drawn) >= 0.8 * len(inside), [
        it["label"] for it, d in zip(inside, drawn, strict=True) if not d]


def test_report_text_size_matches_the_zoom(dyn):
    items = dyn[0]["panes"][0]["items"]
    boxes = [it for it in items if not it["group"]]
    for it in boxes:
        # a box is NODE_H scene units tall, so its height in pixels gives the zoom
        zoom = it["rect"][3] / NODE_H
        assert abs(it["text_px"] - label_font().pixelSize() * zoom) < 0.6, it
    low = min(it["text_px"] for it in items)
    print(f"\nDynamicNet at its opening zoom: smallest label {low:.2f} px")


def test_report_marks_search_matches_and_lit_boxes(dyn):
    items = dyn[0]["panes"][0]["items"]
    hit = {it["key"] for it in items if it["highlighted"]}
    assert hit and all("mse_loss" in k for k in hit)
    lit = [it for it in items if it["lit"]]
    assert lit, "15 % into the step something is executing"
    theme = make_theme("light")
    for it in lit:     # an executing box is filled with its colour
        x, y, w, h = it["rect"]
        c = QColor(dyn[1].pixel(int(x + 4), int(y + h / 2)))
        assert near(c, theme.hue(it["kind"], it["phase"]), 90), (it, c.name())


def test_report_of_the_welcome_view(tmp_path):
    report, img = run_app(tmp_path)
    assert report["legend"] is True
    assert report["panes"][0]["items"] == [] and report["panes"][0]["framework"] == ""
    assert not img.isNull()


def test_report_follows_the_step_and_its_banner(tmp_path):
    from graphstage.tracers.run import trace_script
    from graphstage.tracers.script import example_path
    same = trace_script(example_path("mul_torch"), 2, seed=0).steps[1].graph.get(
        "same_as_previous", False)
    report, _ = run_app(tmp_path, "--example", "mul_torch", "--steps", "2", "--step", "2")
    [pane] = report["panes"]
    assert pane["step"] == 2
    assert pane["banner"].startswith("autograd rebuilt the graph this step")
    assert ("structure happens to match step 1" in pane["banner"]) == same
    labels = {it["label"] for it in pane["items"]}
    assert {"a", "b"} <= labels           # mul_torch's two leaves, named as in the script


def test_scene_json_needs_screenshot():
    proc = subprocess.run([sys.executable, "-m", "graphstage", "--scene-json", "x.json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--scene-json needs --screenshot" in proc.stderr
