"""The group tree of a display graph and each group's own layout input.

Every expanded scope is a group (the root is ''); a group's items are the boxes directly inside it
and its child groups, drawn as boxes. A group holding a single item gets no frame: the item moves
up to the parent. Each group's input is a :class:`~graphstage.viz.layout.LayoutSpec` with local
names (``i0``, ``i1``... in execution order), so two groups of the same shape share one layout.
Pure Python: no Qt, no frameworks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphstage.viz.layout import LayoutSpec

_SEP = re.compile(r"[/.]")
BOX = "\u29c9"          # prefix of a child group's item id: BOX + scope
LEAVES = ("parameter", "constant", "input")


@lru_cache(maxsize=1 << 16)
def scope_prefixes(scope: str) -> tuple[str, ...]:
    """Every enclosing scope of scope, outermost first, spelled as in the original string:
    'a/b.c' -> ('a', 'a/b', 'a/b.c')."""
    out, pos = [], 0
    for m in _SEP.finditer(scope or ""):
        if m.start() > pos:
            out.append(scope[: m.start()])
        pos = m.end()
    if scope and pos < len(scope):
        out.append(scope)
    return tuple(out)


def scope_chain(container: str) -> tuple[str, ...]:
    """'' -> ('',); 'a/b.c' -> ('', 'a', 'a/b', 'a/b.c'): the groups enclosing a box."""
    return ("", *scope_prefixes(container))


@dataclass
class Group:
    """One expanded scope: its items (display keys and BOX+scope child groups) in order."""

    gid: str
    items: list[str] = field(default_factory=list)
    phases: set[str] = field(default_factory=set)


@dataclass
class GroupTree:
    """Groups of one display graph, and for each box the chain of groups that holds it."""

    groups: dict[str, Group]
    chains: dict[str, tuple[str, ...]]      # display key -> enclosing groups, root first

    def item_at(self, key: str, level: int) -> str:
        """The item of chains[key][level] that holds key (key itself or a child group box)."""
        chain = self.chains[key]
        return key if level + 1 >= len(chain) else BOX + chain[level + 1]

    def lca(self, u: str, v: str) -> int:
        """Depth of the deepest group holding both u and v."""
        cu, cv = self.chains[u], self.chains[v]
        i = 0
        while i + 1 < len(cu) and i + 1 < len(cv) and cu[i + 1] == cv[i + 1]:
            i += 1
        return i

    def level(self, gid: str) -> int:
        """gid's index in the chains of its boxes (0 for the root)."""
        return len(self.ancestors(gid))

    def ancestors(self, gid: str) -> list[str]:
        """The groups above gid (present in the tree), nearest first."""
        return [g for g in reversed(scope_chain(gid)[:-1]) if g in self.groups]


def build_tree(nodes: dict[str, Any]) -> GroupTree:
    """The group tree of display nodes (anything with .container and .phase)."""
    raw: dict[str, tuple[str, ...]] = {k: scope_chain(dn.container) for k, dn in nodes.items()}
    groups: dict[str, Group] = {"": Group("")}
    for k, chain in raw.items():
        for i, g in enumerate(chain):
            grp = groups.get(g)
            if grp is None:
                grp = groups[g] = Group(g)
                parent = groups[chain[i - 1]]
                parent.items.append(BOX + g)
            grp.phases.add(nodes[k].phase)
        groups[chain[-1]].items.append(k)
    # A group with one item gets no frame: its item takes its place in the parent.
    removed: set[str] = set()
    for gid in sorted(groups, key=lambda g: -len(scope_chain(g))):
        grp = groups[gid]
        if gid and len(grp.items) == 1:
            parent = groups[next(g for g in reversed(scope_chain(gid)[:-1]) if g not in removed)]
            parent.items[parent.items.index(BOX + gid)] = grp.items[0]
            removed.add(gid)
    for gid in removed:
        del groups[gid]
    chains = {k: tuple(g for g in chain if g in groups) for k, chain in raw.items()}
    return GroupTree(groups, chains)


