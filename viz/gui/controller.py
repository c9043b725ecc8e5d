"""The state of one pane: the trace session, the current step, collapsed scopes, selection.

Widgets read from it and call its methods; it knows nothing about items or layout.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from graphstage.viz.gui.viewgraph import (
    ROOT,
    TOP_MAX,
    DisplayGraph,
    build_display,
    depth_collapse,
    max_depth,
    opening_collapse,
    scope_prefixes,
)

if TYPE_CHECKING:
    from graphstage.tracers.session import TraceSession


EXPAND_ALL_MAX = 50_000   # ops: Expand all on a bigger step opens one level at a time


class StageController(QObject):
    """Session + step + collapse state + selection for one pane, with change signals."""

    sessionChanged = Signal()
    displayChanged = Signal(str)       # reason: "load" | "step" | "collapse"
    notice = Signal(str)               # something the user should read (status bar)
    selectionChanged = Signal(str)     # display key, or "" for none

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: TraceSession | None = None
        self.source = ""
        self.step = 0
        self.collapsed: set[str] = set()
        self.opened: set[str] = set()      # boxes whose nested graphs are drawn inline
        self.selected = ""
        self._display: dict[tuple, DisplayGraph] = {}   # display_key -> display

    # ---- session and step -------------------------------------------------------------------

    def set_session(self, session: TraceSession, source: str = "", step: int = 0) -> None:
        """Show a freshly loaded session, opened at a readable collapse depth."""
        self.session = session
        self.source = source
        self._display.clear()
        # A trace is tens of thousands of long-lived objects: keep the cyclic collector from
        # walking them on every full collection (pauses of 100-300 ms in the GUI and worker
        # threads); a replaced session's objects become collectable again.
        gc.unfreeze()
        gc.freeze()
        self.step = max(0, min(step, len(session.steps) - 1))
        self.collapsed = opening_collapse(session.steps[self.step]) if session.steps else set()
        self.selected = ""
        self.sessionChanged.emit()
        self.displayChanged.emit("load")
        ops = self.graph.number_of_nodes() if self.graph is not None else 0
        if ROOT in self.collapsed:
            self.notice.emit(f"{ops:,} ops with no top-level structure to show (over {TOP_MAX:,} "
                             "boxes): opened folded, one box per pass; double-click one to open "
                             "it")
        elif ops > EXPAND_ALL_MAX:
            self.notice.emit(f"{ops:,} ops: opened at its top-level structure; double-click a "
                             "group to open it (Expand all opens one level at a time)")

    @property
    def graph(self):
        return self.session.steps[self.step] if self.session and self.session.steps else None

    @property
    def step_count(self) -> int:
        return len(self.session.steps) if self.session else 0

    def set_step(self, step: int) -> None:
        if self.session is None or not self.session.steps:
            return
        step = max(0, min(step, len(self.session.steps) - 1))
        if step != self.step:
            self.step = step
            self.displayChanged.emit("step")

    def display_key(self, step: int | None = None) -> tuple:
        """What a step's display depends on: its graph and the collapse state."""
        step = self.step if step is None else step
        return (self.session.steps[step], frozenset(self.collapsed), frozenset(self.opened))

    def cached_display(self, key: tuple) -> DisplayGraph | None:
        """The display built for key, if it was built (here or by the layout worker)."""
        return self._display.get(key)

    def adopt(self, key: tuple, display: DisplayGraph) -> None:
        """Keep a display the layout worker built, so display() returns that same object."""
        if len(self._display) > 64:
            self._display.clear()
        self._display.setdefault(key, display)

    def display(self, step: int | None = None) -> DisplayGraph:
        """The boxes and arrows of a step under the current collapse state (memoised)."""
        key = self.display_key(step)
        d = self._display.get(key)
        if d is None:
            self.adopt(key, build_display(key[0], key[1], key[2]))
            d = self._display[key]
        return d

    def toggle_children(self, key: str) -> None:
        """Open a control-flow op's (or call's) nested graphs in place, or close them."""
        self.opened ^= {key}
        self.displayChanged.emit("collapse")

    # ---- hierarchy ---------------------------------------------------------------------------

    def toggle_scope(self, scope: str) -> None:
        """Collapse an open scope or expand a collapsed one (its sub-scopes stay collapsed when
        that shows fewer boxes)."""
        if scope in self.collapsed:
            self.collapsed.discard(scope)
            g = self.graph
            if g is not None:
                self.collapsed |= _folding_kids(g, scope)
        else:
            self.collapsed.add(scope)
        self.displayChanged.emit("collapse")

    def expand_all(self) -> None:
        """Open every group; a graph over EXPAND_ALL_MAX ops opens one more level instead, with
        a notice (drawing all of it would take minutes and gigabytes)."""
        if self.graph is None:
            return
        ops = self.graph.number_of_nodes()
        if ops > EXPAND_ALL_MAX and self.collapsed:
            depth = min(len(scope_prefixes(s)) for s in self.collapsed)   # ROOT: 0
            self.collapsed = {s for s in self.collapsed if len(scope_prefixes(s)) > depth}
            self.notice.emit(f"{ops:,} ops are too many to draw at once (Expand all stops at "
                             f"{EXPAND_ALL_MAX:,}): opened one more level; double-click a group "
                             "to open it, or set Depth")
        else:
            self.collapsed = set()
        self.displayChanged.emit("collapse")

    def collapse_to_depth(self, depth: int) -> None:
        if self.graph is not None:
            self.collapsed = depth_collapse(self.graph, depth)
            self.displayChanged.emit("collapse")

    def max_depth(self) -> int:
        return max_depth(self.graph) if self.graph is not None else 0

    def reveal(self, node_id: str) -> str:
        """Expand whatever hides node_id; return its display key."""
        g = self.graph
        if g is None or node_id not in g:
            return ""
        hidden = [p for p in (ROOT, *scope_prefixes(g.nodes[node_id].get("scope", "")))
                  if p in self.collapsed]
        if hidden:
            self.collapsed -= set(hidden)
            self.displayChanged.emit("collapse")
        return self.display().rep[node_id]

    # ---- selection and search ----------------------------------------------------------------

    def select(self, key: str) -> None:
        self.selected = key
        self.selectionChanged.emit(key)

    def search(self, text: str) -> list[str]:
        """Display keys whose node label, op, key or scope contains text (case-insensitive)."""
        text = text.strip().lower()
        if not text or self.graph is None:
            return []
        d = self.display()
        hits: list[str] = []
        for n, a in self.graph.nodes(data=True):
            hay = f"{a.get('label', '')}\n{a.get('op', '')}\n{a.get('key', '')}\n" \
                  f"{a.get('scope', '')}\n{a.get('name', '')}".lower()
            if text in hay:
                k = d.rep[n]
                if k not in hits:
                    hits.append(k)
        return hits


def _folding_kids(graph, scope: str) -> set[str]:
    """The sub-scopes of scope one level down, if folding them shows fewer boxes than not."""
    depth = len(scope_prefixes(scope))
    kids: dict[str, set[str]] = {}
    nodes = 0
    for _, a in graph.nodes(data=True):
        prefixes = scope_prefixes(a.get("scope", ""))
        if len(prefixes) > depth and prefixes[depth - 1] == scope:
            kids.setdefault(prefixes[depth], set()).add(a.get("phase", "forward"))
            nodes += 1
    folded = sum(len(p) for p in kids.values())
    return set(kids) if folded < nodes else set()
