"""What the canvas shows for one step: the step graph with collapsed scopes folded into groups.

Pure Python (no Qt), so tests can compare the canvas with the trace. Display keys are stable across
steps (a node's contract ``key``; ``group:<phase>:<scope>`` for a collapsed scope), which is what
lets a step change morph persisting nodes instead of rebuilding the scene.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from graphstage.viz.dot import TOP_MAX  # over this many top-level boxes: folded whole (as exports)
from graphstage.viz.gui.naming import display_label, node_detail
from graphstage.viz.gui.pergraph import per_graph
from graphstage.viz.hgroups import scope_prefixes

_SEP = re.compile(r"[/.]")
_NUMBERED = re.compile(r"^(.*?)(\d+|(?<=\d)[a-z])$")   # block_7, layers.3; block4a, block4b
READABLE_NODES = 80   # open big graphs collapsed until about this many boxes are visible
STACK_MIN = 3         # this many numbered sibling blocks (blocks/0..11) read as one "×N" stack
WRAPPER_SHARE = 0.5   # a scope holding this share of the forward ops is opened (a model wrapper)
ROOT = ""             # in a collapsed set: the whole model, one group per phase


def scope_parts(scope: str) -> list[str]:
    """'layer1.0/conv1' -> ['layer1', '0', 'conv1'] (torch uses '.', TensorFlow '/')."""
    return [p for p in _SEP.split(scope or "") if p]


def scope_title(scope: str) -> str:
    """A short readable name for a scope: its last part ('layer1.0' for an index part)."""
    prefixes = scope_prefixes(scope)
    parts = scope_parts(scope)
    if len(parts) >= 2 and parts[-1].isdigit():
        return f"{parts[-2]}.{parts[-1]}"
    return parts[-1] if parts else (prefixes[-1] if prefixes else "")


def group_key(phase: str, scope: str) -> str:
    """The display key of a collapsed scope within one phase."""
    return f"group:{phase}:{scope}"


@dataclass
class DisplayNode:
    """One box on the canvas: a step-graph node or a collapsed group of them."""

    key: str
    label: str
    detail: str
    kind: str
    phase: str
    container: str                 # scope whose cluster holds this box ('' = top level)
    members: list[str] = field(default_factory=list)   # step-graph node ids
    group: str | None = None       # the collapsed scope, for groups
    attrs: dict | None = None      # a node of a nested graph shown inline (not in the step graph)

    @property
    def is_group(self) -> bool:
        return self.group is not None


@dataclass
class DisplayEdge:
    """An arrow between two boxes (several graph edges when groups are involved)."""

    u: str
    v: str
    role: str
    phase: str
    shape: list | None = None
    count: int = 1


@dataclass
class DisplayGraph:
    """The boxes and arrows for one step under one collapse state."""

    graph: nx.DiGraph
    nodes: dict[str, DisplayNode]
    edges: dict[tuple[str, str], DisplayEdge]
    rep: dict[str, str]            # step-graph node id -> display key
    # work done ahead in the layout worker so the GUI thread only builds items: the arrow
    # index ("arrows": (layout, ArrowIndex)) and playback schedules (("schedule", time_true))
    prepared: dict = field(default_factory=dict, repr=False, compare=False)

    def cluster_paths(self) -> dict[str, tuple[str, ...]]:
        """Per display key, its nested clusters, e.g. ('forward:layer1', 'forward:layer1.0')."""
        out = {}
        for k, dn in self.nodes.items():
            out[k] = tuple(f"{dn.phase}:{p}" for p in scope_prefixes(dn.container))
        return out


def all_scopes(graph: nx.DiGraph) -> set[str]:
    """Every scope (and enclosing scope) used by the graph's nodes."""
    out: set[str] = set()
    for s in {a.get("scope", "") for _, a in graph.nodes(data=True)}:
        out.update(scope_prefixes(s))
    return out


def _consumer_scope(graph: nx.DiGraph, node: str) -> str:
    """An unscoped input/constant used by one scope only is drawn (and folded) with it."""
    if graph.nodes[node]["kind"] not in ("input", "constant"):
        return ""
    scopes = {graph.nodes[v].get("scope", "") for v, in ((v,) for v in graph.successors(node))
              if graph.edges[node, v].get("role") != "saved"}
    return scopes.pop() if len(scopes) == 1 else ""


