"""GIF (Pillow) and H.264 MP4 (imageio-ffmpeg) encoding of frames the app renders from real traces.

The frames are a real DynamicNet step's animation drawn by the app's graph pane offscreen; every
file is read back with an independent decoder (Pillow for GIF, imageio-ffmpeg's ffmpeg for MP4).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
Image = pytest.importorskip("PIL.Image")

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.video import (  # noqa: E402
    BackgroundEncoder,
    EncodeCancelled,
    encode,
    gif_durations,
)
from tests.conftest import ROOT  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def frames(qapp):
    """16 frames (480 px wide) of DynamicNet's first step, forward to update, from the app."""
    from graphstage.viz.gui.animation import AnimationClock
    from graphstage.viz.gui.export import FrameGrabber, show_step
    from graphstage.viz.gui.pane import StagePane
    from graphstage.viz.gui.theme import make_theme
    from graphstage.viz.gui.workers import LayoutWorker
    from graphstage.viz.layout import LayoutCache

    session = trace_script(example_path("dynamicnet_torch"), 1, seed=0)
    layouts = LayoutWorker(LayoutCache())
    pane = StagePane(AnimationClock(), layouts, make_theme("light"))
    pane.resize(480, 320)
    pane.show()
    try:
        show_step(pane, session, 0)
        pane.canvas.fit()
        total = pane.player.schedule.total
        grabber = FrameGrabber(pane, fps=15 / total, width=480)
        out = list(grabber.frames())
    finally:
        layouts.stop()
        pane.close()
    assert len(out) == 16
    return out


def runs(frames: list[np.ndarray]) -> list[int]:
    """Lengths of the runs of identical consecutive frames."""
    lengths = [1]
    for a, b in zip(frames, frames[1:], strict=False):
        if np.array_equal(a, b):
            lengths[-1] += 1
        else:
            lengths.append(1)
    return lengths


def fixed_palette() -> np.ndarray:
    """The 216-colour cube + 40 greys the hand-written encoder used to map every frame to."""
    cube = [(r * 51, g * 51, b * 51) for r in range(6) for g in range(6) for b in range(6)]
    grays = [(round(i * 255 / 39),) * 3 for i in range(40)]
    return np.array(cube + grays, dtype=np.int32)


