"""What the player and the panes change on a canvas's boxes: lit states, group progress,
travelling pulses, the value callout, search rings, selection, overlay colours and notes.
A mixin of GraphCanvas (it holds nodes, edges, theme, scene and the callout item)."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from graphstage.viz.gui.items import NodeItem, PulseItem


class CanvasMarks:
    """The Player's and the pane's marks on the boxes of a GraphCanvas."""

    # ---- what the Player drives -------------------------------------------------------------

    def _marked(self, flag: str) -> set[str]:
        """The keys of the boxes whose `flag` is not at its default: the only boxes a reset
        touches (a 25,000-box step has a handful lit, ringed or noted)."""
        return self.__dict__.setdefault("_marked_by_flag", {}).setdefault(flag, set())

    def _mark(self, flag: str, values: dict, default: object) -> None:
        """Set `flag` on the boxes in values, and back to default on the others that had it."""
        marked = self._marked(flag)
        for k in marked - values.keys():
            it = self.nodes.get(k)
            if it is not None:
                it.set_flag(flag, default)
        for k, v in values.items():
            it = self.nodes.get(k)
            if it is not None:
                it.set_flag(flag, v)
        marked.clear()
        marked.update(k for k, v in values.items() if v != default)

    def set_node_states(self, states: dict[str, str]) -> None:
        """Light boxes (active / done); an empty dict puts every lit box back to idle."""
        lit = self._marked("state")
        if not states:
            for k in lit:
                it = self.nodes.get(k)
                if it is not None:
                    it.set_state("idle")
            lit.clear()
            return
        for k, s in states.items():
            it = self.nodes.get(k)
            if it is not None:
                it.set_state(s)
            if s == "idle":
                lit.discard(k)
            else:
                lit.add(k)

    def set_progress(self, progress: dict[str, tuple[int, int] | None]) -> None:
        """Show (ops run, ops) in playing group boxes; None or an empty dict clears."""
        shown = self._marked("progress")
        if not progress:
            self._mark("progress", {}, None)
            return
        for k, p in progress.items():
            it = self.nodes.get(k)
            if it is not None:
                it.set_flag("progress", p)
            if p is None:
                shown.discard(k)
            else:
                shown.add(k)

    def _pulses_hide(self) -> None:
        for p in self._pulses:
            p.setVisible(False)

    def set_pulses(self, pulses: list[tuple[tuple[str, str], float, str]]) -> None:
        while len(self._pulses) < len(pulses):
            p = PulseItem()
            self.scene().addItem(p)
            self._pulses.append(p)
        for item, (ek, frac, phase) in zip(self._pulses, pulses, strict=False):
            spline = self.edges.spline(ek) if self.edges is not None else None
            if spline is None:
                item.setVisible(False)
                continue
            item.set_color(self.theme.phase.get(phase, self.theme.highlight))
            item.setPos(spline.pointAtPercent(min(1.0, max(0.0, frac))))
            item.setVisible(True)
        for item in self._pulses[len(pulses):]:
            if item.isVisible():
                item.setVisible(False)

    def set_current(self, key: str | None, node: str | None) -> None:
        it = self.nodes.get(key) if key else None
        if it is None or node is None or self.value_text is None:
            if self._callout.isVisible():
                self._callout.setVisible(False)
            return
        text = self.value_text(node)
        if not text:
            self._callout.setVisible(False)
            return
        if self._callout.text() != text:
            self._callout.setText(text)
        self._callout.setPos(self._callout_spot(it))
        self._callout.setVisible(True)

    def _callout_spot(self, it) -> QPointF:
        """Where the value callout covers no other box's label: above the box, else below,
        right or left of it (the first free spot; above when none is)."""
        r = self._callout.boundingRect()
        x, y, w, h = it.pos().x(), it.pos().y(), it.w / 2, it.h / 2
        spots = [QPointF(x - r.width() / 2, y - h - r.height() - 3),
                 QPointF(x - r.width() / 2, y + h + 3),
                 QPointF(x + w + 6, y - r.height() / 2),
                 QPointF(x - w - 6 - r.width(), y - r.height() / 2)]
        for spot in spots:
            area = r.translated(spot)
            if not any(isinstance(o, NodeItem) and o is not it
                       for o in self.scene().items(area)):
                return spot
        return spots[0]

    # ---- highlighting, selection, overlay -------------------------------------------------

    def set_highlight(self, keys: set[str]) -> None:
        """Ring exactly these boxes (search matches, linked counterparts)."""
        self._mark("highlighted", dict.fromkeys(keys, True), False)

    def select_key(self, key: str | None, center: bool = False) -> None:
        self.scene().clearSelection()
        it = self.nodes.get(key) if key else None
        if it is not None:
            it.setSelected(True)
            if center:
                self.centerOn(it)

    def set_overlay(self, colors: dict[str, QColor] | None) -> None:
        """Colour boxes by an overlay's values (None: no overlay)."""
        self._mark("overlay", colors or {}, None)

    def set_notes(self, notes: dict[str, str] | None) -> None:
        """A short figure under a group box's name (its ops' total time or memory)."""
        self._mark("note", notes or {}, None)

