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
from graphstage.viz.gui.matching import counterpart
from graphstage.viz.gui.pane import StagePane
from graphstage.viz.gui.story_view import show_story
from graphstage.viz.gui.theme import Theme, apply_palette, make_theme
from graphstage.viz.gui.viewgraph import has_children
from graphstage.viz.gui.welcome import attach_welcome
from graphstage.viz.gui.window_build import BuildMixin
from graphstage.viz.gui.window_export import ExportMixin
from graphstage.viz.gui.window_loading import LoadingMixin, twin_path
from graphstage.viz.gui.window_playing import PlayingMixin
from graphstage.viz.gui.window_search import SearchMixin
from graphstage.viz.gui.workers import LayoutWorker, TraceWorker
from graphstage.viz.layout import LayoutCache


class MainWindow(BuildMixin, LoadingMixin, PlayingMixin, SearchMixin, ExportMixin,
                 QMainWindow):
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






    # ---- loading -----------------------------------------------------------------------------












    def _pane_shown(self, index: int, reason: str) -> None:
        show_story(self, index, reason)
        if index == 0:
            self.memory.set_graph(self.pane.controller.graph)
            self.timeline.set_step(self.pane.controller.step)
            if reason in ("load", "collapse"):
                self.depth.blockSignals(True)
                self.depth.setMaximum(max(1, self.pane.controller.max_depth()))
                self.depth.blockSignals(False)
            if reason in ("step", "load"):
                self._show_inspector(self.pane)
        if reason == "load":
            self.loadFinished.emit(index)
            self.run_search(self.search_edit.text()) if self.search_bar.isVisible() else None








    # ---- steps and playback ------------------------------------------------------------------










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
        self._link_peer(pane, key)

    def _link_peer(self, pane: StagePane, key: str) -> None:
        """Side by side: ring the same layer's counterpart in the other pane and centre it."""
        peer = pane.peer
        d = pane.canvas.display
        if peer is None or peer.controller.graph is None or d is None or key not in d.nodes:
            return
        members = d.nodes[key].members
        match = counterpart(pane.controller.graph, members[0], peer.controller.graph) \
            if members else None
        other = peer.controller.reveal(match) if match else None
        peer.canvas.set_highlight({other} if other else set())
        if other:
            peer.canvas.select_key(other, center=True)

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
