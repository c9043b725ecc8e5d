"""GIF and MP4 export figures for one dynamicnet_torch step animation, offscreen.

Frames are drawn once by the app's graph pane (as File ▸ Export does: the canvas at 900 px wide,
15 fps of playback at 1× speed), then encoded by graphstage.viz.video to each format; prints the
frame count and size, the time to grab the frames, and per format the encode time and file size;
then the app's non-blocking export (AnimationExport) per format: wall time, the longest slice of
GUI-thread work and the longest gap of a 10 ms timer on the GUI thread meanwhile.
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

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.animation import AnimationClock  # noqa: E402
from graphstage.viz.gui.export import AnimationExport, FrameGrabber, show_step  # noqa: E402
from graphstage.viz.gui.pane import StagePane  # noqa: E402
from graphstage.viz.gui.theme import make_theme  # noqa: E402
from graphstage.viz.gui.workers import LayoutWorker  # noqa: E402
from graphstage.viz.layout import LayoutCache  # noqa: E402
from graphstage.viz.video import encode  # noqa: E402


def grab_frames(pane, example: str, fps: float, width: int) -> list:
    """The shown step's animation frames, drawn by the offscreen graph pane."""
    t0 = time.perf_counter()
    frames = list(FrameGrabber(pane, fps, width).frames())
    grab_s = time.perf_counter() - t0
    h, w = frames[0].shape[:2]
    print(f"{example}: {len(frames)} frames of {w}x{h} at {fps:g} fps "
          f"({len(frames) / fps:.1f} s of playback); grabbing them took {grab_s:.2f} s")
    return frames


def app_export(pane, path: Path, fps: float, width: int) -> None:
    """The app's way (AnimationExport): wall time, longest GUI slice, longest event-loop gap."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    loop = QEventLoop()
    t0 = time.perf_counter()
    job = AnimationExport(pane, path, fps, width)
    job.finished.connect(loop.quit)
    job.failed.connect(lambda m: (print("failed:", m), loop.quit()))
    job.start()
    loop.exec()
    dt = time.perf_counter() - t0
    timer.stop()
    gap = max(b - a for a, b in zip(ticks, ticks[1:], strict=False))
    print(f"app export {path.suffix[1:]}: {dt:.2f} s, {path.stat().st_size / 1024:.0f} KiB; "
          f"longest GUI slice {1000 * max(job.slice_times):.0f} ms, longest event-loop gap "
          f"{1000 * gap:.0f} ms ({len(job.slice_times)} slices)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("example", nargs="?", default="dynamicnet_torch")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--width", type=int, default=900)
    args = ap.parse_args()
    QApplication.instance() or QApplication(["bench"])
    session = trace_script(example_path(args.example), 1, seed=0)
    layouts = LayoutWorker(LayoutCache())
    pane = StagePane(AnimationClock(), layouts, make_theme("light"))
    pane.resize(args.width, round(args.width * 0.66))
    pane.show()
    out = Path(tempfile.mkdtemp(prefix="graphstage-video-"))
    try:
        show_step(pane, session, 0)
        pane.canvas.fit()
        QApplication.processEvents()
        frames = grab_frames(pane, args.example, args.fps, args.width)
        for fmt in ("gif", "mp4"):
            t0 = time.perf_counter()
            path = encode(frames, out / f"step.{fmt}", args.fps)
            dt = time.perf_counter() - t0
            print(f"{fmt}: encoded in {dt:.2f} s ({1000 * dt / len(frames):.1f} ms/frame), "
                  f"{path.stat().st_size / 1024:.0f} KiB -> {path}")
        for fmt in ("gif", "mp4"):
            app_export(pane, out / f"app.{fmt}", args.fps, args.width)
    finally:
        layouts.stop()
        pane.close()


if __name__ == "__main__":
    main()
