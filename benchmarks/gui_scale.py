"""The app on big step graphs, offscreen: one JSON line of figures for a trace file (issue 9).

    .venv/bin/python benchmarks/gui_scale.py TRACE.json [--timeout 120] [--repeat 3]
    .venv/bin/python benchmarks/gui_scale.py --make mobilenetv2 [-o mobilenetv2.json]

Figures (seconds unless named otherwise):
- nodes: ops in the step graph;
- open_s: load finished -> opening view drawn and the layout queue idle;
- expand_all_s: Expand all -> every box laid out and drawn (over EXPAND_ALL_MAX ops: one more
  level; "timeout" past --timeout);
- frame_p95_fit_ms / frame_p95_100_ms: p95 frame (clock tick + its repaint) while the step
  animates with everything expanded, fitted and at 100 % zoom (null without expand all);
- step_play_s: how long one step plays at 1x (the schedule's total);
- rss_mb: the process's peak resident memory;
- block_open_ms / block_expand_ms / block_fit_ms: the longest the event loop went without
  running a 5 ms timer while the graph opened / expanded / was zoomed out to fit, and for a
  second after (how long the window could not react).

--make traces a Keras application built from its own library definition (weights=None) at a
small input (64x64x3, batch 2) with graphstage.trace on a tf.function train step, and saves it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {
    "mobilenetv2": "MobileNetV2",
    "resnet50": "ResNet50",
    "efficientnetb0": "EfficientNetB0",
    "densenet121": "DenseNet121",
}


def make_trace(name: str, output: str | None) -> Path:
    """Trace one train step of a Keras application (weights=None) and save it."""
    import tensorflow as tf

    import graphstage

    cls = getattr(tf.keras.applications, MODELS[name])
    model = cls(weights=None, input_shape=(64, 64, 3), classes=10)
    opt = tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False)
    x = tf.random.normal((2, 64, 64, 3), seed=0)
    y = tf.constant([1, 7], dtype=tf.int64)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    t0 = time.perf_counter()
    session = graphstage.trace(step, 1, model=model, optimizer=opt, name=MODELS[name])
    out = session.save(output or f"{name}.json")
    print(f"{out}: {session.steps[0].number_of_nodes()} nodes, traced in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def _pump(pred, timeout: float) -> bool:
    """Run the event loop until pred() holds; False on timeout."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    end = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > end:
            return False
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.001)
    return True


def _frames_p95(win, pane, seconds: float = 4.0) -> float:
    """p95 frame time (ms) over `seconds` of playback: clock tick plus the repaint it caused."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    frames: list[float] = []
    win.clock.frame_times = frames
    flush: list[float] = []

    def paint_now(_dt: float) -> None:
        t = time.perf_counter()
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        flush.append(time.perf_counter() - t)

    win.clock.ticked.connect(paint_now)
    win._autoadvance = False
    player = pane.player
    player.seek(0.0)
    player.speed = player.schedule.total / seconds
    player.play()
    _pump(lambda: not player.playing, seconds * 20 + 30)
    player.pause()
    win.clock.ticked.disconnect(paint_now)
    win.clock.frame_times = None
    both = sorted(a + b for a, b in zip(frames, flush, strict=False))
    return round(both[int(len(both) * 0.95)] * 1000, 2) if both else float("nan")


class _Stall:
    """The longest gap between the runs of a 5 ms timer: how long the event loop was blocked."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def __enter__(self) -> _Stall:
        self.last, self.worst = time.perf_counter(), 0.0
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._tick()
        self.timer.stop()

    @property
    def ms(self) -> float:
        return round(self.worst * 1000, 1)


def _idle(win, pane) -> bool:
    return not win.layouts._pending and not pane.laying_out


def _expanded(pane) -> bool:
    """Expand all is done: every group open (or, over EXPAND_ALL_MAX ops, one more level)."""
    from graphstage.viz.gui.controller import EXPAND_ALL_MAX
    c = pane.controller
    return not c.collapsed or c.graph.number_of_nodes() > EXPAND_ALL_MAX


