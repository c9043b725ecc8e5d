"""The main window: toolbar, graph pane(s), step timeline, inspector, loading and export.

Slots here only route user intent to the controllers, players and workers.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from graphstage.viz.gui.animation import AnimationClock
from graphstage.viz.gui.compare_opening import claim_keys, frame_compare_pane, share_width
from graphstage.viz.gui.pane import StagePane
from graphstage.viz.gui.story_view import show_story
from graphstage.viz.gui.theme import Theme, apply_palette, make_theme
from graphstage.viz.gui.welcome import attach_welcome
from graphstage.viz.gui.window_build import BuildMixin
from graphstage.viz.gui.window_export import ExportMixin
from graphstage.viz.gui.window_linking import LinkingMixin
from graphstage.viz.gui.window_loading import LoadingMixin, twin_path
from graphstage.viz.gui.window_playing import PlayingMixin
from graphstage.viz.gui.window_search import SearchMixin
from graphstage.viz.gui.workers import LayoutWorker, TraceWorker
from graphstage.viz.layout import LayoutCache


class MainWindow(BuildMixin, LoadingMixin, PlayingMixin, SearchMixin, LinkingMixin,
                 ExportMixin, QMainWindow):
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
        self._link_pane(pane)
        pane.shown.connect(lambda reason, i=index: self._pane_shown(i, reason))
        pane.player.finished.connect(self._player_finished)
        pane.canvas.morphFinished.connect(self._morph_finished)
        pane.layoutFailed.connect(self._layout_failed)
        pane.controller.notice.connect(lambda text: self.statusBar().showMessage(text, 20000))
        if index == 1:
            self.panes[0].peer, pane.peer = pane, self.panes[0]
            self.panes[0].show_phase()
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

    def _pane_shown(self, index: int, reason: str) -> None:
        show_story(self, index, reason)
        pane = self.panes[index]
        if reason in ("load", "level") and pane.layer_level:   # side by side: whole graphs
            share_width(self.splitter, self.panes)
            self.centralWidget().layout().activate()   # banners just grew: settle first
            for p in self.panes:    # the first pane too: it was framed before it was halved
                p.layout().activate()
                if p.layer_level and p.canvas.display is not None:
                    frame_compare_pane(p)
        pane.canvas.minimap.keep_clear = claim_keys(pane)
        pane.canvas.minimap.refresh()
        if index == 0:
            self.memory.set_graph(self.pane.controller.graph)
            self.timeline.set_step(self.pane.controller.step)
            if reason in ("load", "collapse", "level"):
                self.depth.blockSignals(True)
                self.depth.setMaximum(max(1, self.pane.controller.max_depth()))
                self.depth.blockSignals(False)
            if reason in ("step", "load"):
                self._show_inspector(self.pane)
        if reason == "load":
            self.loadFinished.emit(index)
            self.run_search(self.search_edit.text()) if self.search_bar.isVisible() else None

    # ---- hierarchy -----------------------------------------------------------------------------

    def expand_all(self) -> None:
        """Open every group; each pane's camera then opens as on load (the whole graph if its
        text stays readable, else readable at the start of the forward pass)."""
        for p in self.panes:
            p.camera_to_start = True
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

    # ---- split view --------------------------------------------------------------------------

    def toggle_compare(self) -> None:
        if len(self.panes) > 1:
            pane = self.panes.pop()
            pane.player.pause()
            pane.setParent(None)
            pane.deleteLater()
            self.pane.peer = None
            self.pane.open_at_layers(False)     # alone again: the single pane's opening
            self.pane.mark("link", set())
            self.pane.mark("hover", set())
            self.pane.update_banner()
            self._update_timeline()
            self.pane.player.seek(self.pane.player.t)   # the phase goes back to the toolbar
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
