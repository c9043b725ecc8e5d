"""One graph pane: wires a StageController to a GraphCanvas, the layout worker and a Player.

The pane turns state changes into layout requests and scene updates; a split view is two panes.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from graphstage.viz.gui.animation import AnimationClock, Player
from graphstage.viz.gui.boxsize import Sizer
from graphstage.viz.gui.canvas import GraphCanvas
from graphstage.viz.gui.compare_opening import LayerLevelMixin
from graphstage.viz.gui.controller import StageController
from graphstage.viz.gui.items import NodeItem
from graphstage.viz.gui.pane_texts import PaneTextsMixin
from graphstage.viz.gui.schedule import schedule_for
from graphstage.viz.gui.staging import ItemStager, Staged
from graphstage.viz.gui.steady import steady_layout
from graphstage.viz.gui.theme import Theme
from graphstage.viz.gui.viewgraph import DisplayGraph, build_display, describe_diff
from graphstage.viz.gui.workers import LayoutWorker
from graphstage.viz.layout import Layout

PREFETCH = 3  # steps on each side whose layouts are computed in the background
SETTLE_GAP_MS = 5   # a big display's playback and camera wait this long after it is shown


class HoverWatch(QObject):
    """Reports the box under the mouse in a canvas (its display key, '' when none) through
    ``report``, once per change; watches the viewport so the canvas itself stays unaware."""

    def __init__(self, canvas: GraphCanvas, report) -> None:  # noqa: ANN001 - a callable
        super().__init__(canvas)
        self.canvas, self.report, self.key = canvas, report, ""
        canvas.viewport().setMouseTracking(True)
        canvas.viewport().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.MouseMove:
            items = self.canvas.items(event.position().toPoint())
            self.set_key(next((it.key for it in items if isinstance(it, NodeItem)), ""))
        elif kind == QEvent.Type.Leave:
            self.set_key("")
        return False

    def set_key(self, key: str) -> None:
        """Make key the hovered box (and report it) if it is not already."""
        if key != self.key:
            self.key = key
            self.report(key)


class StagePane(LayerLevelMixin, PaneTextsMixin, QWidget):
    """Title line + canvas for one session; keeps the canvas in step with its controller."""

    shown = Signal(str)          # reason, once the scene shows the controller's current state
    hovered = Signal(str)        # display key under the mouse, '' when it leaves the boxes
    diffText = Signal(str)
    layoutFailed = Signal(str)

    def __init__(self, clock: AnimationClock, layouts: LayoutWorker, theme: Theme,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = StageController(self)
        self.canvas = GraphCanvas(clock, theme, self)
        self.player = Player(clock, self.canvas, self)
        self.layouts = layouts
        self.overlay = "none"
        self.time_true = False  # each op lights for its measured share of the step
        self.title = QLabel(" ")
        self.title.setContentsMargins(10, 4, 10, 4)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.phase_label = QLabel("")   # this pane's own phase: the panes can be in different ones
        self.phase_label.setContentsMargins(10, 4, 10, 4)
        self.phase_label.setTextFormat(Qt.TextFormat.RichText)
        self.phase_text = ""
        self.banner = QLabel("")
        self.banner.setContentsMargins(10, 2, 10, 4)
        self.banner.setWordWrap(True)
        self.banner_text = ""
        self.peer: StagePane | None = None  # the other pane, side by side
        self.layer_level = False     # side by side: every layer call one box per phase
        self.level_seen: set[str] = set()   # scopes already shown at the layer level
        self.marks: dict[str, set[str]] = {}  # ringed boxes by cause: search, link, hover
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.phase_label)
        box.addLayout(head)
        box.addWidget(self.banner)
        box.addWidget(self.canvas, 1)
        self._waiting: tuple | None = None   # (display key, reason) being laid out
        self._settling = False               # a big display shown, its playback etc. not yet
        self.camera_to_start = False         # the next display opens its camera (Expand all)
        self._shown_step = -1
        self.sizer = Sizer()                 # measured box sizes, by text
        self.request_clock = QElapsedTimer()
        self.controller.displayChanged.connect(self.refresh)
        layouts.ready.connect(self._layout_ready)
        layouts.failed.connect(self._layout_failed)
        self.canvas.value_text = self._value_text
        self.hover = HoverWatch(self.canvas, self.hovered.emit)
        self.stager = ItemStager(self, self.canvas.detail)
        self.player.positionChanged.connect(lambda _t, _total: self.show_phase())

    # ---- state -> scene ----------------------------------------------------------------------

    @property
    def laying_out(self) -> bool:
        """Whether a layout this pane waits for is still being computed."""
        return self._waiting is not None or self.stager.busy or self._settling or \
            self.canvas.detail.revealing

    def refresh(self, reason: str = "collapse") -> None:
        """Show the controller's current display, from the cache or once the worker has built
        and laid it out (the GUI thread never builds or lays out a display itself)."""
        c = self.controller
        if c.graph is None:
            return
        if reason == "step" and self.layer_level:
            self._fold_new_layers()
        self.request_clock.start()
        key = c.display_key()
        hit = self.layouts.request(key, self._builder(key), self.sizer, 0)
        if hit is not None:
            c.adopt(key, hit[0])
            self._present(c.cached_display(key), hit[1], reason)
        else:
            self.stager.cancel()   # a display still being staged is out of date now
            self._waiting = (key, reason)
            self.title.setText(self._title_text() + "  <i>laying out…</i>")

    def _builder(self, key: tuple):
        """A function building key's display in the worker (or returning the memoised one)."""
        known = self.controller.cached_display(key)
        if known is not None:
            return lambda: known
        graph, collapsed, opened = key
        return lambda: build_display(graph, collapsed, opened)

    def layout_now(self, step: int) -> Layout:
        """The layout of a step under the current collapse state (blocking: exports)."""
        c = self.controller
        key = c.display_key(step)
        display, lay = self.layouts.layout_now(key, self._builder(key), self.sizer)
        c.adopt(key, display)
        return lay

    def _layout_ready(self, key: tuple, hit: tuple) -> None:
        c = self.controller
        if c.session is None or key[0] not in c.session.steps:
            return
        c.adopt(key, hit[0])
        if self._waiting is not None and self._waiting[0] == key:
            reason = self._waiting[1]
            self._waiting = None
            if key == c.display_key():
                self._present(c.cached_display(key), hit[1], reason)
            else:
                self.refresh(reason)

    def _layout_failed(self, key: tuple, msg: str) -> None:
        if self._waiting is not None and self._waiting[0] == key:
            self._waiting = None
            self.layoutFailed.emit(msg)

    def _present(self, display: DisplayGraph, lay: Layout, reason: str) -> None:
        """Show display: at once, or once the stager has made its many new box items."""
        if reason == "step" and self.canvas.layout_ is not None:
            # what persists keeps its column (viz/gui/steady.py)
            lay = steady_layout(self.canvas.layout_, lay)
        if not self.stager.start(self.canvas.nodes, display, lay, self.canvas.theme,
                                 lambda staged: self._show(display, lay, reason, staged)):
            self._show(display, lay, reason)

    def _show(self, display: DisplayGraph, lay: Layout, reason: str,
              staged: Staged | None = None) -> None:
        morph = reason == "step" and bool(self.canvas.nodes)
        prev = self.canvas.display
        added = set(display.nodes) - set(prev.nodes) if (morph and prev is not None) else set()
        self.canvas.show_graph(display, lay, morph=morph, added=added, staged=staged)
        if staged is None:
            self._settle(display, reason)
            return
        # a big display: the rest a few ms later, after the turn where Qt takes in the new
        # items and paints them (a zero delay would share that turn): two turns, not one
        self._settling = True
        QTimer.singleShot(SETTLE_GAP_MS, self, lambda: self._settle(display, reason))

    def _settle(self, display: DisplayGraph, reason: str) -> None:
        """Playback, marks, camera and texts for the display the canvas just showed."""
        self._settling = False
        if self.canvas.display is not display:
            return          # another display was shown meanwhile
        c = self.controller
        self.player.set_schedule(schedule_for(display, self.time_true),
                                 keep_time=reason == "collapse")
        self.apply_overlay()
        if reason in ("load", "level") or self.camera_to_start:
            self.camera_to_start = False
            self.open_camera(display)
        if c.selected and c.selected in display.nodes:
            self.canvas.select_key(c.selected)
        self.canvas.set_highlight(set().union(*self.marks.values()))
        before = c.session.steps[c.step - 1] if c.step > 0 else None
        self.diffText.emit(describe_diff(before, c.graph))
        self.title.setText(self._title_text())
        self._shown_step = c.step
        self.update_banner()
        if self.peer is not None:
            self.peer.update_banner()
        self.shown.emit(reason)
        self.prefetch()

    def mark(self, cause: str, keys: set[str]) -> None:
        """Ring keys for one cause (search matches, the linked counterpart, the hovered
        counterpart); a box stays ringed while any cause rings it."""
        self.marks[cause] = set(keys)
        self.canvas.set_highlight(set().union(*self.marks.values()))

    def set_time_true(self, on: bool) -> None:
        """Play each op for its measured share of the step (or one even beat per op)."""
        self.time_true = on
        c, display = self.controller, self.canvas.display
        if c.graph is not None and display is not None:
            self.player.set_schedule(schedule_for(display, on),
                                     keep_time=True)

    def prefetch(self) -> None:
        """Queue layouts of the neighbouring steps so a step change can morph at once."""
        c = self.controller
        for d in range(1, PREFETCH + 1):
            for s in (c.step + d, c.step - d):
                if 0 <= s < c.step_count:
                    key = c.display_key(s)
                    self.layouts.request(key, self._builder(key), self.sizer, d)

    def apply_theme(self, theme: Theme) -> None:
        self.canvas.apply_theme(theme)
