"""Side by side at the layer level: each module / Keras layer call is one box per phase in both
panes, and each pane is framed so its whole graph is in view at a readable zoom.

Comparing two frameworks op by op drowns the point in MatMul/BiasAdd/∂ boxes that have no
counterpart; at the layer level both panes read input_layer → hidden_layer ×k → output_layer →
loss, so the structural difference of the step is what the eye sees.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt

from graphstage.viz.gui.opening import READABLE_PX, boxes_rect, opening_view
from graphstage.viz.gui.story import story_for
from graphstage.viz.gui.theme import label_font
from graphstage.viz.gui.viewgraph import all_scopes, opening_collapse
from graphstage.viz.hgroups import scope_prefixes

WRAPPER_SHARE = 0.5   # a scope holding this share of the forward ops wraps the layers: opened
MARGIN = 24.0         # scene units around the fitted graph
SHARE_MIN = 0.35      # side by side, the narrower graph's pane keeps this share of the width


def wrappers(graph: Any) -> set[str]:
    """The chain of model wrapper scopes ('dynamic_net' around Keras layers): a scope alone at
    its level that holds at least WRAPPER_SHARE of the forward ops and has sub-scopes."""
    share: dict[str, int] = {}
    children: dict[str, set[str]] = {}
    total = 0
    for s in all_scopes(graph):
        prefixes = scope_prefixes(s)
        children.setdefault(prefixes[-2] if len(prefixes) > 1 else "", set()).add(s)
    for _, a in graph.nodes(data=True):
        if a.get("phase") == "forward":
            total += 1
            for p in scope_prefixes(a.get("scope", "")):
                share[p] = share.get(p, 0) + 1
    out: set[str] = set()
    parent = ""
    while True:
        big = [s for s in children.get(parent, ()) if share.get(s, 0) >= WRAPPER_SHARE * total]
        if len(big) != 1 or not children.get(big[0]):
            return out
        parent = big[0]
        out.add(parent)


def layer_collapse(graph: Any) -> set[str]:
    """The collapsed scopes that show every layer call as one box per phase: every scope
    except the model wrappers (build_display folds a node into its outermost collapsed scope,
    so the layers' inner scopes, e.g. Keras's adam/kernel, fold into their layer)."""
    return all_scopes(graph) - wrappers(graph)


def new_layer_scopes(graph: Any, seen: set[str]) -> set[str]:
    """Scopes of this step's graph to fold that no earlier step showed (a torch step that calls
    the hidden layer once more adds 'hidden_layer#2'): folded so the pane stays at layers,
    while the groups the user opened stay open."""
    return layer_collapse(graph) - seen


def readable_fit_zoom() -> float:
    """The smallest zoom at which box names are READABLE_PX pixels tall."""
    return READABLE_PX / label_font().pixelSize()


def frame_whole(canvas: Any) -> bool:
    """Fit the whole laid-out graph when its names stay readable (never magnified past 1);
    False (the camera untouched) when it does not fit readably."""
    r: QRectF = canvas.content_rect()
    if r.isEmpty():
        return False
    r = r.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    vp = canvas.viewport()
    fit = min(vp.width() / max(r.width(), 1.0), vp.height() / max(r.height(), 1.0))
    if fit < readable_fit_zoom():
        return False
    zoom = min(fit, 1.0)
    canvas.stop_auto_fit()
    canvas.resetTransform()
    canvas.scale(zoom, zoom)
    canvas.centerOn(r.center())
    return True


def share_width(splitter: Any, panes: list[Any]) -> None:
    """Side by side (horizontal): give each laid-out pane a share of the width in proportion to
    its graph's width (between SHARE_MIN and 1 - SHARE_MIN), so the wider graph can be whole."""
    shown = [p for p in panes if p.canvas.display is not None]
    if len(shown) != 2 or len(panes) != 2 or \
            splitter.orientation() != Qt.Orientation.Horizontal:
        return
    widths = [max(p.canvas.content_rect().width(), 1.0) for p in panes]
    share = min(max(widths[0] / sum(widths), SHARE_MIN), 1 - SHARE_MIN)
    total = sum(splitter.sizes())
    splitter.setSizes([round(total * share), total - round(total * share)])


