"""GIF and MP4 export figures for one dynamicnet_torch step animation, offscreen.

Frames are drawn once by the app's graph pane (as File ▸ Export does: the canvas at 900 px wide,
15 fps of playback at 1× speed), then encoded by graphstage.viz.video to each format; prints the
frame count and size, the time to grab the frames, and per format the encode time and file size.
Usage: .venv/bin/python benchmarks/video_export.py [EXAMPLE] [--fps F] [--width W]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="graphstage-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.animation import AnimationClock  # noqa: E402
from graphstage.viz.gui.export import FrameGrabber, show_step  # noqa: E402
from graphstage.viz.gui.pane import StagePane  # noqa: E402
from graphstage.viz.gui.theme import make_theme  # noqa: E402
from graphstage.viz.gui.workers import LayoutWorker  # noqa: E402
from graphstage.viz.layout import LayoutCache  # noqa: E402
from graphstage.viz.video import encode  # noqa: E402


def grab_frames(example: str, fps: float, width: int) -> list:
    """The first step's animation frames, drawn by an offscreen graph pane."""
    session = trace_script(example_path(example), 1, seed=0)
    layouts = LayoutWorker(LayoutCache())
    pane = StagePane(AnimationClock(), layouts, make_theme("light"))
    pane.resize(width, round(width * 0.66))
    pane.show()
    try:
        show_step(pane, session, 0)
        pane.canvas.fit()
        QApplication.processEvents()
        t0 = time.perf_counter()
        frames = list(FrameGrabber(pane, fps, width).frames())
        grab_s = time.perf_counter() - t0
    finally:
        layouts.stop()
        pane.close()
    h, w = frames[0].shape[:2]
    print(f"{example}: {len(frames)} frames of {w}x{h} at {fps:g} fps "
          f"({len(frames) / fps:.1f} s of playback); grabbing them took {grab_s:.2f} s")
    return frames


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("example", nargs="?", default="dynamicnet_torch")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--width", type=int, default=900)
    args = ap.parse_args()
    QApplication.instance() or QApplication(["bench"])
    frames = grab_frames(args.example, args.fps, args.width)
    out = Path(tempfile.mkdtemp(prefix="graphstage-video-"))
    for fmt in ("gif", "mp4"):
        t0 = time.perf_counter()
        path = encode(frames, out / f"step.{fmt}", args.fps)
        dt = time.perf_counter() - t0
        size = path.stat().st_size
        print(f"{fmt}: encoded in {dt:.2f} s ({1000 * dt / len(frames):.1f} ms/frame), "
              f"{size / 1024:.0f} KiB -> {path}")


if __name__ == "__main__":
    main()
