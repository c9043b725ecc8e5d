"""Selection, hover and jumps in the main window, linked across side-by-side panes.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create. Clicking a box selects
it and rings its counterpart in the other pane (viz/gui/matching.py), expanding what hides it
(a folded layer group rings the other pane's box of that layer, unfolding nothing); hovering
a box rings its counterpart without changing what either pane shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphstage.viz.gui.matching import counterpart
from graphstage.viz.gui.viewgraph import has_children

if TYPE_CHECKING:
    from graphstage.viz.gui.pane import StagePane


class LinkingMixin:
    """Selection, hover and jumps, linked across panes."""

    def _link_pane(self, pane: StagePane) -> None:
        """Connect a new pane's clicks, double clicks and hover to the window."""
        pane.canvas.nodeClicked.connect(lambda k, p=pane: self._select(p, k))
        pane.canvas.nodeDoubleClicked.connect(lambda k, p=pane: self._toggle(p, k))
        pane.canvas.clusterDoubleClicked.connect(pane.controller.toggle_scope)
        pane.controller.selectionChanged.connect(lambda _k, p=pane: self._show_inspector(p))
        pane.hovered.connect(lambda k, p=pane: self._hover_peer(p, k))

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
        pane.mark("link", set())    # chosen here now: the ring from the other pane's pick goes
        self._link_peer(pane, key)

    def _peer_node(self, pane: StagePane, key: str) -> str | None:
        """The step-graph node in the other pane that plays the part of pane's box key."""
        peer, d = pane.peer, pane.canvas.display
        if peer is None or peer.controller.graph is None or d is None or key not in d.nodes:
            return None
        dn = d.nodes[key]
        # a folded layer matches by its scope: its first member may sit in a sub-scope
        return counterpart(pane.controller.graph, dn.members[0], peer.controller.graph,
                           dn.group) if dn.members else None

    def _link_peer(self, pane: StagePane, key: str) -> None:
        """Side by side: ring the same layer's counterpart in the other pane and centre it."""
        peer, d = pane.peer, pane.canvas.display
        if peer is None or peer.controller.graph is None or d is None or key not in d.nodes:
            return
        match = self._peer_node(pane, key)
        if d.nodes[key].is_group and match:   # a layer picks the layer: nothing is unfolded
            other = peer.controller.display().rep.get(match)
        else:
            other = peer.controller.reveal(match) if match else None
        peer.mark("link", {other} if other else set())
        if other:
            peer.canvas.select_key(other, center=True)

    def _hover_peer(self, pane: StagePane, key: str) -> None:
        """Side by side: ring the counterpart of the box under the mouse in the other pane (its
        collapsed group if it is folded away), and clear the ring when the mouse leaves."""
        peer = pane.peer
        if peer is None:
            return
        match = self._peer_node(pane, key) if key else None
        d = peer.canvas.display
        other = d.rep.get(match) if match and d is not None else None
        peer.mark("hover", {other} if other else set())

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
