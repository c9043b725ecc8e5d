"""GUI speed figures, in-process and offscreen.

1. p95 frame time while animating resnet18_torch's full (expanded) step graph; a frame is the
   clock's tick (player + items) plus a synchronous repaint of the canvas viewport.
2. gpt_torch: trace finished -> graph on screen and the event loop idle (interactive).
3. gpt_torch: expanding one collapsed transformer block (layout not cached).
4. dynamicnet_torch: step change -> first morph frame, with neighbouring layouts prefetched.
Usage: .venv/bin/python benchmarks/gui_frames.py
"""

from __future__ import annotations

import os
import statistics
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
from graphstage.viz.gui.main_window import MainWindow  # noqa: E402


def wait_for(signal, timeout: float = 120.0) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def wait_until(pred, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > end:
            raise TimeoutError(f"condition not met within {timeout:.0f} s")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)


def layouts_idle(win: MainWindow) -> bool:
    return not win.layouts._pending


def bench_frames(app: QApplication) -> None:
    session = trace_script(example_path("resnet18_torch"), 1)
    win = MainWindow(theme="light")
    win.resize(1440, 900)
    win.show()
    pane = win.pane
    pane.controller.set_session(session, "resnet18")
    wait_for(win.loadFinished)
    pane.controller.expand_all()
    wait_until(lambda: len(pane.canvas.nodes) == session.steps[0].number_of_nodes())
    pane.canvas.finish_morph()
    pane.canvas.fit()
    for zoom, label in ((None, "fit to view"), (1.0, "100 % zoom")):
        if zoom:
            pane.canvas.resetTransform()
            pane.canvas.centerOn(pane.canvas.nodes[pane.player.schedule.events[0].key])
        frames: list[float] = []
        win.clock.frame_times = frames
        flush: list[float] = []

        def paint_now(_dt: float, out: list[float] = flush) -> None:
            # deliver the repaint this tick caused now, so a frame = tick work + its repaint
            t = time.perf_counter()
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            out.append(time.perf_counter() - t)

        win.clock.ticked.connect(paint_now)
        win._autoadvance = False
        pane.player.seek(0.0)
        pane.player.speed = pane.player.schedule.total / 6.0   # whole step in ~6 s
        pane.player.play()
        wait_until(lambda: not pane.player.playing, 60)
        win.clock.ticked.disconnect()
        win.clock.frame_times = None
        frames = sorted(frames)
        p95 = frames[int(len(frames) * 0.95)] * 1000
        print(f"resnet18_torch full step graph ({len(pane.canvas.nodes)} nodes, "
              f"{len(pane.canvas.edges or ())} edges), {label}: {len(frames)} frames, "
              f"median {statistics.median(frames) * 1000:.2f} ms, p95 {p95:.2f} ms, "
              f"max {frames[-1] * 1000:.2f} ms (target p95 < 16 ms)")
    win.close()
    win.deleteLater()


def bench_gpt(app: QApplication) -> None:
    session = trace_script(example_path("gpt_torch"), 1)
    win = MainWindow(theme="light")
    win.resize(1440, 900)
    win.show()
    app.processEvents()
    pane = win.pane
    t0 = time.perf_counter()
    pane.controller.set_session(session, "gpt")
    wait_for(win.loadFinished)
    app.processEvents()
    t1 = time.perf_counter()
    g = session.steps[0]
    print(f"gpt_torch ({g.number_of_nodes()} nodes, {len(pane.canvas.nodes)} boxes when opened): "
          f"on screen and interactive {1000 * (t1 - t0):.0f} ms after the trace finished "
          "(target < 1500 ms)")
    wait_until(lambda: layouts_idle(win))
    group = next(k for k in pane.canvas.nodes if k.startswith("group:forward:blocks"))
    scope = pane.canvas.nodes[group].key.split(":", 2)[2]
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        pane.controller.toggle_scope(scope)
        wait_until(lambda s=scope: s not in pane.controller.collapsed and not pane.laying_out)
        times.append(time.perf_counter() - t0)
        pane.canvas.finish_morph()
        pane.controller.toggle_scope(scope)
        wait_until(lambda: not pane.laying_out)
        win.layouts.cache._data.clear()
    print(f"gpt_torch: expanding collapsed block {scope!r}: {1000 * min(times):.0f} ms best, "
          f"{1000 * max(times):.0f} ms worst of {len(times)} (uncached layout; target < 300 ms)")
    win.close()
    win.deleteLater()


def bench_morph(app: QApplication) -> None:
    session = trace_script(example_path("dynamicnet_torch"), 12)
    win = MainWindow(theme="light")
    win.show()
    pane = win.pane
    pane.controller.set_session(session, "dynamicnet")
    wait_for(win.loadFinished)
    lat = []
    for step in range(1, len(session.steps)):
        wait_until(lambda: layouts_idle(win))
        pane.canvas.finish_morph()
        started: list[float] = []
        pane.canvas.morphStarted.connect(lambda s=started: s.append(time.perf_counter()))
        t0 = time.perf_counter()
        win.set_step(step)
        changed = set(pane.canvas.nodes)
        wait_until(lambda s=started: s, 5)
        if started:
            lat.append(started[0] - t0)
        pane.canvas.morphStarted.disconnect()
        del changed
    lat.sort()
    print(f"dynamicnet_torch step change -> first morph frame: median "
          f"{1000 * statistics.median(lat):.1f} ms, max {1000 * lat[-1]:.1f} ms over {len(lat)} "
          "changes (target < 100 ms)")
    win.close()
    win.deleteLater()


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    bench_morph(app)
    bench_frames(app)
    bench_gpt(app)
    app.processEvents()


if __name__ == "__main__":
    main()
