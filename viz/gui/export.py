"""Export what the canvas shows: the whole scene to PNG/SVG/PDF, and the step's animation as
frames grabbed from the canvas, encoded to GIF/MP4 by graphstage.viz.video.

Everything is rendered from the QGraphicsScene itself, so exported labels are the canvas's labels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMarginsF, QObject, QRectF, QSize, QSizeF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QProgressDialog, QWidget

from graphstage.viz.video import FORMATS as VIDEO_FORMATS
from graphstage.viz.video import BackgroundEncoder, Progress, encode, video_format

FORMATS = ("png", "svg", "pdf")
MAX_PX = 12000


def scene_rect(scene: QGraphicsScene) -> QRectF:
    """The whole drawing (not the viewport), with a small margin."""
    return scene.itemsBoundingRect().adjusted(-16, -16, 16, 16)


def render_scene(scene: QGraphicsScene, path: str | Path, fmt: str | None = None,
                 background: QColor | None = None, scale: float = 2.0) -> Path:
    """Write the whole scene to path as png, svg or pdf (by fmt or the file suffix)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot export {fmt!r}; choose one of {', '.join(FORMATS)}")
    rect = scene_rect(scene)
    bg = background or QColor("white")
    # cached items would be pasted as bitmaps: draw them for real so text stays text
    cached = [(it, it.cacheMode()) for it in scene.items()
              if it.cacheMode() != QGraphicsItem.CacheMode.NoCache]
    for it, _mode in cached:
        it.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        _render(scene, rect, path, fmt, bg, scale)
    finally:
        for it, mode in cached:
            it.setCacheMode(mode)
    return path


def _render(scene: QGraphicsScene, rect: QRectF, path: Path, fmt: str, bg: QColor,
            scale: float) -> None:
    if fmt == "png":
        scale = min(scale, MAX_PX / max(rect.width(), rect.height(), 1.0))
        img = QImage(QSize(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale))),
                     QImage.Format.Format_ARGB32)
        img.fill(bg)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        scene.render(p, QRectF(img.rect()), rect)
        p.end()
        if not img.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
    elif fmt == "svg":
        from PySide6.QtSvg import QSvgGenerator
        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(QSize(int(rect.width()), int(rect.height())))
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle("graphstage step graph")
        p = QPainter(gen)
        p.fillRect(QRectF(0, 0, rect.width(), rect.height()), bg)
        scene.render(p, QRectF(0, 0, rect.width(), rect.height()), rect)
        p.end()
    else:
        writer = QPdfWriter(str(path))
        writer.setResolution(72)
        writer.setPageSize(QPageSize(QSizeF(rect.width(), rect.height()), QPageSize.Unit.Point))
        writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
        p = QPainter(writer)
        target = QRectF(0, 0, writer.width(), writer.height())
        p.fillRect(target, bg)
        scene.render(p, target, rect, Qt.AspectRatioMode.KeepAspectRatio)
        p.end()


# ---- animation: GIF / MP4 ----------------------------------------------------------------------

ANIMATED = VIDEO_FORMATS
DEFAULT_FPS = 15.0
DEFAULT_WIDTH = 900
MAX_FRAMES = 900        # 60 s at 15 fps; longer steps play faster in the file
QUEUE_AHEAD = 4         # frames grabbed ahead of the encoder thread


def frame_times(total: float, fps: float, speed: float = 1.0,
                max_frames: int = MAX_FRAMES) -> list[float]:
    """Schedule times of the frames: one per 1/fps s of playback at speed, the last at the end."""
    if total <= 0:
        return [0.0]
    n = max(2, min(max_frames, math.ceil(total / max(speed, 1e-3) * fps) + 1))
    return [total * i / (n - 1) for i in range(n)]