def run_bench(path: str, timeout: float) -> dict:
    """Open the trace in the app offscreen and measure the issue-9 figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="graphstage-bench-")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from graphstage.tracers.session import TraceSession
    from graphstage.viz.gui import collector
    from graphstage.viz.gui.main_window import MainWindow
    from graphstage.viz.gui.workers import prepare_loaded

    app = QApplication.instance() or QApplication(sys.argv)
    with collector.long_lived():    # as the app's loading thread reads it (not part of open)
        session = TraceSession.load(path)
        prepare_loaded(session)
    graph = session.steps[0]
    win = MainWindow(theme="light")
    win.resize(1440, 900)
    win.show()
    app.processEvents()
    pane = win.pane
    out: dict = {"nodes": graph.number_of_nodes()}
    t0 = time.perf_counter()
    loaded: list[bool] = []
    win.loadFinished.connect(lambda *a: loaded.append(True))
    with _Stall() as stall:
        pane.controller.set_session(session, session.model or Path(path).stem)
        ok = _pump(lambda: loaded and _idle(win, pane), timeout)
        pane.canvas.finish_morph()
        pane.canvas.viewport().repaint()
    out["open_s"] = round(time.perf_counter() - t0, 3) if ok else "timeout"
    out["block_open_ms"] = stall.ms
    t0 = time.perf_counter()
    with _Stall() as stall:
        win.expand_all()
        ok = ok and _pump(lambda: _expanded(pane) and _idle(win, pane)
                          and pane.canvas.display is pane.controller.display(), timeout)
        if ok:
            pane.canvas.finish_morph()
            pane.canvas.viewport().repaint()
    out["block_expand_ms"] = stall.ms
    if ok:
        out["expand_all_s"] = round(time.perf_counter() - t0, 3)
        with _Stall() as stall:     # zooming out to the whole graph: the far-away layers
            pane.canvas.fit()
            _pump(lambda: False, 1.0)
        out["block_fit_ms"] = stall.ms
        out["frame_p95_fit_ms"] = _frames_p95(win, pane)
        pane.canvas.stop_auto_fit()    # or the scroll bars' resize refits the view
        pane.canvas.resetTransform()
        first = pane.player.schedule.events[0].key
        pane.canvas.centerOn(pane.canvas.nodes[first])
        out["frame_p95_100_ms"] = _frames_p95(win, pane)
    else:
        out["expand_all_s"] = "timeout"
        out["frame_p95_fit_ms"] = out["frame_p95_100_ms"] = None
    sched = pane.player.schedule
    out["step_play_s"] = round(sched.total, 2) if sched is not None else None
    out["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    QTimer.singleShot(0, lambda: None)
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
    return out


def _kill_children() -> None:
    """End the layout engine processes this process started (a timed-out Graphviz run)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            try:
                os.kill(int(stat.parent.name), 9)
            except OSError:
                pass


def _repeated(trace: str, timeout: float, n: int) -> dict:
    """Median of each figure over n fresh processes (a shared machine is noisy)."""
    runs = []
    for _ in range(n):
        out = subprocess.run([sys.executable, __file__, trace, "--timeout", str(timeout)],
                             capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    merged = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        numbers = [v for v in values if isinstance(v, (int, float))]
        merged[key] = statistics.median(numbers) if len(numbers) == n else values[0]
    merged["runs"] = n
    return merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", nargs="?", help="trace .json to open")
    ap.add_argument("--make", choices=sorted(MODELS), help="trace a Keras application first")
    ap.add_argument("-o", "--output", help="where --make writes the trace")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per stage")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run N times (each in a fresh process) and print the medians")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if args.make:
        make_trace(args.make, args.output)
        if not args.trace:
            return
    if not args.trace:
        ap.error("give a trace file or --make MODEL")
    if args.repeat > 1:
        print(json.dumps(_repeated(args.trace, args.timeout, args.repeat)), flush=True)
        return
    print(json.dumps(run_bench(args.trace, args.timeout)), flush=True)
    _kill_children()
    os._exit(0)  # skip Qt teardown of a huge scene (and any layout still running)


if __name__ == "__main__":
    main()