def nearest_error(rgb: np.ndarray, palette: np.ndarray) -> float:
    """Mean absolute error of rgb mapped to its nearest palette colours."""
    px = rgb.reshape(-1, 3).astype(np.int32)
    colors, inverse = np.unique(px, axis=0, return_inverse=True)
    d = ((colors[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
    mapped = palette[d.argmin(axis=1)][inverse.ravel()]
    return float(np.abs(mapped - px).mean())


def test_frames_differ_and_have_many_colours(frames):
    assert len(runs(frames)) >= 10, "the animation should change from frame to frame"
    colours = len(np.unique(frames[8].reshape(-1, 3), axis=0))
    assert colours > 256


def test_gif_frames_durations_loop_and_adaptive_palette(frames, tmp_path):
    fps = 12.0
    out = encode(frames, tmp_path / "a.gif", fps)
    gif = Image.open(out)
    assert gif.size == (frames[0].shape[1], frames[0].shape[0])
    assert gif.info.get("loop") == 0, "loops forever"
    lengths = runs(frames)
    assert gif.n_frames == len(lengths)
    decoded, durations = [], []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
        decoded.append(np.asarray(gif.convert("RGB")))
    # frame k of the source is due at k/fps: each GIF frame starts at its first source frame's
    # time, to the 1/100 s a GIF can say, and the whole file lasts len(frames)/fps
    firsts = np.cumsum([0, *lengths[:-1]])
    starts = np.cumsum([0, *durations[:-1]])
    assert np.all(np.abs(starts - firsts * 1000 / fps) <= 5)
    assert abs(sum(durations) - len(frames) * 1000 / fps) <= 5
    # the palette is adaptive: each decoded frame is closer to its source than the best a fixed
    # 256-colour palette could do, and uses colours that palette lacks
    fixed = fixed_palette()
    fixed_set = {tuple(c) for c in fixed}
    for k, (img, first) in enumerate(zip(decoded, firsts, strict=True)):
        src = frames[first]
        err = np.abs(img.astype(np.int32) - src.astype(np.int32)).mean()
        assert err < 1.0, (k, err)     # frames that reuse a palette stay close too
        if k % 4 == 0:
            assert err < nearest_error(src, fixed) / 2, k
        used = {tuple(c) for c in np.unique(img.reshape(-1, 3), axis=0)}
        assert len(used - fixed_set) > 50, k


def test_gif_durations_track_the_clock():
    # an independent restatement: frame i ends at i+1 frames of 1000/fps ms, rounded to 10 ms
    for fps in (7.0, 12.0, 15.0, 24.0, 30.0):
        d = gif_durations(200, fps)
        assert all(x % 10 == 0 and x >= 20 for x in d)
        ends = np.cumsum(d)
        assert np.all(np.abs(ends - np.arange(1, 201) * 1000 / fps) <= 5)


def test_mp4_is_h264_yuv420p_with_every_frame(frames, tmp_path):
    odd = [f[:-1, :-1] for f in frames]           # odd width and height: padded to even
    out = encode(odd, tmp_path / "a.mp4", 10.0)
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert meta["codec"].startswith("h264")
    assert meta["pix_fmt"].startswith("yuv420p")
    w, h = meta["size"]
    assert (w, h) == (odd[0].shape[1] + 1, odd[0].shape[0] + 1) and w % 2 == 0 == h % 2
    assert meta["fps"] == 10.0
    decoded = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]
    assert len(decoded) == len(frames)
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n == len(frames) and secs == pytest.approx(len(frames) / 10.0, abs=0.11)
    # the picture is the frame that was sent (lossy, so compared loosely), in order
    for k in (0, 7, 15):
        err = np.abs(decoded[k][:-1, :-1].astype(int) - odd[k].astype(int)).mean()
        others = [np.abs(decoded[k][:-1, :-1].astype(int) - odd[j].astype(int)).mean()
                  for j in (0, 7, 15) if j != k and not np.array_equal(odd[j], odd[k])]
        assert err < 3.0 and all(err < o for o in others), (k, err, others)


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_cancel_stops_the_encode_and_removes_the_file(frames, tmp_path, fmt):
    pulled = []

    def source():
        for f in frames:
            pulled.append(1)
            yield f

    path = tmp_path / f"c.{fmt}"
    with pytest.raises(EncodeCancelled):
        encode(source(), path, 10.0, cancel=lambda: len(pulled) >= 4)
    assert len(pulled) == 4 and not path.exists()


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_background_encoder_finishes_and_cancels(frames, tmp_path, fmt):
    enc = BackgroundEncoder(tmp_path / f"b.{fmt}", 10.0, total=len(frames))
    for f in frames:
        enc.submit(f)
    enc.finish()
    out = enc.wait(120)
    assert out.stat().st_size > 1000 and enc.encoded == len(frames)
    # cancelled halfway: the thread ends, says so, and leaves no file
    enc = BackgroundEncoder(tmp_path / f"x.{fmt}", 10.0)
    for f in frames[:5]:
        enc.submit(f)
    enc.cancel()
    with pytest.raises(EncodeCancelled):
        enc.wait(60)
    assert enc.done and enc.cancelled and not (tmp_path / f"x.{fmt}").exists()
    assert not any(t.name.startswith("encode ") and t.is_alive() for t in threading.enumerate())


def test_video_module_needs_no_qt(frames, tmp_path):
    np.save(tmp_path / "frames.npy", np.stack(frames[:4]))
    code = ("import sys, numpy as np; from graphstage.viz.video import encode; "
            f"f = list(np.load(r'{tmp_path / 'frames.npy'}')); "
            f"encode(f, r'{tmp_path / 'q.gif'}', 5); encode(f, r'{tmp_path / 'q.mp4'}', 5); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'torch', 'tensorflow')))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
    assert Image.open(tmp_path / "q.gif").n_frames == len(runs(frames[:4]))
    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "q.mp4"))[0] == 4
