"""GIF/MP4 export from the app (progress dialog, Cancel, no blocking) and from the command line
(``graphstage export --animate``), on real DynamicNet and Multiply traces, read back independently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="graphstage-cfg-"))

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
Image = pytest.importorskip("PIL.Image")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QProgressDialog, QPushButton  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.animation import Schedule  # noqa: E402
from graphstage.viz.gui.export import export_animation_dialog, frame_times  # noqa: E402
from graphstage.viz.gui.main_window import MainWindow  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def dyn():
    return trace_script(example_path("dynamicnet_torch"), 2, seed=0)


@pytest.fixture
def win(qtbot, dyn):
    w = MainWindow(theme="light", steps=2)
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    with qtbot.waitSignal(w.loadFinished, timeout=30000):
        w.open_session(dyn)
    w.pane.canvas.finish_morph()
    yield w
    w.shutdown()


def gif_length_ms(gif) -> int:
    """The sum of a GIF's frame delays, as Pillow decodes them."""
    total = 0
    for i in range(gif.n_frames):
        gif.seek(i)
        total += gif.info["duration"]
    return total


def ticking():
    """A 20 ms timer on the GUI thread recording when it fires (gaps = GUI blocked)."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    return timer, ticks


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_app_export_runs_in_slices_with_progress(qtbot, win, tmp_path, fmt):
    path = tmp_path / f"step.{fmt}"
    win.pane.player.seek(1.0)
    timer, ticks = ticking()
    seen = []
    job = export_animation_dialog(win, win.pane, str(path), win.status_text.setText,
                                  win.show_error, fps=3, width=400)
    job.progress.connect(lambda d, t: seen.append((d, t)))
    dialog = win.findChild(QProgressDialog)
    assert dialog is not None and dialog.isVisible()
    with qtbot.waitSignal(job.finished, timeout=120000) as sig:
        pass
    timer.stop()
    assert sig.args == [path] and win.status_text.text() == f"Exported {path}"
    assert not dialog.isVisible()
    expected = len(frame_times(win.pane.player.schedule.total, 3))
    assert job.total == expected and seen[-1] == (expected, expected)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen), "progress only goes forward"
    # one frame per event-loop turn: slices are short (the bounds leave room for a loaded CI)
    slices = sorted(job.slice_times)
    assert slices[len(slices) // 2] < 0.05 and slices[-1] < 0.25, slices[-5:]
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 5 and max(gaps) < 0.25, max(gaps)
    assert win.pane.player.t == pytest.approx(1.0), "the player is back where it was"
    if fmt == "mp4":
        meta = next(imageio_ffmpeg.read_frames(str(path)))
        assert meta["codec"].startswith("h264")
        assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == expected
    else:
        gif = Image.open(path)
        assert gif.size[0] == 400 and 1 < gif.n_frames <= expected
        assert gif_length_ms(gif) == pytest.approx(expected * 1000 / 3, abs=5)


def test_app_export_cancel(qtbot, win, tmp_path):
    path = tmp_path / "step.mp4"
    job = export_animation_dialog(win, win.pane, str(path), win.status_text.setText,
                                  win.show_error, fps=6, width=400)
    qtbot.waitUntil(lambda: job.encoder.encoded >= 3, timeout=60000)
    dialog = win.findChild(QProgressDialog)
    with qtbot.waitSignal(job.cancelled, timeout=30000):
        dialog.findChild(QPushButton).click()          # the dialog's Cancel button
    assert win.status_text.text() == "Export cancelled"
    assert job.encoder.encoded < job.total and not path.exists()
    assert not job.running and not dialog.isVisible()


def _cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "graphstage", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_animate_gif_per_step_without_a_display(dyn, tmp_path):
    trace = dyn.save(tmp_path / "dyn.json")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = _cli("export", trace, "--animate", "--fps", 2, "-o", tmp_path / "out", env=env)
    assert res.returncode == 0, res.stderr
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == ["step_0000.gif", "step_0001.gif"]
    for step, f in enumerate(files):
        g = dyn.steps[step]
        n = len(frame_times(Schedule(g, {k: k for k in g.nodes}).total, 2))
        assert f"animating gif: {n}/{n} step {step + 1}/2" in res.stderr
        gif = Image.open(f)
        assert 1 < gif.n_frames <= n and gif.info.get("loop") == 0
        assert gif_length_ms(gif) == pytest.approx(n * 1000 / 2, abs=5)


def test_cli_mp4_from_a_script(tmp_path):
    res = _cli("export", "mul_torch", "--format", "mp4", "--fps", 10, "-o", tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "step_0000.mp4"
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert meta["codec"].startswith("h264") and meta["pix_fmt"].startswith("yuv420p")
    assert all(x % 2 == 0 for x in meta["size"])
    session = trace_script(example_path("mul_torch"), 1, seed=0)
    g = session.steps[0]
    n = len(frame_times(Schedule(g, {k: k for k in g.nodes}).total, 10))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == n
    assert "1 mp4 animation(s)" in res.stdout


def test_cli_animate_rejects_image_formats(tmp_path):
    res = _cli("export", "mul_torch", "--animate", "--format", "png", "-o", tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == \
        "graphstage: error: --animate writes gif or mp4, not png"