def qimage_to_rgb(img: QImage) -> np.ndarray:
    """A QImage as an H×W×3 uint8 array (a copy)."""
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    rows = np.frombuffer(img.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    return rows[:, : w * 3].reshape(h, w, 3).copy()


class FrameGrabber:
    """The pane's canvas at each frame time of its step's animation, all frames one size."""

    def __init__(self, pane, fps: float = DEFAULT_FPS, width: int = DEFAULT_WIDTH) -> None:
        self.pane = pane
        self.width = width
        player = pane.player
        if player.schedule is None:
            raise ValueError("nothing to export: no graph is loaded")
        pane.canvas.finish_morph()
        player.pause()
        self.times = frame_times(player.schedule.total, fps, player.speed)
        self.size: tuple[int, int] | None = None
        self._keep = player.t

    def __len__(self) -> int:
        return len(self.times)

    def grab(self, i: int) -> np.ndarray:
        """Frame i: seek the player to its time and grab the canvas's viewport (no scrollbars)."""
        self.pane.player.seek(self.times[i])
        img = self.pane.canvas.viewport().grab().toImage()
        if self.size is None:
            w = min(self.width, img.width()) if self.width else img.width()
            self.size = (w, max(1, round(img.height() * w / max(img.width(), 1))))
        if (img.width(), img.height()) != self.size:
            img = img.scaled(*self.size, Qt.AspectRatioMode.IgnoreAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
        return qimage_to_rgb(img)

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame in order."""
        return (self.grab(i) for i in range(len(self)))

    def restore(self) -> None:
        """Put the player back where it was."""
        self.pane.player.seek(self._keep)


def export_animation(pane, path: str | Path, fps: float = DEFAULT_FPS,
                     width: int = DEFAULT_WIDTH, progress: Progress | None = None,
                     cancel: Callable[[], bool] | None = None) -> Path:
    """Render the pane's step animation to a GIF or MP4 (blocking; by the path's suffix)."""
    video_format(path)
    grabber = FrameGrabber(pane, fps, width)
    try:
        return encode(grabber.frames(), path, fps, total=len(grabber), progress=progress,
                      cancel=cancel)
    finally:
        grabber.restore()


class AnimationExport(QObject):
    """The same, without blocking: one frame is grabbed per event-loop turn on the GUI thread (a
    canvas can only be drawn there; ~10 ms at 900 px) and encoded on a thread by
    BackgroundEncoder, at most QUEUE_AHEAD frames ahead of it."""

    progress = Signal(int, int)        # frames encoded, total
    finished = Signal(object)          # the written Path
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, pane, path: str | Path, fps: float = DEFAULT_FPS,
                 width: int = DEFAULT_WIDTH, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.grabber = FrameGrabber(pane, fps, width)
        self.encoder = BackgroundEncoder(path, fps, total=len(self.grabber))
        if parent is not None:   # the window goes away: stop, leave no partial file
            parent.destroyed.connect(self.encoder.cancel)
        self.total = len(self.grabber)
        self.slice_times: list[float] = []     # GUI-thread seconds of each slice
        self._next = 0
        self._grab_error: str | None = None
        self._over = False
        self._restored = False

    def start(self) -> None:
        QTimer.singleShot(0, self._slice)

    def cancel(self) -> None:
        """Stop grabbing and encoding; the partial file is removed."""
        self.encoder.cancel()

    @property
    def running(self) -> bool:
        return not self._over

    def _slice(self) -> None:
        t0 = time.perf_counter()
        enc = self.encoder
        if self._next == self.total and not self._restored:
            self._restored = True          # seeking back replays the step: a slice of its own
            self.grabber.restore()
        if self._next < self.total and enc.pending < QUEUE_AHEAD and not enc.done:
            try:
                enc.submit(self.grabber.grab(self._next))
                self._next += 1
                if self._next == self.total:
                    enc.finish()
            except Exception as exc:  # noqa: BLE001 - reported through failed
                self._grab_error = str(exc)
                enc.cancel()
        self.slice_times.append(time.perf_counter() - t0)
        self.progress.emit(enc.encoded, self.total)
        if enc.done:
            self._end()
        else:
            busy = self._next < self.total and enc.pending < QUEUE_AHEAD
            QTimer.singleShot(0 if busy else 15, self._slice)

    def _end(self) -> None:
        self._over = True
        if not self._restored:
            self._restored = True
            self.grabber.restore()
        enc = self.encoder
        if self._grab_error is not None:
            self.failed.emit(self._grab_error)
        elif enc.cancelled:
            self.cancelled.emit()
        elif enc.error is not None:
            self.failed.emit(str(enc.error))
        else:
            self.finished.emit(enc.result)


def export_animation_dialog(parent: QWidget, pane, path: str, report: Callable[[str], None],
                            fail: Callable[[str], None], fps: float = DEFAULT_FPS,
                            width: int = DEFAULT_WIDTH) -> AnimationExport:
    """Start an AnimationExport with a progress dialog and Cancel; report/fail get the outcome."""
    job = AnimationExport(pane, path, fps, width, parent=parent)
    dlg = QProgressDialog(f"Rendering {Path(path).name}…", "Cancel", 0, job.total, parent)
    dlg.setWindowModality(Qt.WindowModality.WindowModal)
    dlg.setAutoClose(False)
    dlg.setAutoReset(False)
    dlg.setMinimumDuration(0)
    dlg.canceled.connect(job.cancel)

    def on_progress(done: int, total: int) -> None:
        dlg.setValue(done)
        if done >= total:
            dlg.setLabelText(f"Writing {Path(path).name}…")

    def close_then(fn: Callable[[str], None], text: str) -> None:
        dlg.canceled.disconnect(job.cancel)
        dlg.hide()
        dlg.deleteLater()
        fn(text)

    job.progress.connect(on_progress)
    job.finished.connect(lambda out: close_then(report, f"Exported {out}"))
    job.cancelled.connect(lambda: close_then(report, "Export cancelled"))
    job.failed.connect(lambda msg: close_then(fail, f"Export failed: {msg}"))
    dlg.show()
    job.start()
    return job


# ---- headless: every step of a session ---------------------------------------------------------

def export_session_animations(session, out_dir: str | Path, fmt: str = "gif",
                              fps: float = DEFAULT_FPS, width: int = 960,
                              progress: Callable[[int, int, str], None] | None = None,
                              theme: str = "light") -> list[Path]:
    """One animation per step (out_dir/step_0000.gif ...), drawn by an offscreen graph pane."""
    from PySide6.QtWidgets import QApplication

    from graphstage.viz.gui.animation import AnimationClock
    from graphstage.viz.gui.pane import StagePane
    from graphstage.viz.gui.theme import apply_palette, make_theme
    from graphstage.viz.gui.workers import LayoutWorker
    from graphstage.viz.layout import LayoutCache

    fmt = video_format(f"x.{fmt}")
    app = QApplication.instance() or QApplication(["graphstage"])
    th = make_theme(theme)
    apply_palette(app, th)
    clock = AnimationClock()
    layouts = LayoutWorker(LayoutCache())
    pane = StagePane(clock, layouts, th)
    pane.resize(width, round(width * 0.66))
    pane.show()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for step in range(len(session.steps)):
            show_step(pane, session, step)
            pane.canvas.fit()
            app.processEvents()
            label = f"step {step + 1}/{len(session.steps)}"
            report = (lambda d, t, s=label: progress(d, t, s)) if progress else None
            written.append(export_animation(pane, out / f"step_{step:04d}.{fmt}", fps, width,
                                            progress=report))
    finally:
        pane.player.pause()
        layouts.stop()
        pane.close()
        pane.deleteLater()
    return written


def show_step(pane, session, step: int, timeout_s: float = 600.0) -> None:
    """Load (step 0) or go to a step and wait until its graph is on the canvas."""
    from PySide6.QtCore import QEventLoop

    seen: list[str] = []
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)

    def shown(_reason: str) -> None:
        seen.append("shown")
        loop.quit()

    def failed(message: str) -> None:
        seen.append("failed: " + message)
        loop.quit()

    timer.timeout.connect(lambda: failed(f"timed out after {timeout_s:g} s"))
    pane.shown.connect(shown)
    pane.layoutFailed.connect(failed)
    try:
        if step == 0:
            pane.controller.set_session(session, "", 0)
        else:
            pane.controller.set_step(step)
        if not seen:
            timer.start(int(timeout_s * 1000))
            loop.exec()
    finally:
        timer.stop()
        pane.shown.disconnect(shown)
        pane.layoutFailed.disconnect(failed)
    if seen[0] != "shown":
        raise ValueError(f"step {step + 1}: layout {seen[0]}")
    pane.canvas.finish_morph()
