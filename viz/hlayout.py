"""Hierarchical layout: each expanded scope laid out on its own, then composed upwards.

A display graph's boxes sit in a tree of groups (:mod:`viz.hgroups`). Groups are laid out bottom
up, deepest first, each by itself with its child groups as fixed-size boxes; every group's layout
is cached by its content (its items' sizes, arrows and ladder ties, under local names), so
expanding or collapsing a scope lays out again only that scope's group and its ancestors, and
repeated blocks of the same shape share one layout. Groups of one depth go to Graphviz together
in one process (each graph laid out separately); a group above ``simple_limit`` boxes gets a cheap
layered layout instead. The result is one :class:`~graphstage.viz.layout.Layout` in scene
coordinates, with one cluster box per group. Pure Python: no Qt, no frameworks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphstage.viz import hroute
from graphstage.viz.graphviz import GraphvizError
from graphstage.viz.hgroups import (
    BOX,
    GroupInput,
    GroupTree,
    build_tree,
    group_anchors,
    group_arrows,
    group_spec,
    ladder_pairs,
)
from graphstage.viz.hsimple import rank_cost, simple_layout
from graphstage.viz.layout import (
    Layout,
    LayoutCache,
    LayoutSpec,
    compute_layout,
    compute_layouts,
    spec_key,
)

PAD = 8.0            # frame margin around a group's content
TITLE = 16.0         # room for a group's title above its content
SIMPLE_LIMIT = 300   # groups with more boxes get the layered layout, not Graphviz (dot 2.43 stalls)
BATCH_NODES = 1500   # boxes per Graphviz process when several groups go together
GROUP_TIMEOUT = 2.0  # seconds Graphviz gets per group before the layered layout stands in
RETRY_LIMIT = 150    # after a batch timed out, groups above this many boxes go layered at once
COST_LIMIT = 1500    # groups whose dot ranking would hold more nodes (hsimple.rank_cost) go layered

Size = tuple[float, float]


@dataclass
class GroupResult:
    """One group's input and its layout in the group's own coordinates."""

    inp: GroupInput
    lay: Layout


class HierLayout:
    """Lays out display graphs group by group, reusing cached group layouts.

    ``runs`` lists the box count of every Graphviz layout made (one entry per group laid out);
    ``on_run``, when set, is called with each group's id and box count before it goes to
    Graphviz: a public hook for tests and benchmarks.
    """

    def __init__(self, cache: LayoutCache | None = None, simple_limit: int = SIMPLE_LIMIT,
                 batch_nodes: int = BATCH_NODES) -> None:
        self.cache = cache if cache is not None else LayoutCache(8192)
        self.simple_limit = simple_limit
        self.batch_nodes = batch_nodes
        self.runs: list[int] = []
        self.slow_groups = 0  # groups Graphviz could not lay out in time (layered instead)
        self.on_run: Callable[[str, int], None] | None = None

    def layout(self, display: Any, sizes: dict[str, Size]) -> Layout:
        """Where every box, arrow and group frame of display goes (blocking; worker thread)."""
        tree = build_tree(display.nodes)
        arrows = group_arrows(display, tree)
        ties = group_anchors(tree, ladder_pairs(display))
        sizes = dict(sizes)
        results: dict[str, GroupResult] = {}
        by_level: dict[int, list[str]] = {}
        for gid in tree.groups:
            by_level.setdefault(tree.level(gid), []).append(gid)
        for lvl in sorted(by_level, reverse=True):
            inputs = [group_spec(display, tree, g, sizes, arrows[g], ties[g])
                      for g in by_level[lvl]]
            for inp, lay in zip(inputs, self._lay_out(inputs), strict=True):
                results[inp.gid] = GroupResult(inp, lay)
                if inp.gid:
                    sizes[BOX + inp.gid] = (lay.width + 2 * PAD, lay.height + 2 * PAD + TITLE)
        return compose(display, tree, results, sizes)

    def _lay_out(self, inputs: list[GroupInput]) -> list[Layout]:
        """Layouts of several groups: cached, layered (too big) or one Graphviz batch."""
        keys = [spec_key(i.spec) for i in inputs]
        todo: dict[tuple, tuple[str, LayoutSpec]] = {}
        for key, inp in zip(keys, inputs, strict=True):
            if self.cache.get(key) is not None or key in todo:
                continue
            if len(inp.spec.nodes) > self.simple_limit or rank_cost(inp.spec) > COST_LIMIT:
                self.cache.put(key, simple_layout(inp.spec))
            else:
                todo[key] = (inp.gid, inp.spec)
        batch: list[tuple[tuple, LayoutSpec]] = []
        for key, (gid, spec) in todo.items():
            if self.on_run is not None:
                self.on_run(gid, len(spec.nodes))
            self.runs.append(len(spec.nodes))
            if batch and sum(len(s.nodes) for _, s in batch) + len(spec.nodes) > \
                    self.batch_nodes:
                self._run_batch(batch)
                batch = []
            batch.append((key, spec))
        if batch:
            self._run_batch(batch)
        return [self.cache.get(k) for k in keys]

    def _run_batch(self, batch: list[tuple[tuple, LayoutSpec]]) -> None:
        """One Graphviz process for the batch; a group Graphviz cannot lay out within
        GROUP_TIMEOUT (Debian's dot 2.43 stalls on some wide ladders) gets the layered layout."""
        big = any(len(s.nodes) > RETRY_LIMIT for _, s in batch)
        try:
            lays = compute_layouts([s for _, s in batch], timeout=GROUP_TIMEOUT,
                                   tries=1 if big else 3)
        except GraphvizError:
            lays = []
            for _, spec in batch:
                try:
                    if len(spec.nodes) > RETRY_LIMIT:  # the likely staller: no second wait
                        raise GraphvizError("too slow in its batch")
                    lays.append(compute_layout(spec, timeout=GROUP_TIMEOUT))
                except GraphvizError:
                    self.slow_groups += 1
                    lays.append(simple_layout(spec))
        for (key, _), lay in zip(batch, lays, strict=True):
            self.cache.put(key, lay)


def _cluster_phase(phases: set[str]) -> str:
    return next(iter(phases)) if len(phases) == 1 else "mixed"


def compose(display: Any, tree: GroupTree, results: dict[str, GroupResult],
            sizes: dict[str, Size]) -> Layout:
    """Place every group's layout inside its box in its parent, top down, and route arrows."""
    nodes: dict[str, tuple[float, float, float, float]] = {}
    clusters: dict[str, tuple[float, float, float, float]] = {}
    origin: dict[str, tuple[float, float]] = {"": (0.0, 0.0)}
    for gid in sorted(tree.groups, key=tree.level):
        ox, oy = origin[gid]
        res = results[gid]
        for i, item in enumerate(res.inp.names):
            cx, cy, _w, _h = res.lay.nodes[f"i{i}"]
            w, h = sizes[item]
            if item.startswith(BOX):
                sub = item[len(BOX):]
                x0, y0 = ox + cx - w / 2, oy + cy - h / 2
                clusters[f"{_cluster_phase(tree.groups[sub].phases)}:{sub}"] = (x0, y0, w, h)
                origin[sub] = (x0 + PAD, y0 + PAD + TITLE)
            else:
                nodes[item] = (ox + cx, oy + cy, w, h)
    edges = _route_all(display, tree, results, nodes, origin)
    root = results[""].lay
    return Layout(nodes, edges, clusters, root.width, root.height)


def _route_all(display: Any, tree: GroupTree, results: dict[str, GroupResult],
               nodes: dict[str, tuple[float, float, float, float]],
               origin: dict[str, tuple[float, float]]) -> dict[tuple[str, str], list]:
    """Every display edge's points: its group's spline, with legs into child boxes."""
    edges: dict[tuple[str, str], list] = {}
    for gid, res in results.items():
        ox, oy = origin[gid]
        level = tree.level(gid)
        local = {item: f"i{i}" for i, item in enumerate(res.inp.names)}
        for (a, b), members in res.inp.edges.items():
            spline = res.lay.edges.get((local[a], local[b]))
            spline = hroute.shift(spline, ox, oy) if spline else None
            for u, v in members:
                iu, iv = tree.item_at(u, level), tree.item_at(v, level)
                if spline and (iu, iv) == (u, v) == (a, b):
                    edges[(u, v)] = spline
                    continue
                mid = hroute.waypoints(spline) if spline else None
                if mid and iu != a:
                    mid.reverse()
                edges[(u, v)] = hroute.route(nodes[u], nodes[v], mid, iu != u, iv != v)
    return edges


def display_sizes(display: Any, measure: Callable[[str, str, bool], Size],
                  memo: dict | None = None) -> dict[str, Size]:
    """Each box's size from measure(label, detail, is_group) (the GUI passes Qt's metrics);
    memo, when given, keeps sizes by text across calls."""
    memo = {} if memo is None else memo
    out: dict[str, Size] = {}
    for k, n in display.nodes.items():
        text = (("▸ " + n.label) if n.is_group else n.label, n.detail, n.is_group)
        size = memo.get(text)
        if size is None:
            size = memo[text] = measure(*text)
        out[k] = size
    return out
