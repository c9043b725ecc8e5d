"""Node positions, edge splines and cluster boxes for a step graph, computed by Graphviz.

The caller measures every box (the GUI uses Qt's QFontMetrics) and passes fixed sizes, so the
result never depends on the engine's fonts. ``dot -Tjson`` lays out top to bottom with one nested
cluster per scope; this module only writes DOT and parses the JSON back (no Qt, no frameworks).
Layouts are cached by :func:`spec_key`, so a structure seen before costs nothing.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from graphstage.viz import graphviz

Point = tuple[float, float]


@dataclass
class LayoutSpec:
    """What to lay out: boxes with fixed sizes in their clusters, and the arrows between them."""

    nodes: dict[str, tuple[float, float]]                 # key -> (width, height) in pixels
    edges: list[tuple[str, str]]
    clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key -> cluster path
    cluster_labels: dict[str, str] = field(default_factory=dict)        # cluster id -> title
    node_order: list[str] | None = None                  # optional DOT emission order
    # same-rank ties drawing the backward pass beside the forward pass (forward box -> its
    # backward box, parameter -> its gradient and update), and arrows that must not set ranks
    anchors: list[tuple[str, str]] = field(default_factory=list)
    loose_edges: set[tuple[str, str]] = field(default_factory=set)
    # leaf -> clustered op arrows whose leaf may sit on the op's own row (no staircase)
    flat_edges: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Layout:
    """Where everything goes, in scene pixels with y growing downwards."""

    nodes: dict[str, tuple[float, float, float, float]]   # key -> (cx, cy, w, h)
    edges: dict[tuple[str, str], list[Point]]              # bezier points, then the arrow tip
    clusters: dict[str, tuple[float, float, float, float]]  # cluster id -> (x, y, w, h)
    width: float
    height: float


def spec_key(spec: LayoutSpec) -> tuple:
    """Cache key: same boxes, sizes, clusters and arrows give the same layout."""
    return (
        tuple(sorted((k, round(w), round(h), spec.clusters.get(k, ()))
                     for k, (w, h) in spec.nodes.items())),
        tuple(sorted(spec.edges)),
        tuple(sorted(spec.anchors)),
        tuple(sorted(spec.loose_edges)),
        tuple(sorted(spec.flat_edges)),
    )


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(spec: LayoutSpec, newrank: bool = True) -> tuple[str, dict[str, str]]:
    """DOT source for spec, and the DOT name -> key map used to read the result back."""
    ids = {k: f"n{i}" for i, k in enumerate(spec.node_order or spec.nodes)}
    names = {v: k for k, v in ids.items()}
    # Build the cluster tree: path tuple -> children paths and member nodes.
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {(): []}
    members: dict[tuple[str, ...], list[str]] = {(): []}
    for k in ids:
        path = spec.clusters.get(k, ())
        for i in range(1, len(path) + 1):
            sub = path[:i]
            if sub not in children:
                children[sub] = []
                members[sub] = []
                children[path[: i - 1]].append(sub)
        members[path].append(k)
    lines = [
        "digraph G {",
        f"graph [rankdir=TB, nodesep=0.22, ranksep=0.38, newrank={str(newrank).lower()}, "
        "outputorder=edgesfirst,"
        " fontsize=13, labeljust=l, margin=0];",
        'node [shape=box, fixedsize=true, label=""];',
        "edge [arrowsize=0.7];",
    ]
    counter = [0]

    def emit(path: tuple[str, ...], indent: str) -> None:
        for k in members[path]:
            w, h = spec.nodes[k]
            lines.append(f"{indent}{ids[k]} [width={w / 72:.3f}, height={h / 72:.3f}];")
        for sub in children[path]:
            cid = f"cluster_{counter[0]}"
            counter[0] += 1
            names[cid] = sub[-1]
            lines.append(f"{indent}subgraph {cid} {{ label={_q(' ')}; margin=10;")
            emit(sub, indent + "  ")
            lines.append(f"{indent}}}")

    emit((), "")
    edges = set(spec.edges)
    for u, v in spec.anchors:
        if u in ids and v in ids and (u, v) not in edges:
            lines.append(f"{ids[u]} -> {ids[v]} [style=invis, minlen=0, weight=4];")
    anchors = set(spec.anchors)
    for u, v in spec.edges:
        if u in ids and v in ids:
            attrs = (" [minlen=0, weight=4]" if (u, v) in anchors else
                     " [constraint=false]" if (u, v) in spec.loose_edges else
                     " [minlen=0]" if (u, v) in spec.flat_edges else "")
            lines.append(f"{ids[u]} -> {ids[v]}{attrs};")
    lines.append("}")
    return "\n".join(lines), names


def _pt(s: str, height: float) -> Point:
    x, y = s.split(",")[:2]
    return float(x), height - float(y)


def parse_json(data: bytes | str, names: dict[str, str]) -> Layout:
    """Read positions, splines and cluster boxes out of `dot -Tjson` output."""
    return parse_doc(json.loads(data), names)


def parse_doc(doc: dict, names: dict[str, str]) -> Layout:
    """Read positions, splines and cluster boxes out of one parsed `dot -Tjson` graph."""
    bb = [float(v) for v in doc.get("bb", "0,0,0,0").split(",")]
    height = bb[3]
    nodes: dict[str, tuple[float, float, float, float]] = {}
    clusters: dict[str, tuple[float, float, float, float]] = {}
    by_gvid: dict[int, str] = {}
    for obj in doc.get("objects", []):
        name = obj.get("name", "")
        if name.startswith("cluster_"):
            x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
            clusters[names.get(name, name)] = (x0, height - y1, x1 - x0, y1 - y0)
        elif "pos" in obj and name in names:
            cx, cy = _pt(obj["pos"], height)
            nodes[names[name]] = (cx, cy, float(obj["width"]) * 72, float(obj["height"]) * 72)
            by_gvid[obj["_gvid"]] = names[name]
    edges: dict[tuple[str, str], list[Point]] = {}
    for e in doc.get("edges", []):
        u, v = by_gvid.get(e["tail"]), by_gvid.get(e["head"])
        if u is None or v is None or "pos" not in e:
            continue
        pts, tip = [], None
        for tok in e["pos"].split(";")[0].split():  # several splines: draw the first
            if tok.startswith("e,"):
                tip = _pt(tok[2:], height)
            elif tok.startswith("s,"):
                continue
            else:
                pts.append(_pt(tok, height))
        edges[(u, v)] = pts + ([tip] if tip else [pts[-1]] if pts else [])
    return Layout(nodes, edges, clusters, bb[2] - bb[0], height)


def compute_layout(spec: LayoutSpec, engine: graphviz.Engine | None = None,
                   timeout: float = graphviz.DEFAULT_TIMEOUT, tries: int = 3) -> Layout:
    """Run Graphviz on spec (blocking: call it from a worker thread for big graphs); each of
    at most ``tries`` attempts gets ``timeout`` seconds (a GraphvizError past them)."""
    if not spec.nodes:
        return Layout({}, {}, {}, 0.0, 0.0)
    # Global ranking with the same-rank ladder ties gives the tidiest picture but trips Graphviz
    # ("lost edge") on some clustered graphs, quickly; then plainer settings: a plainer layout
    # beats none.
    attempts = [(spec, True), (spec, False)]
    if spec.anchors or spec.flat_edges:
        attempts.append((replace(spec, anchors=[], loose_edges=set(), flat_edges=set()), False))
    attempts = attempts[:max(1, tries)]
    for s, newrank in attempts[:-1]:
        try:
            return _run_layout(s, newrank, engine, timeout)
        except graphviz.GraphvizError:
            pass
    return _run_layout(*attempts[-1], engine, timeout)


def compute_layouts(specs: list[LayoutSpec], engine: graphviz.Engine | None = None,
                    timeout: float = graphviz.DEFAULT_TIMEOUT, tries: int = 3) -> list[Layout]:
    """Lay out several independent specs with one Graphviz process (each graph separately);
    if the batch fails, each spec gets its own run with :func:`compute_layout`'s fallbacks."""
    todo = [s for s in specs if s.nodes]
    if len(todo) > 1:
        sources = [to_dot(s) for s in todo]
        try:
            out = graphviz.run("\n".join(src for src, _ in sources), "json", engine=engine,
                               fallback=False, timeout=timeout).decode("utf-8")
            docs = _split_json(out)
            if len(docs) == len(todo):
                done = iter([parse_doc(d, names)
                             for d, (_, names) in zip(docs, sources, strict=True)])
                return [next(done) if s.nodes else Layout({}, {}, {}, 0.0, 0.0) for s in specs]
        except (graphviz.GraphvizError, ValueError):
            pass
    return [compute_layout(s, engine, timeout, tries) for s in specs]


def _split_json(text: str) -> list[dict]:
    """The JSON documents written one after another into text."""
    dec, docs, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)


def _run_layout(spec: LayoutSpec, newrank: bool, engine: graphviz.Engine | None,
                timeout: float = graphviz.DEFAULT_TIMEOUT) -> Layout:
    source, names = to_dot(spec, newrank=newrank)
    return parse_json(graphviz.run(source, "json", engine=engine, timeout=timeout), names)


class LayoutCache:
    """A thread-safe LRU of layouts by spec_key."""

    def __init__(self, size: int = 64) -> None:
        self._data: OrderedDict[tuple, Layout] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Layout | None:
        with self._lock:
            lay = self._data.get(key)
            if lay is not None:
                self._data.move_to_end(key)
            return lay

    def put(self, key: tuple, layout: Layout) -> None:
        with self._lock:
            self._data[key] = layout
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def layout(self, spec: LayoutSpec) -> Layout:
        """The cached layout of spec, computing (and caching) it when new."""
        key = spec_key(spec)
        lay = self.get(key)
        if lay is None:
            lay = compute_layout(spec)
            self.put(key, lay)
        return lay
