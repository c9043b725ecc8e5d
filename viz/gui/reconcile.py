"""Scene reconciliation: which node items a new display keeps, moves, creates or drops, and the
static items (edges, scope frames) of a layout. The canvas animates the result (morph)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF

from graphstage.viz.gui.edgelayer import ArrowIndex, EdgeLayer
from graphstage.viz.gui.items import ClusterItem, NodeItem
from graphstage.viz.gui.theme import Theme
from graphstage.viz.gui.viewgraph import DisplayGraph, DisplayNode, scope_prefixes, scope_title
from graphstage.viz.layout import Layout

if TYPE_CHECKING:
    from graphstage.viz.gui.detail import DetailSwitch
    from graphstage.viz.gui.staging import Staged

MORPH_MAX_ITEMS = 3000   # more changing boxes than this: show the new state at once


@dataclass
class Reconciled:
    """The node items of a new display, and how each gets there."""

    nodes: dict[str, NodeItem] = field(default_factory=dict)
    moves: list[tuple[NodeItem, QPointF, QPointF]] = field(default_factory=list)
    fade_in: list[NodeItem] = field(default_factory=list)
    fade_out: list[NodeItem] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.moves) + len(self.fade_in) + len(self.fade_out)


def reusable(item: NodeItem | None, dn: DisplayNode, layout: Layout) -> bool:
    """Whether an existing item can show dn where layout puts it (same size and text)."""
    if item is None:
        return False
    _, _, w, h = layout.nodes.get(dn.key, (0.0, 0.0, 80.0, 38.0))
    return (item.w, item.h, item.label, item.detail) == (w, h, dn.label, dn.detail)


def make_item(key: str, dn: DisplayNode, layout: Layout, theme: Theme) -> NodeItem:
    """A new box item for dn at its layout size (not yet placed or in the scene)."""
    _, _, w, h = layout.nodes.get(key, (0.0, 0.0, 80.0, 38.0))
    return NodeItem(key, dn.label, dn.detail, dn.kind, dn.phase, w, h, theme)


def _enter(out: Reconciled, old: NodeItem | None, made: NodeItem | None, key: str,
           dn: DisplayNode, layout: Layout, theme: Theme, layers: DetailSwitch,
           morph: bool) -> NodeItem:
    """A new item for key (made ahead and placed by the stager, or made now) in its layer;
    it glides from the old item's place (morph) or fades in, and the old item fades out."""
    item = made or make_item(key, dn, layout, theme)
    cx, cy, _, _ = layout.nodes.get(key, (0.0, 0.0, 80.0, 38.0))
    start = old.pos() if old is not None else None
    if old is not None:
        out.fade_out.append(old)
    if start is not None and morph:
        item.setPos(start)
        out.moves.append((item, start, QPointF(cx, cy)))
    else:
        if made is None:
            item.setPos(QPointF(cx, cy))
        out.fade_in.append(item)
    item.setParentItem(layers.parent_of(item))
    return item


def reconcile_nodes(layers: DetailSwitch, old: dict[str, NodeItem], display: DisplayGraph,
                    layout: Layout, theme: Theme, morph: bool,
                    added: set[str] | None, staged: Staged | None = None) -> Reconciled:
    """Keep the items whose box is unchanged (they move), replace changed ones, add new ones
    (staged ones where given, already placed; each into its layer) and list the old ones to
    drop."""
    out = Reconciled()
    layers.show_all()       # boxes kept from a display still being shown must be visible
    premade = staged.items if staged is not None else {}
    places = layout.nodes
    for key, dn in display.nodes.items():
        item = old.get(key)
        made = premade.get(key)
        if made is not None and not (morph and item is not None):
            if item is not None:
                out.fade_out.append(item)
            out.fade_in.append(made)        # placed, and in its holder, by the stager
            out.nodes[key] = made
            if added and key in added:
                made.set_flag("added", True)
            continue
        if reusable(item, dn, layout):
            cx, cy, _, _ = places.get(key, (0.0, 0.0, 80.0, 38.0))
            out.moves.append((item, item.pos(), QPointF(cx, cy)))
        else:
            item = _enter(out, item, made, key, dn, layout, theme, layers, morph)
        if added or item.added:
            item.set_flag("added", bool(added and key in added))
        out.nodes[key] = item
    out.fade_out += [it for k, it in old.items() if k not in out.nodes]
    if staged is not None:
        layers.adopt(staged)
    return out


def static_items(layers: DetailSwitch, display: DisplayGraph, layout: Layout,
                 theme: Theme) -> tuple[EdgeLayer, dict[str, ClusterItem]]:
    """The arrow layer and new scope-frame items for a layout, each added to its layer."""
    ready = display.prepared.get("arrows")
    index = ready[1] if ready is not None and ready[0] is layout else ArrowIndex.of(display, layout)
    edges = EdgeLayer(index, theme)
    edges.setParentItem(layers.edges)
    clusters = {}
    for cid, (x, y, w, h) in layout.clusters.items():
        phase, _, scope = cid.partition(":")
        c = ClusterItem(cid, scope, scope_title(scope), QRectF(x, y, w, h), phase, theme)
        c.nested = any(f"{phase}:{p}" in layout.clusters for p in scope_prefixes(scope)[:-1])
        c.setParentItem(layers.frames)
        clusters[cid] = c
    return edges, clusters
