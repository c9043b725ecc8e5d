"""Entry point of the desktop app: ``graphstage [SCRIPT|TRACE.json] [--example NAME] ...``.

The window is shown before anything heavy is imported; frameworks load and tracing runs in a worker.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The GUI's command line (graphstage.viz.cli hands over every non-headless invocation)."""
    ap = argparse.ArgumentParser(prog="graphstage", description="Watch what PyTorch and "
                                 "TensorFlow build and run in a training step.")
    ap.add_argument("path", nargs="?", help="a model script (.py) or a saved trace (.json)")
    ap.add_argument("--example", metavar="NAME", help="open a bundled example, e.g. "
                    "dynamicnet_torch")
    ap.add_argument("--steps", type=int, default=20, help="training steps to trace (default 20)")
    ap.add_argument("--step", type=int, default=1, help="step to show first (1-based)")
    ap.add_argument("--compare", action="store_true", help="open the _tf twin side by side")
    ap.add_argument("--theme", choices=("light", "dark"), help="colour theme")
    ap.add_argument("--screenshot", metavar="OUT.png", help="render the window once the graph "
                    "is laid out, save it and exit")
    ap.add_argument("--scene-json", metavar="OUT.json", help="with --screenshot: also write "
                    "what the window shows (legend, panes, the boxes in view with their window "
                    "rectangles and text size) as JSON")
    ap.add_argument("--at", type=float, default=None, metavar="F",
                    help="with --screenshot: show the animation at fraction F (0..1) of the step")
    ap.add_argument("--find", metavar="TEXT", help="search and highlight TEXT once loaded")
    ap.add_argument("--expand", action="store_true", help="open with every scope expanded")
    ap.add_argument("--overlay", choices=("gradient", "activation", "time", "memory"),
                    help="colour boxes by gradient or activation magnitude, measured time or "
                    "memory")
    ap.add_argument("--size", default="1440x900", help="window size WxH (default 1440x900)")
    args = ap.parse_args(argv)
    if args.scene_json and not args.screenshot:
        ap.error("--scene-json needs --screenshot")
    return args


def resolve_path(args: argparse.Namespace) -> str | None:
    """The file to open from PATH or --example (None: start empty)."""
    if args.example:
        from graphstage.tracers.script import example_path
        return str(example_path(args.example))
    return str(Path(args.path).resolve()) if args.path else None


def _qt_message(mode, context, message: str) -> None:
    """Qt's own log, less the offscreen platform's 'does not support' chatter."""
    if "does not support" not in message:
        print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication(["graphstage"])
    app.setApplicationName("graphstage")
    app.setOrganizationName("graphstage")
    theme = args.theme or str(QSettings("graphstage", "graphstage").value("theme", "light"))
    from graphstage.viz.gui.main_window import MainWindow

    win = MainWindow(theme=theme, steps=max(1, args.steps))
    if args.screenshot:
        win.remember_layout = False    # a one-off render keeps the user's saved window layout
        w, _, h = args.size.partition("x")
        win.resize(int(w), int(h))
    win.show()
    if os.environ.get("GRAPHSTAGE_SHOWN_PROBE"):
        # benchmarks/gui_startup.py: when the window is on screen, and no framework loaded yet
        import time
        app.processEvents()
        heavy = sorted(m for m in ("torch", "tensorflow") if m in sys.modules)
        print(f"SHOWN {time.time():.6f} frameworks={','.join(heavy) or 'none'}", flush=True)
    code = [0]
    try:
        path = resolve_path(args)
    except Exception as exc:  # noqa: BLE001 - a bad --example is a dialog, or exit 2 headless
        if args.screenshot:
            print(f"graphstage: {exc}", file=sys.stderr)
            win.shutdown()
            win.deleteLater()
            return 2
        win.show_error(str(getattr(exc, "message", exc)))
        path = None
    if path:
        win.open_path(path, step=max(0, args.step - 1), compare=args.compare)
    if args.expand:
        win.loadFinished.connect(lambda _i: [p.controller.expand_all() for p in win.panes])
    if args.overlay:
        win.overlay.setCurrentText(args.overlay)
    if args.find:
        def find(_index: int) -> None:
            win.show_search()
            win.search_edit.setText(args.find)
        win.loadFinished.connect(find)
    if args.screenshot:
        _arm_screenshot(win, args, code, expected=2 if args.compare else 1)
        if not path:
            QTimer.singleShot(200, lambda: _save(win, args, code))
    rc = app.exec()
    win.shutdown()
    win.deleteLater()
    app.processEvents()
    return code[0] or rc


def show_window(source, *, step: int = 0, theme: str | None = None) -> None:
    """Open a window on a TraceSession or a path and return when it is closed (graphstage.show).

    Uses the running QApplication when there is one (a Jupyter kernel with ``%gui qt``), else
    creates it; waits in a local event loop, so it blocks the caller but never Qt.
    """
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from graphstage.viz.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["graphstage"])
    app.setApplicationName("graphstage")
    theme = theme or str(QSettings("graphstage", "graphstage").value("theme", "light"))
    win = MainWindow(theme=theme)
    loop = QEventLoop()
    win.closed.connect(loop.quit)
    win.show()
    if isinstance(source, str):
        win.open_path(source, step=step)
    else:
        win.open_session(source, step=step)
    loop.exec()
    win.shutdown()
    win.deleteLater()
    app.processEvents()


def _arm_screenshot(win, args: argparse.Namespace, code: list[int], expected: int) -> None:
    """Save the window once every expected pane has shown its graph (or loading failed)."""
    from PySide6.QtCore import QTimer

    seen: set[int] = set()

    def on_loaded(index: int) -> None:
        seen.add(index)
        if len(seen) >= expected and not win.loading:
            save_when_laid_out()

    def save_when_laid_out() -> None:
        # --expand asks for a new layout right after the load: wait for it
        if any(p.laying_out for p in win.panes):
            QTimer.singleShot(50, save_when_laid_out)
            return
        if args.at is not None:   # the opening camera stays: readable, not fit-to-everything
            for p in win.panes:
                if p.player.schedule is not None:
                    p.player.seek(p.player.schedule.total * args.at)
        _save(win, args, code)

    def on_failed(msg: str) -> None:
        print(f"graphstage: {msg}", file=sys.stderr)
        code[0] = 1
        _save(win, args, code)

    win.loadFinished.connect(on_loaded)
    win.loadFailed.connect(on_failed)


def _save(win, args: argparse.Namespace, code: list[int]) -> None:
    from PySide6.QtWidgets import QApplication
    for p in win.panes:
        p.canvas.finish_morph()
    QApplication.processEvents()
    img = win.grab_image()
    if not img.save(args.screenshot):
        print(f"graphstage: could not write {args.screenshot}", file=sys.stderr)
        code[0] = 1
    if args.scene_json:
        from graphstage.viz.gui.scene_report import write_scene_report
        try:
            write_scene_report(win, args.scene_json)
        except OSError as exc:
            print(f"graphstage: could not write {args.scene_json}: {exc}", file=sys.stderr)
            code[0] = 1
    win.close()
    QApplication.instance().quit()


if __name__ == "__main__":
    sys.exit(main())
