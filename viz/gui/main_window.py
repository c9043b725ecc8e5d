"""The main window: toolbar, graph pane(s), step timeline, inspector, loading and export.

Slots here only route user intent to the controllers, players and workers.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from graphstage.viz.gui.animation import AnimationClock
from graphstage.viz.gui.export import (
    ANIMATED,
    export_animation,
    export_animation_dialog,
    render_scene,
)
from graphstage.viz.gui.inspector import InspectorPanel
from graphstage.viz.gui.legend import make_legend_dock
from graphstage.viz.gui.memory import MemoryCurveWidget
from graphstage.viz.gui.pane import StagePane
from graphstage.viz.gui.story_view import show_story
from graphstage.viz.gui.theme import Theme, apply_palette, make_theme
from graphstage.viz.gui.timeline import TimelineWidget
from graphstage.viz.gui.viewgraph import has_children
from graphstage.viz.gui.welcome import attach_welcome, restore_if_empty, show_welcome
from graphstage.viz.gui.workers import LayoutWorker, TraceWorker
from graphstage.viz.layout import LayoutCache

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
MAX_RECENT = 8


def twin_path(path: str) -> str | None:
    """The TensorFlow twin of a torch script or example ('x_torch.py' -> 'x_tf.py')."""
    p = Path(path)
    if p.stem.endswith("_torch"):
        twin = p.with_name(p.stem[: -len("_torch")] + "_tf" + p.suffix)
        return str(twin) if twin.exists() else None
    return None


class MainWindow(QMainWindow):
    """graphstage's window; see docs/gui.md for what each part does."""

    loadFinished = Signal(int)          # pane index whose session is on screen
    loadFailed = Signal(str)
    closed = Signal()                   # the window was closed (graphstage.show waits for it)

    def __init__(self, theme: str = "light", steps: int = 20) -> None:
        super().__init__()
        self.setWindowTitle("graphstage")
        self.settings = QSettings("graphstage", "graphstage")
        self.theme: Theme = make_theme(theme)
        self.steps = steps
        self.clock = AnimationClock(self)
        self.layouts = LayoutWorker(LayoutCache(), self)
        self.workers: list[TraceWorker] = []
        self.error_box: QMessageBox | None = None
        self._resume = False
        self._autoadvance = True
        self._pending_step: dict[int, int] = {}
        self.panes: list[StagePane] = []
        # stacked: the layouts are wide and short, so each framework keeps the full width
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self._build_search()
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setContentsMargins(10, 6, 10, 6)
        self.caption.setVisible(False)
        self.caption_text = ""
        box.addWidget(self.caption)
        box.addWidget(self.search_bar)
        box.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self._add_pane()
        self.welcome = attach_welcome(self)
        self.remember_layout = True     # False: a --screenshot run leaves the saved layout alone
        self._build_docks()
        self._build_actions()
        self._build_status()
        self.resize(1440, 900)
        geo = self.settings.value("geometry")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        state = self.settings.value("state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.apply_theme(self.theme, save=False)

    # ---- construction ------------------------------------------------------------------------

    def _add_pane(self) -> StagePane:
        pane = StagePane(self.clock, self.layouts, self.theme, self)
        index = len(self.panes)
        self.panes.append(pane)
        self.splitter.addWidget(pane)
        pane.canvas.nodeClicked.connect(lambda k, p=pane: self._select(p, k))
        pane.canvas.nodeDoubleClicked.connect(lambda k, p=pane: self._toggle(p, k))
        pane.canvas.clusterDoubleClicked.connect(pane.controller.toggle_scope)
        pane.controller.selectionChanged.connect(lambda _k, p=pane: self._show_inspector(p))
        pane.shown.connect(lambda reason, i=index: self._pane_shown(i, reason))
        pane.player.finished.connect(self._player_finished)
        pane.canvas.morphFinished.connect(self._morph_finished)
        pane.layoutFailed.connect(self._layout_failed)
        if index == 1:
            self.panes[0].peer, pane.peer = pane, self.panes[0]
            self._orient_panes()
        if index == 0:
            pane.player.positionChanged.connect(self._position)
            pane.player.stateChanged.connect(self._play_state)
            pane.diffText.connect(self._diff_text)
        return pane

    @property
    def pane(self) -> StagePane:
        return self.panes[0]

    def _orient_panes(self) -> None:
        """Side by side when the central area is wide enough, else one above the other."""
        area = self.splitter.size()
        wide = area.width() >= 1.2 * max(area.height(), 1)
        self.splitter.setOrientation(Qt.Orientation.Horizontal if wide
                                     else Qt.Orientation.Vertical)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._orient_panes()

    def _build_search(self) -> None:
        self.search_bar = QWidget()
        row = QHBoxLayout(self.search_bar)
        row.setContentsMargins(8, 4, 8, 4)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Find node by name, op or scope (Enter: next, "
                                            "Esc: close)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_info = QLabel("")
        row.addWidget(QLabel("Find:"))
        row.addWidget(self.search_edit, 1)
        row.addWidget(self.search_info)
        self.search_bar.setVisible(False)
        self.search_edit.textChanged.connect(self.run_search)
        self.search_edit.returnPressed.connect(self.next_match)
        self._matches: list[str] = []
        self._match_i = -1

    def _build_docks(self) -> None:
        self.timeline = TimelineWidget(self.theme)
        self.timeline.stepRequested.connect(self.set_step)
        self.diff_label = QLabel("")
        self.diff_label.setContentsMargins(10, 2, 10, 2)
        bottom = QWidget()
        col = QVBoxLayout(bottom)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.timeline)
        self.memory = MemoryCurveWidget(self.theme)
        self.memory.setVisible(False)
        self.memory.nodeRequested.connect(self._jump)
        col.addWidget(self.memory)
        col.addWidget(self.diff_label)
        self.timeline_dock = QDockWidget("Steps", self)
        self.timeline_dock.setObjectName("timeline")
        self.timeline_dock.setWidget(bottom)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.timeline_dock)
        self.inspector = InspectorPanel()
        self.inspector.jumpRequested.connect(self._jump)
        self.inspector_dock = QDockWidget("Inspector", self)
        self.inspector_dock.setObjectName("inspector")
        self.inspector_dock.setWidget(self.inspector)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.resizeDocks([self.inspector_dock], [320], Qt.Orientation.Horizontal)
        self.legend_dock = make_legend_dock(self, self.theme)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.legend_dock)
        self.splitDockWidget(self.inspector_dock, self.legend_dock, Qt.Orientation.Vertical)

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None,
                tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        a.setToolTip(f"{tip or text} ({QKeySequence(shortcut).toString()})" if shortcut else
                     tip or text)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        self.act_open = self._action("Open…", self.open_dialog, QKeySequence.StandardKey.Open,
                                     "Open a model script or a saved trace")
        self.act_export = self._action("Export…", self.export_dialog, "Ctrl+E",
                                       "Export the current step (PNG, SVG, PDF) or the "
                                       "animation (GIF, MP4)")
        self.act_export_all = self._action("Export every step…", self.export_all_dialog)
        self.act_find = self._action("Find", self.show_search, QKeySequence.StandardKey.Find)
        self.act_play = self._action("▶ Play", self.toggle_play, "Space",
                                     "Play / pause the forward, backward and update passes")
        self.act_op = self._action("Step op", self.step_op, ".", "Advance one op")
        self.act_prev = self._action("◀ Step", lambda: self.set_step(self.pane.controller.step
                                                                     - 1), "Left",
                                     "Previous training step")
        self.act_next = self._action("Step ▶", lambda: self.set_step(self.pane.controller.step
                                                                     + 1), "Right",
                                     "Next training step")
        self.act_fit = self._action("Fit", self.fit, "F", "Fit the graph in the view")
        self.act_expand = self._action("Expand all", self.expand_all, "Ctrl+Shift+E")
        self.act_compare = self._action("Side by side", self.toggle_compare, "Ctrl+T",
                                        "Open the TensorFlow twin next to this model")
        self.act_theme = self._action("Dark theme", self.toggle_theme, "Ctrl+Shift+T")
        self.act_theme.setCheckable(True)
        self.act_quit = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_close_search = self._action("Close search", self.hide_search, "Escape")
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.act_open)
        self.examples_menu = menu.addMenu("Examples")
        self.examples_menu.aboutToShow.connect(self._fill_examples)
        self.recent_menu = menu.addMenu("Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addSeparator()
        menu.addAction(self.act_export)
        menu.addAction(self.act_export_all)
        menu.addSeparator()
        menu.addAction(self.act_quit)
        view = self.menuBar().addMenu("&View")
        for a in (self.act_find, self.act_fit, self.act_expand, self.act_compare, self.act_theme):
            view.addAction(a)
        view.addAction(self.timeline_dock.toggleViewAction())
        view.addAction(self.inspector_dock.toggleViewAction())
        legend = self.legend_dock.toggleViewAction()
        legend.setShortcut(QKeySequence("F1"))
        legend.setToolTip("Show / hide the legend: colours, shapes, arrows, badges (F1)")
        view.addAction(legend)
        play = self.menuBar().addMenu("&Play")
        for a in (self.act_play, self.act_op, self.act_prev, self.act_next):
            play.addAction(a)

        tb = QToolBar("Main", self)
        tb.setObjectName("main_toolbar")
        tb.setMovable(False)
        self.addToolBar(tb)
        tb.addAction(self.act_open)
        tb.addSeparator()
        tb.addAction(self.act_play)
        tb.addAction(self.act_op)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 1000)
        self.scrub.setFixedWidth(200)
        self.scrub.setToolTip("Scrub through the step's animation")
        self.scrub.valueChanged.connect(self._scrubbed)
        tb.addWidget(self.scrub)
        self.phase_label = QLabel("")
        self.phase_label.setMinimumWidth(170)
        self.phase_label.setContentsMargins(8, 0, 8, 0)
        tb.addWidget(self.phase_label)
        self.speed = QComboBox()
        self.speed.addItems([f"{s:g}×" for s in SPEEDS])
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Animation speed")
        self.speed.currentIndexChanged.connect(self._speed)
        tb.addWidget(self.speed)
        tb.addSeparator()
        tb.addAction(self.act_prev)
        tb.addAction(self.act_next)
        tb.addSeparator()
        tb.addAction(self.act_fit)
        tb.addAction(self.act_expand)
        tb.addWidget(QLabel(" Depth "))
        self.depth = QSpinBox()
        self.depth.setRange(0, 12)
        self.depth.setToolTip("Collapse scopes deeper than N")
        self.depth.valueChanged.connect(self._depth)
        tb.addWidget(self.depth)
        tb.addWidget(QLabel(" Overlay "))
        self.overlay = QComboBox()
        self.overlay.addItems(["none", "gradient", "activation", "time", "memory"])
        self.overlay.setToolTip("Colour nodes by gradient or activation magnitude, measured "
                                "time, or memory (saved for backward / output); collapsed "
                                "groups show their ops' total time and memory")
        self.overlay.currentTextChanged.connect(self._overlay)
        tb.addWidget(self.overlay)
        tb.addSeparator()
        tb.addAction(self.act_compare)
        tb.addAction(self.act_export)

    def _build_status(self) -> None:
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_loading)
        self.status_text = QLabel("")
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    # ---- loading -----------------------------------------------------------------------------

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

    def open_session(self, session, source: str = "", step: int = 0) -> None:
        """Show a session already in memory (graphstage.show); nothing is traced or read."""
        if not self.panes:
            self._add_pane()
        self._pending_step[0] = step
        show_welcome(self, False)
        self._loaded(0, session, source or f"<{session.model}>", False)

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
        p.controller.set_session(session, source, step)
        if pane == 0:
            self._update_timeline()
            self.setWindowTitle(f"graphstage — {session.model} ({session.framework})")
            if compare:
                twin = twin_path(source)
                if twin:
                    self.open_path(twin, step, pane=1)
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

    def _pane_shown(self, index: int, reason: str) -> None:
        show_story(self, index, reason)
        if index == 0:
            self.memory.set_graph(self.pane.controller.graph)
            self.timeline.set_step(self.pane.controller.step)
            if reason in ("load", "collapse"):
                self.depth.blockSignals(True)
                self.depth.setMaximum(max(1, self.pane.controller.max_depth()))
                self.depth.blockSignals(False)
            if reason == "step":
                self._show_inspector(self.pane)
        if reason == "load":
            self.loadFinished.emit(index)
            self.run_search(self.search_edit.text()) if self.search_bar.isVisible() else None

    def _update_timeline(self) -> None:
        s = self.pane.controller.session
        if s is None:
            return
        self.timeline.set_data([m.get("loss") for m in s.metrics],
                               [g.number_of_nodes() for g in s.steps],
                               [not g.graph.get("same_as_previous", False) for g in s.steps])
        self.timeline.set_step(self.pane.controller.step)

    def _diff_text(self, text: str) -> None:
        c = self.pane.controller
        self.diff_label.setText(f"<b>Step {c.step + 1}</b>: {text}" if c.step > 0
                                else f"<b>Step 1</b>: {text}")

    def _fill_examples(self) -> None:
        from graphstage.tracers.script import example_path, list_examples
        self.examples_menu.clear()
        for name in list_examples():
            self.examples_menu.addAction(name, lambda n=name: self.open_path(str(example_path(n))))

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

    # ---- steps and playback ------------------------------------------------------------------

    def set_step(self, step: int) -> None:
        """Go to a training step in every pane (morphing the graphs)."""
        for p in self.panes:
            if p.controller.session is not None:
                p.controller.set_step(min(step, p.controller.step_count - 1))

    def toggle_play(self) -> None:
        if any(p.player.playing for p in self.panes) or self._resume:
            self._resume = False
            for p in self.panes:
                p.player.pause()
        else:
            for p in self.panes:
                p.player.play()

    def step_op(self) -> None:
        self._resume = False
        for p in self.panes:
            p.player.step_op()

    def _player_finished(self) -> None:
        if any(p.player.playing for p in self.panes):
            return
        c = self.pane.controller
        if self._autoadvance and c.step + 1 < c.step_count:
            self._resume = True
            self.set_step(c.step + 1)
            if not any(p.canvas.morphing for p in self.panes):
                self._morph_finished()

    def _morph_finished(self) -> None:
        if self._resume and not any(p.canvas.morphing for p in self.panes):
            self._resume = False
            for p in self.panes:
                p.player.play()

    def _position(self, t: float, total: float) -> None:
        self.scrub.blockSignals(True)
        self.scrub.setValue(int(1000 * t / total) if total else 0)
        self.scrub.blockSignals(False)
        s = self.pane.player.schedule
        phase = s.phase_at(t) if s else ""
        names = {"forward": "forward pass", "backward": "backward pass", "update": "update",
                 "done": "step done"}
        color = self.theme.phase.get(phase, self.theme.muted).name()
        self.phase_label.setText(f"<b style='color:{color}'>{names.get(phase, '')}</b>"
                                 f"  {t:.1f}/{total:.1f} s")

    def _play_state(self, playing: bool) -> None:
        self.act_play.setText("⏸ Pause" if playing else "▶ Play")

    def _scrubbed(self, value: int) -> None:
        self._resume = False
        for p in self.panes:
            p.player.pause()
            if p.player.schedule is not None:
                p.player.seek(p.player.schedule.total * value / 1000)

    def _speed(self, index: int) -> None:
        for p in self.panes:
            p.player.speed = SPEEDS[index]

    # ---- hierarchy, selection, search -----------------------------------------------------

    def _toggle(self, pane: StagePane, key: str) -> None:
        dn = pane.canvas.display.nodes.get(key) if pane.canvas.display else None
        if dn is None:
            return
        if dn.is_group:
            pane.controller.toggle_scope(dn.group)
        elif has_children(pane.canvas.display, key):
            pane.controller.toggle_children(key)
        elif dn.container:
            pane.controller.toggle_scope(dn.container)

    def _select(self, pane: StagePane, key: str) -> None:
        pane.controller.select(key)

    def _show_inspector(self, pane: StagePane) -> None:
        c = pane.controller
        d = pane.canvas.display
        self.inspector.show_node(c.graph, d.nodes.get(c.selected) if d else None)

    def _jump(self, node: str) -> None:
        pane = self.pane
        for p in self.panes:
            if p.controller.graph is not None and node in p.controller.graph and \
                    p.controller.selected:
                pane = p
                break
        key = pane.controller.reveal(node)
        if key:
            pane.controller.select(key)
            pane.canvas.select_key(key, center=True)

    def expand_all(self) -> None:
        for p in self.panes:
            p.controller.expand_all()

    def _depth(self, depth: int) -> None:
        for p in self.panes:
            p.controller.collapse_to_depth(depth)

    def _overlay(self, mode: str) -> None:
        for p in self.panes:
            p.set_overlay(mode)

    def fit(self) -> None:
        for p in self.panes:
            p.canvas.fit()

    def show_search(self) -> None:
        self.search_bar.setVisible(True)
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def hide_search(self) -> None:
        if self.search_bar.isVisible():
            self.search_bar.setVisible(False)
            self.run_search("")

    def run_search(self, text: str) -> list[str]:
        """Highlight every match in the main pane and centre the first."""
        self._matches = self.pane.controller.search(text)
        self.pane.canvas.set_highlight(set(self._matches))
        self._match_i = -1
        self.search_info.setText(f"{len(self._matches)} matches" if text else "")
        if self._matches:
            self.next_match()
        return self._matches

    def next_match(self) -> None:
        if not self._matches:
            return
        self._match_i = (self._match_i + 1) % len(self._matches)
        key = self._matches[self._match_i]
        item = self.pane.canvas.nodes.get(key)
        if item is not None:
            self.pane.canvas.centerOn(item)
            self.pane.controller.select(key)
            self.pane.canvas.select_key(key)
        self.search_info.setText(f"{self._match_i + 1}/{len(self._matches)}")

    # ---- split view --------------------------------------------------------------------------

    def toggle_compare(self) -> None:
        if len(self.panes) > 1:
            pane = self.panes.pop()
            pane.player.pause()
            pane.setParent(None)
            pane.deleteLater()
            return
        src = self.pane.controller.source
        twin = twin_path(src) if src else None
        if twin is None:
            self.show_error("No twin to compare", "Open a *_torch example that has a *_tf "
                            "twin (for example dynamicnet_torch) to see both side by side.")
            return
        self.open_path(twin, self.pane.controller.step, pane=1)

    # ---- theme -------------------------------------------------------------------------------

    def toggle_theme(self) -> None:
        self.apply_theme(make_theme("light" if self.theme.dark else "dark"))

    def apply_theme(self, theme: Theme, save: bool = True) -> None:
        """Repaint with theme; save=True (a user's choice) makes it the saved default."""
        self.theme = theme
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_palette(app, theme)
        self.act_theme.setChecked(theme.dark)
        self.timeline.theme = theme
        self.timeline.update()
        for p in self.panes:
            p.apply_theme(theme)
        self.legend_dock.widget().apply_theme(theme)
        if save:
            self.settings.setValue("theme", theme.name)

    # ---- export ------------------------------------------------------------------------------

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

    # ---- teardown ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every thread and timer so nothing outlives the application."""
        for p in self.panes:
            p.player.pause()
        for w in list(self.workers):
            w.cancel()
            w.wait(30000)
        self.layouts.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.remember_layout:
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.setValue("state", self.saveState())
        self.shutdown()
        super().closeEvent(event)
        self.closed.emit()
