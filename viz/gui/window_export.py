"""Export from the main window: images of the scene, animations, every step.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFileDialog,
    QProgressDialog,
)

from graphstage.viz.gui.export import (
    ANIMATED,
    export_animation,
    export_animation_dialog,
    render_scene,
)


class ExportMixin:
    """Export from the main window."""

    def export_current(self, path: str, pane: int = 0) -> Path:
        """Export the current step's whole graph (png/svg/pdf) or its animation (gif/mp4;
        blocking, see graphstage.viz.gui.export.export_animation for fps and width)."""
        p = self.panes[pane]
        p.canvas.finish_morph()
        if Path(path).suffix.lower().lstrip(".") in ANIMATED:
            return export_animation(p, path)
        return render_scene(p.canvas.scene(), path, background=self.theme.background)

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export current step", "step.png",
            "PNG image (*.png);;SVG vector (*.svg);;PDF document (*.pdf);;Animated GIF (*.gif);;"
            "MP4 video (*.mp4)")
        if path and Path(path).suffix.lower().lstrip(".") in ANIMATED:
            try:   # frames in slices on this thread, encoded on another; progress and Cancel
                self.export_job = export_animation_dialog(self, self.pane, path,
                                                          self.status_text.setText,
                                                          self.show_error)
            except Exception as exc:  # noqa: BLE001 - an export error is a dialog
                self.show_error(f"Export failed: {exc}")
        elif path:
            try:
                out = self.export_current(path)
                self.status_text.setText(f"Exported {out}")
            except Exception as exc:  # noqa: BLE001 - an export error is a dialog
                self.show_error(f"Export failed: {exc}")

    def export_all(self, folder: str, fmt: str = "png") -> list[Path]:
        """Export every step of the main pane as folder/step_001.fmt ... (blocking)."""
        return list(self._export_steps(folder, fmt))

    def _export_steps(self, folder: str, fmt: str):
        """Render step after step, yielding each written file; restores the shown step."""
        c = self.pane.controller
        keep = c.step
        try:
            for s in range(c.step_count):
                c.step = s
                lay = self.pane.layout_now(s)
                self.pane.canvas.show_graph(c.display(s), lay)
                yield render_scene(self.pane.canvas.scene(),
                                   Path(folder) / f"step_{s + 1:03d}.{fmt}",
                                   background=self.theme.background)
        finally:
            c.step = keep
            self.pane.refresh("collapse")

    def export_all_dialog(self) -> None:
        """Export every step, one per event-loop turn, with progress and Cancel."""
        folder = QFileDialog.getExistingDirectory(self, "Export every step to folder")
        if not folder:
            return
        total = self.pane.controller.step_count
        progress = QProgressDialog("Exporting steps...", "Cancel", 0, total, self)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        steps = self._export_steps(folder, "png")
        written: list[Path] = []

        def next_step() -> None:
            try:
                if progress.wasCanceled():
                    steps.close()
                    self.status_text.setText(f"Export cancelled after {len(written)} steps")
                    return
                written.append(next(steps))
                progress.setValue(len(written))
                QTimer.singleShot(0, next_step)
            except StopIteration:
                progress.setValue(total)
                self.status_text.setText(f"Exported {len(written)} steps to {folder}")
            except Exception as exc:  # noqa: BLE001 - an export error is a dialog
                progress.cancel()
                self.show_error(f"Export failed: {exc}")

        QTimer.singleShot(0, next_step)

    def grab_image(self) -> QImage:
        """The whole window as an image (for --screenshot)."""
        for p in self.panes:
            p.canvas.finish_morph()
        return self.grab().toImage()
