"""The graph view: a QGraphicsView that draws one DisplayGraph and morphs between steps.

It only renders: it receives a DisplayGraph plus its Layout from the pane, is told which boxes are
lit by the Player, and reports clicks as signals. Zoom: wheel / +/- ; pan: drag; F: fit.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPixmapCache
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsScene,
    QGraphicsView,
    QToolTip,
    QWidget,
)

from graphstage.viz.gui.animation import AnimationClock, Tween
from graphstage.viz.gui.canvas_marks import CanvasMarks
from graphstage.viz.gui.detail import DetailSwitch
from graphstage.viz.gui.edgelayer import EdgeLayer
from graphstage.viz.gui.items import (
    CalloutItem,
    ClusterItem,
    NodeItem,
    PulseItem,
    measure,
)
from graphstage.viz.gui.minimap import Minimap
from graphstage.viz.gui.navigation import NavigableView
from graphstage.viz.gui.reconcile import (
    MORPH_MAX_ITEMS,
    Reconciled,
    reconcile_nodes,
    static_items,
)
from graphstage.viz.gui.staging import Staged
from graphstage.viz.gui.theme import Theme
from graphstage.viz.gui.viewgraph import DisplayGraph
from graphstage.viz.hgroups import ladder_pairs
from graphstage.viz.layout import Layout, LayoutSpec

MORPH_S = 0.65
PIXMAP_CACHE_KB = 96 * 1024


def layout_spec(display: DisplayGraph) -> LayoutSpec:
    """The Graphviz input for a display graph: Qt-measured box sizes inside scope clusters."""
    sizes = {k: measure(n.label if not n.is_group else "▸ " + n.label, n.detail, n.is_group)
             for k, n in display.nodes.items()}
    paths = display.cluster_paths()
    count: dict[str, int] = {}
    for p in paths.values():
        for c in p:
            count[c] = count.get(c, 0) + 1
    # a scope holding a single box gets no frame of its own (less clutter, same meaning)
    paths = {k: tuple(c for c in p if count[c] >= 2) for k, p in paths.items()}
    labels = {c: c for p in paths.values() for c in p}
    anchors = ladder_pairs(display)
    anchored = {v for _, v in anchors}
    loose = {(u, v) for (u, v), e in display.edges.items() if e.role == "saved" or (
        e.role in ("gradient", "update") and u in anchored and v in anchored)}
    leaves = ("parameter", "constant", "input")
    flat = {(u, v) for (u, v), e in display.edges.items() if e.role == "data"
            and display.nodes[u].kind in leaves and paths.get(v)}
    return LayoutSpec(sizes, list(display.edges), paths, labels, anchors=sorted(anchors),
                      loose_edges=loose, flat_edges=flat)


class CanvasScene(QGraphicsScene):
    """The canvas's scene: render() (image exports) draws every item in full detail."""

    def render(self, painter: QPainter, target: QRectF = QRectF(),  # noqa: B008 - Qt's API
               source: QRectF = QRectF(),  # noqa: B008
               mode: Qt.AspectRatioMode = Qt.AspectRatioMode.KeepAspectRatio) -> None:
        canvas = self.parent()
        with canvas.detail.rendering(far=False):
            super().render(painter, target, source, mode)