def claim_keys(pane: Any) -> set[str]:
    """The display keys of the boxes that prove the example's claim on the step shown (the
    story camera's focus): the minimap must never cover them."""
    c, display = pane.controller, pane.canvas.display
    story = story_for(c.session, c.step) if c.session is not None else None
    if story is None or display is None:
        return set()
    return {display.rep[n] for n in story.focus if n in display.rep}


def _shift_to_include(view: QRectF, target: QRectF) -> QRectF:
    """view moved (not resized) so target is inside it as far as it fits; left/top win."""
    if target.right() > view.right():
        view.moveRight(target.right())
    if target.left() < view.left():
        view.moveLeft(target.left())
    if target.bottom() > view.bottom():
        view.moveBottom(target.bottom())
    if target.top() < view.top():
        view.moveTop(target.top())
    return view


def frame_compare_pane(pane: Any) -> None:
    """The camera of a side-by-side pane: the whole graph if it fits readably; else readable
    names from the top-left of the graph (where the forward pass starts), moved just enough
    to hold the boxes that prove the example's claim (the story's focus)."""
    c, canvas = pane.controller, pane.canvas
    if c.graph is None or canvas.display is None or frame_whole(canvas):
        return
    zoom = readable_fit_zoom()
    vp = canvas.viewport()
    r = canvas.content_rect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    view = QRectF(r.left(), r.top(), vp.width() / zoom, vp.height() / zoom)
    focus = boxes_rect(canvas, claim_keys(pane), MARGIN)
    if focus is not None:
        view = _shift_to_include(view, focus)
    canvas.stop_auto_fit()
    canvas.resetTransform()
    canvas.scale(zoom, zoom)
    canvas.centerOn(view.center())


class LayerLevelMixin:
    """How a StagePane (viz/gui/pane.py) opens: alone as the opening camera says, or side by
    side at the layer level, framed whole. Uses the pane's controller and canvas."""

    layer_level = False            # side by side: every layer call one box per phase

    def load(self, session, source: str, step: int, layers: bool) -> None:  # noqa: ANN001
        """Show a loaded session: opened as a single pane opens, or (layers=True, side by side)
        with every layer call folded into one box per phase."""
        c = self.controller
        self.layer_level = layers
        if not layers:
            c.set_session(session, source, step)
            return
        c.blockSignals(True)     # one "load" display, at the layer level, not two
        try:
            c.set_session(session, source, step)
        finally:
            c.blockSignals(False)
        self._fold_layers()
        c.sessionChanged.emit()
        c.displayChanged.emit("load")

    def open_at_layers(self, on: bool) -> None:
        """Switch a shown pane to the layer level (on: a twin opened beside it) or back to the
        single pane's opening (off), and frame it again."""
        c = self.controller
        if on == self.layer_level or c.graph is None:
            self.layer_level = on
            return
        self.layer_level = on
        if on:
            self._fold_layers()
        else:
            c.collapsed = opening_collapse(c.graph)
        c.displayChanged.emit("level")

    def _fold_layers(self) -> None:
        c = self.controller
        c.collapsed = layer_collapse(c.graph) if c.graph is not None else set()
        self.level_seen = all_scopes(c.graph) if c.graph is not None else set()

    def _fold_new_layers(self) -> None:
        """A step with layer calls no earlier step had (torch's hidden_layer#2): fold them too;
        groups the user opened stay open."""
        c = self.controller
        if c.graph is None:
            return
        scopes = all_scopes(c.graph)
        c.collapsed |= layer_collapse(c.graph) & (scopes - self.level_seen)
        self.level_seen |= scopes

    def open_camera(self, display: Any) -> None:
        """Where the camera starts: the whole graph side by side, else the opening view."""
        c = self.controller
        if self.layer_level:
            frame_compare_pane(self)
        else:
            opening_view(self.canvas, display, c.graph, folded=bool(c.collapsed))
