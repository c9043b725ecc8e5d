"""A real window under Xvfb: start the app with --screenshot and check the pixels it drew."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

pytestmark = [pytest.mark.gui, pytest.mark.xvfb]
ROOT = Path(__file__).resolve().parent.parent
HIGHLIGHT = (0xF5, 0x9F, 0x00)    # light theme's search highlight
FORWARD = (0x2F, 0x6F, 0xDF)      # light theme's forward-phase colour


@pytest.fixture(scope="module")
def display():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    for n in range(90, 120):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1600x1000x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


def shoot(display: str, out: Path, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb",
               XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="graphstage-cfg-"))
    proc = subprocess.run(
        [sys.executable, "-m", "graphstage", "--example", "dynamicnet_torch", "--steps", "2",
         "--theme", "light", "--size", "1200x800", "--screenshot", str(out), *extra],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]


def count_near(img, rgb: tuple[int, int, int], tol: int = 24) -> int:
    from PySide6.QtGui import QColor
    n = 0
    for y in range(0, img.height(), 2):
        for x in range(0, img.width(), 2):
            c = QColor(img.pixel(x, y))
            if abs(c.red() - rgb[0]) + abs(c.green() - rgb[1]) + abs(c.blue() - rgb[2]) < tol:
                n += 1
    return n


def test_real_window_screenshot_pixels(display, tmp_path):
    from PySide6.QtGui import QImage
    plain, found = tmp_path / "plain.png", tmp_path / "found.png"
    shoot(display, plain, "--at", "0.15")
    shoot(display, found, "--at", "0.15", "--find", "mse_loss")
    img = QImage(str(plain))
    assert (img.width(), img.height()) == (1200, 800)
    colours = {img.pixel(x, y) for y in range(0, 800, 4) for x in range(0, 1200, 4)}
    assert len(colours) > 200, "the window looks blank"
    assert count_near(img, FORWARD) > 40, "no lit forward op drawn"
    hi = QImage(str(found))
    gain = count_near(hi, HIGHLIGHT) - count_near(img, HIGHLIGHT)
    assert gain > 60, f"highlighted node not visible ({gain} more highlight pixels)"
