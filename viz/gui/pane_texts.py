"""What a StagePane (viz/gui/pane.py) writes beside and over its canvas: the title line, the
step's banner, the phase it plays, and the value overlay's colours and legend.

A mixin: it reads the pane's controller, player, canvas and labels, and holds no state of its own.
"""

from __future__ import annotations

from graphstage.viz.gui.banner import compare_banner, step_banner
from graphstage.viz.gui.summary import (
    OVERLAYS,
    group_totals,
    magnitudes,
    node_value_text,
    overlay_colors,
)

PHASE_NAMES = {"forward": "forward pass", "backward": "backward pass", "update": "update",
               "done": "step done"}


class PaneTextsMixin:
    """Title, banner, phase label and overlay of a StagePane."""

    def _title_text(self) -> str:
        c = self.controller
        if c.session is None:
            return ""
        g = c.graph
        fw = {"torch": "PyTorch", "tensorflow": "TensorFlow"}.get(c.session.framework,
                                                                  c.session.framework)
        return (f"<b>{c.session.model}</b>  ·  {fw} ({g.graph.get('capture', '')})  ·  step "
                f"{c.step + 1}/{c.step_count}  ·  {g.number_of_nodes()} nodes")

    def update_banner(self) -> None:
        """Say where this step's graph came from (rebuilt / reused / retraced) and, beside a
        peer pane, how the two structures differ this step."""
        c = self.controller
        if c.session is None or not c.session.steps:
            self.banner_text = ""
        else:
            text = step_banner(c.session, c.step)
            peer = self.peer.controller.session if self.peer is not None else None
            if peer is not None and peer is not c.session:
                diff = compare_banner(c.session, peer, c.step)
                text += f"\n{diff}" if diff else ""
            self.banner_text = text
        reused = "reused" in self.banner_text.split("\n")[0]
        colour = "#2b9a48" if reused else "#b35c00"
        self.banner.setText(self.banner_text)
        self.banner.setStyleSheet(f"color: {colour};")
        self.banner.setVisible(bool(self.banner_text))

    def show_phase(self) -> None:
        """Name the phase this pane's animation is in, in its colour, beside the title (only
        beside a peer pane: alone, the toolbar names it)."""
        s = self.player.schedule
        self.phase_text = s.phase_at(self.player.t) if s is not None else ""
        color = self.canvas.theme.phase.get(self.phase_text, self.canvas.theme.muted).name()
        self.phase_label.setText(f"<b style='color:{color}'>● "
                                 f"{PHASE_NAMES.get(self.phase_text, '')}</b>" if s else "")
        self.phase_label.setVisible(self.peer is not None)   # alone, the toolbar says it

    def set_overlay(self, mode: str) -> None:
        self.overlay = mode
        self.apply_overlay()

    def apply_overlay(self) -> None:
        """Colour boxes by gradient or activation magnitude, with the legend's range."""
        c = self.controller
        if self.overlay == "none" or c.graph is None or self.canvas.display is None:
            self.canvas.set_overlay(None)
            self.canvas.set_legend(None)
            self.canvas.set_notes(None)
            return
        title, combine = OVERLAYS.get(self.overlay, OVERLAYS["activation"])
        values = magnitudes(c.graph, self.overlay)
        display = self.canvas.display
        colors, lo, hi = overlay_colors(values, display.rep, combine)
        self.canvas.set_overlay(colors)
        self.canvas.set_legend((title, lo, hi) if colors else None)
        self.canvas.set_notes(group_totals(values, display, self.overlay))

    def _value_text(self, node: str) -> str:
        g = self.controller.graph
        return node_value_text(g, node) if g is not None and node in g else ""