def build_display(graph: nx.DiGraph, collapsed: Iterable[str] = (),
                  opened: Iterable[str] = ()) -> DisplayGraph:
    """Fold every node inside a collapsed scope into that scope's group (per phase), and draw
    the nested graphs (TF While bodies, If branches, called functions) of the `opened` boxes
    inline, each in a frame of its own under its op."""
    collapsed = set(collapsed)
    capture = graph.graph.get("capture", "")
    nodes: dict[str, DisplayNode] = {}
    rep: dict[str, str] = {}
    for n, a in graph.nodes(data=True):
        scope = a.get("scope", "") or _consumer_scope(graph, n)
        fold = _fold(scope, collapsed) if collapsed else None
        if fold is None:
            key = a["key"]
            nodes[key] = DisplayNode(key, display_label(graph, n, a), node_detail(a, capture),
                                     a["kind"], a["phase"], scope, [n])
        else:
            key = group_key(a["phase"], fold)
            dn = nodes.get(key)
            if dn is None:
                prefixes = scope_prefixes(fold)
                parent = prefixes[-2] if len(prefixes) > 1 else ""
                title = scope_title(fold) or f"{a['phase']} pass"   # ROOT: the whole model
                dn = nodes[key] = DisplayNode(key, title, "", "group", a["phase"],
                                              parent, [], fold)
            dn.members.append(n)
        rep[n] = key
    for dn in nodes.values():
        if dn.is_group:
            ops = sum(1 for m in dn.members if graph.nodes[m]["kind"] != "parameter")
            dn.detail = f"{len(dn.members)} nodes · {ops} ops" if ops != len(dn.members) \
                else f"{ops} ops"
            stack = stack_size(_child_scopes(graph, dn))
            if stack:
                dn.label = f"{dn.label} ×{stack}"
    edges: dict[tuple[str, str], DisplayEdge] = {}
    for u, v, a in graph.edges(data=True):
        ku, kv = rep[u], rep[v]
        if ku == kv or a.get("role") == "saved":
            # saved-for-backward tensors are listed by the inspector; as arrows they would
            # cross the whole drawing from every forward op to its backward node
            continue
        e = edges.get((ku, kv))
        if e is None:
            edges[(ku, kv)] = DisplayEdge(ku, kv, a.get("role", "data"), a.get("phase", "forward"),
                                          a.get("shape"))
        else:
            e.count += 1
    for key in opened:
        dn = nodes.get(key)
        if dn is not None and not dn.is_group:
            _inline_children(graph.nodes[dn.members[0]], dn, nodes, edges)
    return DisplayGraph(graph, nodes, edges, rep)


def _fold(scope: str, collapsed: set[str]) -> str | None:
    """The outermost collapsed scope around `scope` ('' when the whole model is folded)."""
    if ROOT in collapsed:
        return ROOT
    return next((p for p in scope_prefixes(scope) if p in collapsed), None)


def stack_size(children: Iterable[str]) -> int:
    """How many numbered repeats ('0'…'11', 'block_1'…'block_16', 'block4a'…'block4c') the
    child scopes are; 0 when they are not a stack of at least STACK_MIN."""
    stems, n = set(), 0
    for c in children:
        parts = scope_parts(c)
        m = _NUMBERED.match(parts[-1]) if parts else None
        if m is None:
            return 0
        stems.add(m.group(1))
        n += 1
    return n if n >= STACK_MIN and len(stems) == 1 else 0


def _child_scopes(graph: nx.DiGraph, dn: DisplayNode) -> set[str]:
    """The scopes one level below a collapsed group's scope, among its members."""
    depth = len(scope_prefixes(dn.group or ""))
    out = set()
    for m in dn.members:
        prefixes = scope_prefixes(graph.nodes[m].get("scope", ""))
        if len(prefixes) > depth:
            out.add(prefixes[depth])
    return out


def has_children(display: DisplayGraph, key: str) -> bool:
    """Whether the box holds nested graphs that can be opened in place."""
    dn = display.nodes.get(key)
    a = dn.attrs if dn is not None and dn.attrs is not None else (
        display.graph.nodes[dn.members[0]] if dn is not None and not dn.is_group else {})
    return bool(a.get("children"))


