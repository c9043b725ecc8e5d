"""Loading into the main window: scripts and traces in workers, sessions in memory, recent
files, errors.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
)

from graphstage.viz.gui.welcome import restore_if_empty, show_welcome
from graphstage.viz.gui.workers import TraceWorker

MAX_RECENT = 8


def twin_path(path: str) -> str | None:
    """The TensorFlow twin of a torch script or example ('x_torch.py' -> 'x_tf.py')."""
    p = Path(path)
    if p.stem.endswith("_torch"):
        twin = p.with_name(p.stem[: -len("_torch")] + "_tf" + p.suffix)
        return str(twin) if twin.exists() else None
    return None


class LoadingMixin:
    """Loading into the main window."""

    def open_path(self, path: str, step: int = 0, pane: int = 0, compare: bool = False) -> None:
        """Load a script or trace in a worker thread; the window stays responsive meanwhile."""
        while pane >= len(self.panes):
            self._add_pane()
        show_welcome(self, False)
        worker = TraceWorker(str(path), self.steps, self)
        worker.progress.connect(self._progress)
        worker.loaded.connect(lambda s, src, p=pane, c=compare: self._loaded(p, s, src, c))
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(lambda w=worker: self._worker_done(w))
        self.workers.append(worker)
        self._pending_step[pane] = step
        self.status_text.setText(f"Loading {Path(path).name}…")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        worker.start()
        if pane == 0:
            self._add_recent(str(path))

    def open_session(self, session, source: str = "", step: int = 0, pane: int = 0) -> None:
        """Show a session already in memory (graphstage.show) in a pane (1: beside the first);
        nothing is traced or read."""
        while pane >= len(self.panes):
            self._add_pane()
        self._pending_step[pane] = step
        show_welcome(self, False)
        self._loaded(pane, session, source or f"<{session.model}>", False)

    @property
    def loading(self) -> bool:
        return any(w.isRunning() for w in self.workers)

    def cancel_loading(self) -> None:
        for w in self.workers:
            w.cancel()
        self.status_text.setText("Cancelling…")

    def _worker_done(self, worker: TraceWorker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        worker.deleteLater()
        if not self.workers:
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)

    def _progress(self, done: int, total: int, msg: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status_text.setText(msg or f"Tracing step {done}/{total}")

    def _loaded(self, pane: int, session, source: str, compare: bool) -> None:
        self.status_text.setText(f"{session.model}: {len(session.steps)} steps traced")
        p = self.panes[pane]
        step = self._pending_step.pop(pane, 0)
        # side by side (--compare, a twin, a second pane): both panes at the layer level
        p.load(session, source, step, layers=compare or pane > 0)
        if pane > 0:
            self.panes[0].open_at_layers(True)
        self._update_timeline()
        if pane == 0:
            self.setWindowTitle(f"graphstage — {session.model} ({session.framework})")
            if compare:
                twin = twin_path(source)
                if twin:
                    self.open_path(twin, step, pane=1, compare=True)
                else:
                    self.show_error("No twin to compare", f"{Path(source).name} has no "
                                    "_tf twin next to it")

    def _failed(self, message: str, details: str) -> None:
        self.status_text.setText(f"Loading failed: {message}")
        self.show_error(message, details)
        restore_if_empty(self)
        self.loadFailed.emit(message)

    def _cancelled(self) -> None:
        self.status_text.setText("Loading cancelled")
        restore_if_empty(self)
        self.loadFailed.emit("cancelled")

    def _layout_failed(self, message: str) -> None:
        """A graph that cannot be laid out ends its load like a failed trace (never a hang)."""
        self.show_error("Graphviz layout failed", message)
        self.loadFailed.emit(f"Graphviz layout failed: {message}")

    def show_error(self, message: str, details: str = "") -> None:
        """A non-blocking error dialog with the user's traceback under 'Show Details'."""
        box = QMessageBox(QMessageBox.Icon.Critical, "graphstage", message,
                          QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("The script's traceback is under “Show Details…”." if details
                               else "")
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        self.error_box = box
        box.open()

    def _fill_examples(self) -> None:
        from graphstage.tracers.script import example_path, list_examples
        self.examples_menu.clear()
        names = list_examples()
        for name in names:
            self.examples_menu.addAction(name, lambda n=name: self.open_path(str(example_path(n))))
        twins = [n for n in names if n.endswith("_torch") and n[:-len("_torch")] + "_tf" in names]
        if twins:
            self.examples_menu.addSeparator()
        for name in twins:   # both frameworks at once, side by side at the layer level
            self.examples_menu.addAction(
                f"{name[:-len('_torch')]}: PyTorch ⇆ TensorFlow",
                lambda n=name: self.open_path(str(example_path(n)), compare=True))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [str(v) for v in (value if isinstance(value, list) else [value]) if v]

    def _add_recent(self, path: str) -> None:
        rec = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", [path, *rec][:MAX_RECENT])

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model script or trace", "",
                                              "Model scripts and traces (*.py *.json)")
        if path:
            self.open_path(path)