def ladder_pairs(display: Any) -> set[tuple[str, str]]:
    """(forward box, backward box) and (parameter, its gradient / update) display-key pairs."""
    g, rep = display.graph, display.rep
    out = set()
    for k, dn in display.nodes.items():
        for m in dn.members:
            a = g.nodes[m]
            ref = a.get("param") if a["kind"] in ("grad_acc", "update") else (
                a.get("forward") if a["phase"] == "backward" else None)
            ref_box = rep.get(ref) if ref is not None else None
            if ref_box is not None and ref_box != k:
                out.add((ref_box, k))
    return out


@dataclass
class GroupInput:
    """A group's Graphviz input with local names, and what maps back to display keys."""

    gid: str
    spec: LayoutSpec
    names: list[str]                                    # local index -> item id
    edges: dict[tuple[str, str], list[tuple[str, str]]]  # item edge (as laid out) -> display edges


Arrows = dict[tuple[str, str], list[tuple[str, str]]]


def group_arrows(display: Any, tree: GroupTree) -> dict[str, Arrows]:
    """Per group, its item-level arrows and the display edges each one stands for (an arrow
    between two groups belongs to their deepest common group, between its child boxes)."""
    per: dict[str, Arrows] = {g: {} for g in tree.groups}
    for (u, v) in display.edges:
        lvl = tree.lca(u, v)
        a, b = tree.item_at(u, lvl), tree.item_at(v, lvl)
        if a != b:
            per[tree.chains[u][lvl]].setdefault((a, b), []).append((u, v))
    return per


def group_anchors(tree: GroupTree, pairs: set[tuple[str, str]]
                  ) -> dict[str, set[tuple[str, str]]]:
    """Per group, the ladder ties between its items (forward item -> backward item)."""
    per: dict[str, set[tuple[str, str]]] = {g: set() for g in tree.groups}
    for ref, k in pairs:
        lvl = tree.lca(ref, k)
        a, b = tree.item_at(ref, lvl), tree.item_at(k, lvl)
        if a != b:
            per[tree.chains[ref][lvl]].add((a, b))
    return per


def group_spec(display: Any, tree: GroupTree, gid: str, sizes: dict[str, tuple[float, float]],
               arrows: Arrows, ties: set[tuple[str, str]]) -> GroupInput:
    """The layout input of one group: its items at their sizes, the ladder kept inside it.

    Backward arrows between child groups are laid out against their direction, so a group's
    backward part sits beside its forward part rather than below everything."""
    items = tree.groups[gid].items
    local = {it: f"i{i}" for i, it in enumerate(items)}
    anchors = {(local[a], local[b]) for a, b in ties}
    anchored = {b for _, b in anchors}
    # update boxes tied beside their forward box take their row from that tie alone: their
    # other arrows (gradients in, the optimizer's shared state, the step's final NoOp) would
    # push every update box below the whole backward pass
    tied_updates = {local[b] for _, b in ties
                    if b in display.nodes and display.nodes[b].phase == "update"}
    edges: list[tuple[str, str]] = []
    loose, flat = set(), set()
    laid: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for (a, b), members in arrows.items():
        roles = {display.edges[e].role for e in members}
        phases = {display.edges[e].phase for e in members}
        la, lb = local[a], local[b]
        boxy = a.startswith(BOX) or b.startswith(BOX)
        backward = roles <= {"gradient", "update"} or phases <= {"backward", "update"}
        if backward and boxy and (la, lb) not in anchors:
            la, lb = lb, la
        pair = pair_key = (la, lb)
        if (lb, la) in laid:
            pair_key = (lb, la)
        if pair_key in laid:
            laid[pair_key].extend(members)
            continue
        laid[pair] = list(members)
        edges.append(pair)
        if backward and not boxy and la in anchored and lb in anchored:
            loose.add(pair)
        elif pair not in anchors and (la in tied_updates or lb in tied_updates):
            loose.add(pair)
        elif roles == {"data"} and not boxy and display.nodes[a].kind in LEAVES:
            flat.add(pair)
    spec = LayoutSpec({local[it]: sizes[it] for it in items}, edges, anchors=sorted(anchors),
                      loose_edges=loose, flat_edges=flat, node_order=[local[it] for it in items])
    back = dict(zip(local.values(), local.keys(), strict=True))
    return GroupInput(gid, spec, items, {(back[x], back[y]): m for (x, y), m in laid.items()})