def _inline_children(attrs: dict, parent: DisplayNode, nodes: dict[str, DisplayNode],
                     edges: dict[tuple[str, str], DisplayEdge]) -> None:
    """Add a box per node of each nested graph, framed under the parent's scope, with an arrow
    from the parent to each graph's entry nodes."""
    base = parent.container + "/" if parent.container else ""
    for child in attrs.get("children", ()):
        cg = child["graph"]
        frame = f"{base}{parent.label.replace('/', '∕')} · {child.get('name', 'body')}"
        ids = {}
        for n, a in cg.nodes(data=True):
            key = f"{parent.key}::{child.get('name', 'body')}::{a.get('key', n)}"
            ids[n] = key
            nodes[key] = DisplayNode(key, display_label(cg, n, a), node_detail(a),
                                     a.get("kind", "op"),
                                     parent.phase, frame, [], attrs=dict(a))
        for u, v, a in cg.edges(data=True):
            edges.setdefault((ids[u], ids[v]), DisplayEdge(ids[u], ids[v], a.get("role", "data"),
                                                           parent.phase, a.get("shape")))
        for n in cg.nodes:
            if cg.in_degree(n) == 0:
                edges.setdefault((parent.key, ids[n]),
                                 DisplayEdge(parent.key, ids[n], "control", parent.phase))


def depth_collapse(graph: nx.DiGraph, depth: int) -> set[str]:
    """The collapsed set that shows `depth` levels of scopes open (0: every top scope closed)."""
    return {s for s in all_scopes(graph) if len(scope_prefixes(s)) > depth}


@per_graph
def max_depth(graph: nx.DiGraph) -> int:
    """How deep the scope tree goes."""
    return max((len(scope_prefixes(s)) for s in all_scopes(graph)), default=0)


def _scope_stats(graph: nx.DiGraph) -> tuple[dict, dict, dict, dict, dict]:
    """Per scope: ops directly in it, its phases, its child scopes (with their phases), size,
    forward size."""
    forward: dict[str, int] = {}
    direct: dict[str, int] = {}
    phases: dict[str, set[str]] = {}
    children: dict[str, dict[str, set[str]]] = {}
    size: dict[str, int] = {}
    for _, a in graph.nodes(data=True):
        prefixes = scope_prefixes(a.get("scope", ""))
        phase = a.get("phase", "forward")
        for i, p in enumerate(prefixes):
            phases.setdefault(p, set()).add(phase)
            size[p] = size.get(p, 0) + 1
            if phase == "forward":
                forward[p] = forward.get(p, 0) + 1
            if i + 1 < len(prefixes):
                children.setdefault(p, {}).setdefault(prefixes[i + 1], set()).add(phase)
            else:
                direct[p] = direct.get(p, 0) + 1
    return direct, phases, children, size, forward


