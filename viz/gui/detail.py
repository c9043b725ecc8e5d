"""The canvas's items in parent layers, and what far-away zooms swap them for.

Below LOD_SIMPLE the frame and edge layers give way to one Backdrop, and a big graph's op boxes
(over BOX_LAYER_MIN) to one BoxLayer, whose rectangles are collected a slice at a time after
each change of the boxes (the minimap draws its picture from them too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsScene

from graphstage.viz.gui.boxlayer import BoxLayer
from graphstage.viz.gui.items import holder
from graphstage.viz.gui.lod import BOX_LAYER_MIN, LOD_SIMPLE, Backdrop
from graphstage.viz.gui.staging import Chunk, Sliced, Staged
from graphstage.viz.gui.theme import Theme

FILL_GAP_MS = 10   # the box layer fills in the background, never in a turn that shows a graph
REVEAL_GAP_MS = 4  # staged chunks show after the turn that placed the camera, one per turn
HOLDER = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents

if TYPE_CHECKING:
    from graphstage.viz.gui.edgelayer import EdgeLayer


def _layer(scene: QGraphicsScene, z: float) -> QGraphicsRectItem:
    """An empty parent item for one kind of item; the switch takes it out of the scene (with
    its children) when it is not drawn."""
    item = holder()
    item.setZValue(z)
    scene.addItem(item)
    return item


def _holds_boxes(item: QGraphicsItem) -> bool:
    """Whether an item is a box, or a holder with a box somewhere under it."""
    return not item.flags() & HOLDER or any(_holds_boxes(c) for c in item.childItems())


class DetailSwitch:
    """Holds the canvas's items in four parent layers (frames, edges, op boxes, group boxes)
    and swaps them for the backdrop and box layer far away."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self.frames, self.edges = _layer(scene, 0), _layer(scene, 1)
        self.ops, self.groups = _layer(scene, 2), _layer(scene, 2)
        self.backdrop = Backdrop()
        self.backdrop.setVisible(False)
        scene.addItem(self.backdrop)
        self.boxes = BoxLayer()
        self.boxes.setVisible(False)
        scene.addItem(self.boxes)
        # collects the box layer's rectangles; a child of the scene, so it ends with it
        self.fill = Sliced(scene, gap_ms=FILL_GAP_MS)
        self.reveal = Sliced(scene, gap_ms=REVEAL_GAP_MS, steps=1)   # staged chunks, one a turn
        self.view_centre: Callable[[], QPointF] | None = None        # where the view looks
        self.boxes_ready: Callable[[], None] | None = None   # called when they are in
        self.far = False        # whether the zoom asks for the backdrop
        self._shown = False     # whether the backdrop is what is shown now
        self._big: tuple | None = None   # (ops, groups, boxes) the box layer stands for now
        self._layered = False            # whether any box is drawn by the box layer
        self._nodes: dict = {}
        self._theme: Theme | None = None
        self._scene = scene

    def _attach(self, layer: QGraphicsItem, on: bool) -> None:
        """Put a layer in the scene or take it out: out of the scene its thousands of items
        cost nothing per frame (hidden ones would still be walked by Qt's index)."""
        if on and layer.scene() is None:
            self._scene.addItem(layer)
        elif not on and layer.scene() is not None:
            self._scene.removeItem(layer)

    @staticmethod
    def drop(item: QGraphicsItem) -> None:
        """Remove an item from the canvas, whether or not its layer is in the scene."""
        if item.scene() is not None:
            item.scene().removeItem(item)
        else:
            item.setParentItem(None)

    def receive(self, staged: Staged) -> None:
        """Put the two (still empty) holders of a staging into the op and group layers: the
        boxes made into them stay hidden until adopt()."""
        staged.ops.setParentItem(self.ops)
        staged.groups.setParentItem(self.groups)

    def adopt(self, staged: Staged) -> None:
        """Show staged box items: their hidden chunks one per turn, nearest the view's centre
        first; drop the holders of earlier stagings that no box is left in."""
        self.show_all()
        for layer in (self.ops, self.groups):
            for old in layer.childItems():
                if not _holds_boxes(old):
                    self.drop(old)
        if staged.ops.parentItem() is not self.ops:
            self.receive(staged)
        self.reveal.start(self._revealing(staged.chunks), lambda: None)

    def _revealing(self, chunks: list[Chunk]) -> Iterator[None]:
        c = self.view_centre() if self.view_centre is not None else QPointF()
        for chunk in sorted(chunks, key=lambda k: abs(k.x - c.x()) + abs(k.y - c.y())):
            chunk.item.setVisible(True)
            yield

    @property
    def revealing(self) -> bool:
        """Whether staged boxes are still being shown, a chunk per turn."""
        return self.reveal.busy

    def show_all(self) -> None:
        """Show every staged box now (before the items change again, or an export)."""
        self.reveal.finish()

    def parent_of(self, item: QGraphicsItem) -> QGraphicsItem:
        """The layer an item belongs in."""
        kind = type(item).__name__
        if kind == "NodeItem":
            return self.groups if item.is_group else self.ops
        return self.edges if kind == "EdgeLayer" else self.frames

    def set_content(self, edges: EdgeLayer | None, frames: dict, theme: Theme,
                    nodes: dict | None = None) -> None:
        """The canvas's current arrow layer, frame and box items (dicts it keeps up to date)."""
        self._nodes = nodes if nodes is not None else self._nodes
        self._theme = theme
        self.backdrop.set_content(edges, frames.values(), theme)
        self._show(self.far, force=True)
        self.boxes_moved()

    def boxes_moved(self) -> None:
        """The boxes changed or reached new places: collect the box layer's rectangles again,
        a slice at a time (it is not shown meanwhile)."""
        self.boxes.setVisible(False)
        self.boxes.ready = False            # from now on, not when the first slice runs
        items = list(self._nodes.values())
        self.boxes.with_groups = sum(it.kind == "group" for it in items) > BOX_LAYER_MIN
        self.fill.start(self.boxes.filling(items, self._theme), self._filled)

    def _filled(self) -> None:
        self._boxes_far(self.far)
        if self.boxes_ready is not None:
            self.boxes_ready()

    def _boxes_far(self, far: bool) -> None:
        """Far away, a big graph's op boxes leave the scene for the box layer (groups stay
        items, with their titles and progress bars, unless there are thousands: an unrolled
        RNN's calls); it shows once it is filled."""
        big = far and len(self._nodes) > BOX_LAYER_MIN
        groups = big and self.boxes.with_groups
        self.boxes.setVisible(big and self.boxes.ready)
        mode = (big, groups, id(self._nodes))
        if mode == self._big:
            return
        was_big, self._big = self._layered, mode
        self._layered = big
        self._attach(self.ops, not big)
        self._attach(self.groups, not groups)
        if big or was_big:      # near, from near: every box already draws itself
            boxes = self.boxes
            for it in self._nodes.values():
                it.layer = boxes if (groups if it.kind == "group" else big) else None
        for it in self.boxes.take_changed():
            if it.layer is None:
                it.update()     # it changed while the layer drew it: its cached look is old

    def zoom(self, scale: float) -> None:
        """The view's scale changed."""
        self.far = scale < LOD_SIMPLE
        self._show(self.far)

    def _show(self, far: bool, force: bool = False) -> None:
        if far == self._shown and not force:
            return
        self._shown = far
        self.backdrop.setVisible(far)
        self._attach(self.edges, not far)
        self._attach(self.frames, not far)
        self._boxes_far(far)

    @contextmanager
    def rendering(self, far: bool) -> Iterator[None]:
        """Draw with (far=False) every item, or (far=True) the backdrop and box layer,
        whatever the zoom, for the duration (exports)."""
        self.show_all()
        if far:
            self.fill.finish()
        shown = self._shown
        self._show(far)
        try:
            yield
        finally:
            self._show(shown)
