"""The main window's widgets: toolbar, menus, docks, status bar and search bar.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from graphstage.viz.gui.inspector import InspectorPanel
from graphstage.viz.gui.legend import make_legend_dock
from graphstage.viz.gui.memory import MemoryCurveWidget
from graphstage.viz.gui.timeline import TimelineWidget
from graphstage.viz.gui.window_playing import SPEEDS


class BuildMixin:
    """The main window's widgets."""

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
        self._build_menus()
        self._build_toolbar()

    def _build_menus(self) -> None:
        """File, View and Play menus over the actions."""
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
        self.act_time_true = self._action("Time-true playback", self._time_true, "Ctrl+Shift+P",
                                          "Each op lights for its measured share of the step")
        self.act_time_true.setCheckable(True)
        play.addAction(self.act_time_true)

    def _build_toolbar(self) -> None:
        """The one toolbar: open, play, op slider, speed, steps, fit, depth, overlay, export."""
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