def readable_collapse(graph: nx.DiGraph, limit: int = READABLE_NODES) -> set[str]:
    """Scopes to show collapsed so a big graph opens on its top-level structure (none if the
    graph is small): a wrapper scope holding most of the forward pass (a Keras model's name
    scope) is opened; top-level scopes open smallest first while the estimated box count stays
    within about `limit` (so one huge optimizer scope stays closed); each deeper level opens only
    if all of it fits; a stack of numbered blocks (blocks/0…11) stays one "×N" box, and beside
    it only forward scopes without scopes inside open (gpt's embeddings; not MobileNetV2's stem
    or the optimizer's shared ops). A model with over TOP_MAX boxes at its top level (an RNN
    unrolled 12,000 times) opens folded whole: one group per pass."""
    if graph.number_of_nodes() <= limit:
        return set()
    direct, phases, children, size, forward = _scope_stats(graph)
    collapsed = {s for s in phases if len(scope_prefixes(s)) > 0}
    tops = [s for s in collapsed if len(scope_prefixes(s)) == 1]
    boxes = sum(1 for _, a in graph.nodes(data=True) if not a.get("scope")) + \
        sum(len(phases[s]) for s in tops)
    if boxes > TOP_MAX:   # no top-level structure to read: the passes, opened on demand
        return collapsed | {ROOT}
    total = sum(1 for _, a in graph.nodes(data=True) if a.get("phase") == "forward")

    def delta(s: str) -> int:
        kids = children.get(s, {})
        return direct.get(s, 0) + sum(len(ph) for ph in kids.values()) - len(phases[s])

    level, depth = sorted(tops, key=size.get), 1
    while level:
        closed = [s for s in level if stack_size(children.get(s, {}))]   # stays one stack
        wrappers = [s for s in level if forward.get(s, 0) >= WRAPPER_SHARE * total
                    and s not in closed]
        rest = [s for s in level if s not in wrappers and s not in closed]
        if closed:   # beside a stack, groups of layers and the optimizer stay boxes
            rest = [s for s in rest if not children.get(s) and "forward" in phases[s]]
        whole = boxes + sum(delta(s) for s in wrappers + rest) <= limit
        if not whole and depth > 1:
            rest = []   # below the top, a level opens whole or not at all (no half-open stages)
        following = []
        for s in wrappers + rest:
            if s in wrappers or boxes + delta(s) <= limit:
                collapsed.discard(s)
                boxes += delta(s)
                following.extend(children.get(s, {}))
        level, depth = sorted(following, key=size.get), depth + 1
    return collapsed


def _call_name(scope: str) -> str:
    """'hidden_layer#2' -> 'hidden_layer call 3' (the tracer numbers repeated calls from #1)."""
    base, sep, idx = scope.rpartition("#")
    if sep and idx.isdigit() and base:
        return f"{base} call {int(idx) + 1}"
    return scope or "(top level)"


def _join(names: list[str]) -> str:
    """'a call 2', 'a call 3' -> 'a call 2 and 3'; keeps order, merges calls of one module."""
    merged: dict[str, list[str]] = {}
    for n in names:
        base, sep, num = n.rpartition(" call ")
        if sep:
            merged.setdefault(base + " call", []).append(num)
        else:
            merged.setdefault(n, [])
    parts = []
    for base, nums in merged.items():
        if not nums:
            parts.append(base)
        elif len(nums) == 1:
            parts.append(f"{base} {nums[0]}")
        else:
            parts.append(f"{base}s {', '.join(nums[:-1])} and {nums[-1]}")
    return ", ".join(parts)


def describe_diff(before: nx.DiGraph | None, after: nx.DiGraph, limit: int = 6) -> str:
    """A short human summary of a step change: '+19: hidden_layer calls 2 and 3, ...'."""
    if before is None:
        return f"{after.number_of_nodes()} nodes"
    old = {a["key"]: a for _, a in before.nodes(data=True)}
    new = {a["key"]: a for _, a in after.nodes(data=True)}
    added = [new[k] for k in new if k not in old]
    removed = [old[k] for k in old if k not in new]
    if not added and not removed:
        return "same graph as the previous step"

    all_scopes_ = {a.get("scope", "") for a in [*old.values(), *new.values()]}

    def scopes(nodes: list[dict]) -> str:
        seen: list[str] = []
        for a in sorted(nodes, key=lambda a: (a["phase"] != "forward", a["order"])):
            scope = a.get("scope", "")
            name = _call_name(scope)
            if scope and f"{scope}#1" in all_scopes_:
                name = f"{scope} call 1"
            if a["kind"] not in ("parameter", "grad_acc", "update") and name not in seen:
                seen.append(name)
        more = f" +{len(seen) - limit} more" if len(seen) > limit else ""
        return _join(seen[:limit]) + more

    parts = []
    if added:
        parts.append(f"+{len(added)}: {scopes(added)}")
    if removed:
        parts.append(f"−{len(removed)}: {scopes(removed)}")
    return "   ".join(parts)


@per_graph
def _opening(graph: nx.DiGraph) -> frozenset[str]:
    return frozenset(readable_collapse(graph))


def opening_collapse(graph: nx.DiGraph) -> set[str]:
    """readable_collapse(graph), remembered per graph: the loading worker works it out, the
    GUI thread then finds it done (a 200,000-op step takes most of a second)."""
    return set(_opening(graph))