class GraphCanvas(CanvasMarks, NavigableView):
    """Scene of node, edge, cluster and pulse items for the current step of one pane."""

    nodeClicked = Signal(str)
    nodeDoubleClicked = Signal(str)
    clusterDoubleClicked = Signal(str)
    morphStarted = Signal()
    morphFinished = Signal()

    def __init__(self, clock: AnimationClock, theme: Theme, parent: QWidget | None = None):
        super().__init__(theme, parent)
        self.clock = clock
        self.setScene(CanvasScene(self))
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        # repaint only the boxes that changed: a playing step lights a few scattered boxes per
        # frame, and their bounding rect would be most of a fitted big graph
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.display: DisplayGraph | None = None
        self.layout_: Layout | None = None
        self.nodes: dict[str, NodeItem] = {}
        self.edges: EdgeLayer | None = None
        self.clusters: dict[str, ClusterItem] = {}
        self._pulses: list[PulseItem] = []
        self._morph: Tween | None = None
        self._dying: list = []
        self._callout = CalloutItem(theme)
        self._callout.setVisible(False)
        self.scene().addItem(self._callout)
        self.value_text = None  # callable(node_id) -> str, set by the pane
        self.detail = DetailSwitch(self.scene())
        self.detail.view_centre = lambda: self.mapToScene(self.viewport().rect().center())
        self.minimap = Minimap(self)
        self.detail.boxes_ready = self.minimap.boxes_in
        if QPixmapCache.cacheLimit() < PIXMAP_CACHE_KB:
            QPixmapCache.setCacheLimit(PIXMAP_CACHE_KB)   # box and backdrop pixmaps
        self.apply_theme(theme)

    # ---- building and morphing ------------------------------------------------------------

    def apply_theme(self, theme: Theme) -> None:
        """Repaint every item with another theme."""
        self.theme = theme
        self.setBackgroundBrush(theme.background)
        self._callout.theme = theme
        self._callout.update()
        self.minimap.refresh(content=True)
        if self.edges is not None:
            self.edges.set_theme(theme)
        for it in [*self.nodes.values(), *self.clusters.values()]:
            it.theme = theme
            it.update()
        self.detail.set_content(self.edges, self.clusters, theme, self.nodes)

    def content_rect(self) -> QRectF:
        """The laid-out graph with its boxes' glow (no walk over thousands of items)."""
        if self.layout_ is None:
            return super().content_rect()
        return QRectF(-8, -8, self.layout_.width + 16, self.layout_.height + 16)

    def zoom_changed(self) -> None:
        self.detail.zoom(self.transform().m11())

    def show_graph(self, display: DisplayGraph, layout: Layout, morph: bool = False,
                   added: set[str] | None = None,
                   staged: Staged | None = None) -> None:
        """Show display at layout; morph=True glides kept boxes and fades others in and out
        (big changes are shown at once); staged: new box items made ahead (ItemStager)."""
        if self._morph is not None:
            self._morph.finish()
        scene = self.scene()
        old_other = [*self._arrows(), *self.clusters.values()]
        self.display, self.layout_ = display, layout
        rec = reconcile_nodes(self.detail, self.nodes, display, layout, self.theme, morph, added,
                              staged)
        morph = morph and rec.size <= MORPH_MAX_ITEMS
        self.nodes = rec.nodes
        self.edges, self.clusters = static_items(self.detail, display, layout, self.theme)
        self.detail.set_content(self.edges, self.clusters, self.theme, self.nodes)
        scene.setSceneRect(QRectF(-40, -40, layout.width + 80, layout.height + 80))
        self._pulses_hide()
        if morph:
            self._start_morph(rec, old_other)
            return
        for it in rec.fade_out + old_other:
            self.detail.drop(it)
        for it, _a, b in rec.moves:
            it.setPos(b)
        self._dying = []
        self.minimap.refresh(content=True)

    def _start_morph(self, rec: Reconciled, old_other: list) -> None:
        """Glide kept boxes to their new places while old items fade out and new ones in."""
        new_other = [*self._arrows(), *self.clusters.values()]
        for it in new_other + rec.fade_in:
            it.setOpacity(0.0)
        self._dying = rec.fade_out + old_other

        def update(p: float) -> None:
            for it, a, b in rec.moves:
                it.setPos(a + (b - a) * p)
            for it in rec.fade_out:
                it.setOpacity(max(0.0, 1 - p * 2))
            for it in old_other:
                it.setOpacity(max(0.0, 1 - p * 3))
            for it in rec.fade_in:
                it.setOpacity(max(0.0, (p - 0.3) / 0.7))
            for it in new_other:
                it.setOpacity(max(0.0, (p - 0.6) / 0.4))
            if p > 0 and not self._morph_started:
                self._morph_started = True
                self.morphStarted.emit()

        def done() -> None:
            for it in self._dying:
                self.detail.drop(it)
            self._dying = []
            self._morph = None
            self.detail.boxes_moved()
            self.minimap.refresh(content=True)
            self.morphFinished.emit()

        self._morph_started = False
        self._morph = Tween(self.clock, MORPH_S, update, done)
        self._morph.start()

    def finish_morph(self) -> None:
        """Complete a running morph at once (before screenshots and exports)."""
        if self._morph is not None:
            self._morph.finish()

    @property
    def morphing(self) -> bool:
        return self._morph is not None

    # ---- navigation --------------------------------------------------------------------------

    def view_moved(self) -> None:
        self.minimap.refresh()

    def _arrows(self) -> list[EdgeLayer]:
        return [self.edges] if self.edges is not None else []

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Hovering an arrow (where no box is) thickens it and shows its tensor in a tooltip."""
        super().mouseMoveEvent(event)
        if self.edges is None or event.buttons() != Qt.MouseButton.NoButton:
            return
        at = event.position().toPoint()
        on_box = any(isinstance(it, NodeItem) for it in self.items(at))
        arrow = None if on_box or self.detail.far else \
            self.edges.edge_at(self.mapToScene(at), self.transform().m11())
        key = arrow.key if arrow is not None else None
        if key != self.edges.hovered:
            self.edges.set_hovered(key)
            if arrow is not None:
                QToolTip.showText(event.globalPosition().toPoint(), arrow.tooltip(), self)
            else:
                QToolTip.hideText()

    def _item_at(self, event: QMouseEvent):
        for it in self.items(event.position().toPoint()):
            if isinstance(it, (NodeItem, ClusterItem)):
                return it
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        it = self._item_at(event)
        if isinstance(it, NodeItem) and event.button() == Qt.MouseButton.LeftButton:
            self.nodeClicked.emit(it.key)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        it = self._item_at(event)
        if isinstance(it, NodeItem):
            self.nodeDoubleClicked.emit(it.key)
        elif isinstance(it, ClusterItem):
            self.clusterDoubleClicked.emit(it.scope)
        else:
            super().mouseDoubleClickEvent(event)
