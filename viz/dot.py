"""DOT source for one step graph: the static picture that the image export renders.

Colours say the phase (forward, backward, update), shapes say the kind (parameter, loss, gradient
accumulator...), nested clusters show module / name scopes, and the step's diff against the
previous step is marked. Gradient edges are laid out reversed (drawn with ``dir=back``) so each
backward op sits beside the forward op it differentiates, like the rungs of a ladder.
docs/export.md describes the picture for users.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import networkx as nx

# A font family both engines have real metrics for (graphviz-pure ships the metric-compatible
# Arimo; system dot resolves it to Liberation Sans), so node boxes fit their labels with either.
FONT = "Arial"
FONT_SIZE = 11
SMALL_FONT_SIZE = 9  # the legend's keys and edge text: the smallest text drawn

# Okabe-Ito colours (colour-blind safe): pale fills for reading text on, strong borders.
PHASE_FILL = {"forward": "#D4E9F7", "backward": "#FBE2B4", "update": "#EFD3E3"}
PHASE_BORDER = {"forward": "#0072B2", "backward": "#D55E00", "update": "#A8457F"}
ADDED_COLOR = "#009E73"
DATA_COLOR = "#4D4D4D"
SAVED_COLOR = "#B3B3B3"
CONTROL_COLOR = "#7F7F7F"
PARAM_FILL = "#FFF6C8"
INPUT_FILL = "#EEEEEE"

FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
MAX_LABEL_CHARS = 36
MAX_NODES = 1500
FOLD_ABOVE = 400   # graphs with more nodes export folded, like the app's opening view
FOLD_BOXES = 160   # ... to about this many boxes (the app's READABLE_NODES)
TOP_MAX = 2_000    # more boxes than this with every scope folded: one box per phase (as the app)
WHOLE: tuple[str, ...] = ()   # in a folded set: the whole model
REMOVED_LISTED = 6


def dot_escape(text: str) -> str:
    """Escape text for a double-quoted DOT string that Graphviz reads as an escString."""
    text = "".join(c if c >= " " or c == "\n" else " " for c in str(text))
    # Graphviz turns "&name;" entities in labels into characters, so a literal '&' must be one.
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
    return text.replace("\n", "\\n")


def html_escape(text: str) -> str:
    """Escape text for a Graphviz HTML-like label."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _q(text: str) -> str:
    return f'"{dot_escape(text)}"'


def svg_id(key: str, prefix: str = "node-") -> str:
    """The SVG ``id`` of the group drawn for a node key (percent-encoded, reversible)."""
    return prefix + quote(key, safe="/#:.-_~()[]@+,=")


def scope_parts(scope: str) -> tuple[str, ...]:
    """'a/b#1' -> ('a', 'b#1'); empty components dropped."""
    return tuple(p for p in scope.split("/") if p)


def format_shape(shape: Any) -> str:
    """[64, 100] -> '64×100'; [] -> 'scalar'; None -> ''."""
    if shape is None:
        return ""
    if not shape:
        return "scalar"
    return "×".join("?" if d is None or (isinstance(d, int) and d < 0) else str(d) for d in shape)


def _fmt_num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.4g}" if abs(v) < 1e-3 or abs(v) >= 1e5 else f"{v:.2f}".rstrip("0").rstrip(".")


def _scalar(summary: Any) -> str | None:
    """The single value of a one-element tensor summary, formatted; else None."""
    if isinstance(summary, Mapping):
        vals = summary.get("values")
        if isinstance(vals, list) and len(vals) == 1:
            return _fmt_num(vals[0])
    return None


def _clip(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def collapse_key(scope: str, depth: int | None) -> tuple[str, ...] | None:
    """The scope prefix a node collapses into at ``depth``, or None if it stays a node."""
    if depth is None:
        return None
    parts = scope_parts(scope)
    return parts[: depth + 1] if len(parts) > depth else None


def collapsed_size(graph: nx.DiGraph, depth: int | None) -> int:
    """How many boxes the drawing has when scopes deeper than ``depth`` are collapsed."""
    return _box_count(graph, lambda scope: collapse_key(scope, depth))


def _box_count(graph: nx.DiGraph, group_of: Callable[[str], Any]) -> int:
    """Boxes drawn when every node whose scope ``group_of`` maps to a key folds into one box
    per (key, phase); nodes mapped to None stay boxes of their own."""
    groups: set = set()
    singles = 0
    for _, a in graph.nodes(data=True):
        key = group_of(a.get("scope", ""))
        if key is None:
            singles += 1
        else:
            groups.add((key, a.get("phase")))
    return singles + len(groups)


def max_scope_depth(graph: nx.DiGraph) -> int:
    """The deepest scope nesting in the graph (0 when no node has a scope)."""
    return max((len(scope_parts(a.get("scope", ""))) for _, a in graph.nodes(data=True)),
               default=0)


def auto_collapse_depth(graph: nx.DiGraph, limit: int = MAX_NODES) -> int | None:
    """The deepest collapse depth that draws at most ``limit`` boxes; None if no collapse is
    needed, 0 (the coarsest) if nothing gets under the limit."""
    if graph.number_of_nodes() <= limit:
        return None
    for depth in range(max_scope_depth(graph) - 1, -1, -1):
        if collapsed_size(graph, depth) <= limit:
            return depth
    return 0


def fold_key(scope: str, folded: Collection[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The outermost folded scope prefix holding ``scope``, or None if it stays open."""
    if WHOLE in folded:
        return WHOLE
    parts = scope_parts(scope)
    for i in range(1, len(parts) + 1):
        if parts[:i] in folded:
            return parts[:i]
    return None


def fold_scopes(graph: nx.DiGraph, limit: int = FOLD_BOXES) -> set[tuple[str, ...]]:
    """Scopes to fold so the drawing keeps about ``limit`` boxes: every top scope starts
    folded, then scopes open level by level, smallest first, while the box count allows
    (a huge optimizer scope stays one box per phase while the model's layers open)."""
    direct: dict[tuple, int] = {}
    phases: dict[tuple, set[str]] = {}
    kids: dict[tuple, set[tuple]] = {}
    size: dict[tuple, int] = {}
    singles = 0
    for _, a in graph.nodes(data=True):
        parts = scope_parts(a.get("scope", ""))
        if not parts:
            singles += 1
        for i in range(1, len(parts) + 1):
            p = parts[:i]
            phases.setdefault(p, set()).add(a.get("phase", "forward"))
            size[p] = size.get(p, 0) + 1
            if i < len(parts):
                kids.setdefault(p, set()).add(parts[: i + 1])
            else:
                direct[p] = direct.get(p, 0) + 1
    level = sorted((p for p in phases if len(p) == 1), key=lambda p: (size[p], p))
    folded = set(level)
    boxes = singles + sum(len(phases[p]) for p in level)
    while level:
        following = []
        for p in level:
            delta = direct.get(p, 0) + sum(len(phases[k]) for k in kids.get(p, ())) \
                - len(phases[p])
            if boxes + delta <= limit:
                folded.discard(p)
                folded.update(kids.get(p, ()))
                boxes += delta
                following.extend(kids.get(p, ()))
        level = sorted(following, key=lambda p: (size[p], p))
    return folded


def folded_size(graph: nx.DiGraph, folded: Collection[tuple[str, ...]]) -> int:
    """How many boxes the drawing has with the ``folded`` scopes each one box per phase."""
    return _box_count(graph, lambda scope: fold_key(scope, folded))


_FAMILY_END = re.compile(r"\d+(?=[_.\-])")  # a number ending a name part: block_1|_expand


def name_families(names: Collection[str]) -> dict[str, tuple[str, ...]]:
    """Each name -> the shared name prefixes that would nest it ('block_1_expand_BN' ->
    ('block_1',)): a prefix ends at a number followed by '_', '.' or '-' and is kept when at
    least two names start with it; nested prefixes with the same names keep the outer one."""
    cands = {n: [n[: m.end()] for m in _FAMILY_END.finditer(n)] for n in names}
    count = Counter(p for n, ps in cands.items() for p in set(ps) if p != n)
    count.update(n for n in names if n in count)
    out = {}
    for n, ps in cands.items():
        kept: list[str] = []
        for p in ps:
            if p != n and count[p] >= 2 and not (kept and count[kept[-1]] == count[p]):
                kept.append(p)
        out[n] = tuple(kept)
    return out


def family_scopes(graph: nx.DiGraph) -> nx.DiGraph | None:
    """A copy of ``graph`` whose flat top-level scopes are nested by shared name prefixes
    (Keras' block_1_expand, block_1_depthwise... under block_1), so a drawing can fold below
    one box per layer; None when no two top-level scopes share a prefix."""
    tops = {scope_parts(a.get("scope", ""))[0] for _, a in graph.nodes(data=True)
            if scope_parts(a.get("scope", ""))}
    families = {n: f for n, f in name_families(tops).items() if f}
    if not families:
        return None
    out = graph.copy()
    for _, a in out.nodes(data=True):
        parts = scope_parts(a.get("scope", ""))
        if parts and parts[0] in families:
            a["scope"] = "/".join(families[parts[0]] + parts)
    return out


@dataclass
class _Box:
    """One DOT node: a graph node, or a collapsed scope of one phase."""

    name: str
    cluster: tuple[str, ...]
    attrs: dict[str, str]
    members: list[str] = field(default_factory=list)


def _title_line(graph: nx.DiGraph, title: str | None) -> str:
    if title:
        return title
    g = graph.graph
    fw = FRAMEWORK_NAMES.get(g.get("framework", ""), g.get("framework", "?"))
    parts = [fw, str(g.get("model", "?")), f"step {g.get('step', '?')}"]
    if g.get("loss") is not None:
        parts.append(f"loss {_fmt_num(g['loss'])}")
    if g.get("capture"):
        parts.append(str(g["capture"]))
    return " · ".join(parts)


def _diff_line(graph: nx.DiGraph, diff: Any, previous_step: int | None) -> str:
    if diff is None:
        return ""
    prev = previous_step if previous_step is not None else graph.graph.get("step", 1) - 1
    line = f"+{len(diff.added)} / −{len(diff.removed)} nodes vs step {prev}"
    if not diff.added and not diff.removed:
        line = f"same structure as step {prev}"
    if diff.removed:
        shown = ", ".join(diff.removed[:REMOVED_LISTED])
        more = len(diff.removed) - REMOVED_LISTED
        line += f" (removed: {shown}{f', … {more} more' if more > 0 else ''})"
    return line


def _legend(title: str, notes: list[str]) -> str:
    """HTML-like graph label: title, notes, and a key to colours, shapes and edge styles."""
    def cell(text: str, fill: str, border: str, width: int = 1) -> str:
        return (f'<td bgcolor="{fill}" color="{border}" border="{width}" cellpadding="3">'
                f'<font point-size="{SMALL_FONT_SIZE}">{html_escape(text)}</font></td>')

    def key(text: str, color: str) -> str:
        return (f'<td border="0" cellpadding="2"><font point-size="{SMALL_FONT_SIZE}" '
                f'color="{color}">'
                f'{html_escape(text)}</font></td>')

    rows = [f'<tr><td align="left" border="0" colspan="12"><b>{html_escape(title)}</b></td></tr>']
    rows += [f'<tr><td align="left" border="0" colspan="12"><font point-size="10">'
             f'{html_escape(n)}</font></td></tr>' for n in notes if n]
    cells = [
        cell("forward op", PHASE_FILL["forward"], PHASE_BORDER["forward"]),
        cell("backward op", PHASE_FILL["backward"], PHASE_BORDER["backward"]),
        cell("update (square box)", PHASE_FILL["update"], PHASE_BORDER["update"]),
        cell("parameter (cylinder)", PARAM_FILL, PHASE_BORDER["forward"], 2),
        cell("loss (octagon)", PHASE_FILL["forward"], "#000000", 2),
        cell("grad acc (funnel)", PHASE_FILL["backward"], PHASE_BORDER["backward"]),
        cell("+ new this step", "#FFFFFF", ADDED_COLOR, 3),
        key("→ data", DATA_COLOR),
        key("→ gradient", PHASE_BORDER["backward"]),
        key("- - → saved for backward", "#8C8C8C"),
        key("· · → control", CONTROL_COLOR),
    ]
    rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<<table border="0" cellspacing="3" cellpadding="0">' + "".join(rows) + "</table>>")


def _node_label(attrs: Mapping[str, Any], cluster: tuple[str, ...], added: bool) -> str:
    kind = attrs.get("kind", "op")
    name = str(attrs.get("label") or attrs.get("op") or "?")
    if kind == "parameter":
        name = str(attrs.get("name") or attrs.get("label") or name)
    if kind in ("parameter", "grad_acc", "update"):
        # Inside the module's own cluster "input_layer.weight" reads better as "weight".
        prefix = ".".join(p.split("#")[0] for p in cluster)
        if prefix:
            name = name.replace(prefix + ".", "")
    lines = [("+ " if added else "") + _clip(name)]
    value = _scalar(attrs.get("value"))
    shape = format_shape(attrs.get("shape"))
    dtype = attrs.get("dtype")
    if value is not None and kind in ("parameter", "input", "constant", "loss", "output"):
        lines.append(f"= {value}")
    elif kind == "loss" and isinstance(attrs.get("value"), Mapping) \
            and attrs["value"].get("mean") is not None:
        lines.append(f"= {_fmt_num(attrs['value']['mean'])}")
    elif shape:
        if dtype and dtype not in ("float32", "torch.float32", "float"):
            shape += f" {dtype.removeprefix('torch.')}"
        lines.append(shape)
    grad = _scalar(attrs.get("grad"))
    if kind == "parameter" and grad is not None:
        lines.append(f"grad = {grad}")
    if kind == "parameter" and attrs.get("no_grad"):
        lines.append("no gradient")
    children = attrs.get("children") or []
    if children:
        parts = [f"{c.get('name', 'body')}: {c['graph'].number_of_nodes()} ops"
                 for c in children if isinstance(c, Mapping) and "graph" in c]
        lines.append("(" + ", ".join(parts) + ")")
    return "\n".join(lines)


def _summary_text(name: str, summary: Any) -> str:
    if not isinstance(summary, Mapping):
        return ""
    fields = [f"{f} {_fmt_num(summary[f])}" for f in ("min", "max", "mean", "std", "norm")
              if summary.get(f) is not None]
    return f"{name}: " + ", ".join(fields) if fields else ""


def _node_tooltip(attrs: Mapping[str, Any]) -> str:
    lines = [str(attrs.get("key", "")), f"{attrs.get('op', '')} · {attrs.get('kind', '')} · "
             f"{attrs.get('phase', '')} #{attrs.get('order', -1)}"]
    shape = format_shape(attrs.get("shape"))
    if shape:
        lines.append(" ".join(str(x) for x in (shape, attrs.get("dtype") or "",
                                               attrs.get("device") or "") if x))
    for name in ("value", "grad"):
        text = _summary_text(name, attrs.get(name))
        if text:
            lines.append(text)
    if attrs.get("scope"):
        lines.append(f"scope {attrs['scope']}")
    return "\n".join(lines)


_SHAPES = {
    "input": ("parallelogram", "filled"),
    "constant": ("ellipse", "filled,dashed"),
    "parameter": ("cylinder", "filled"),
    "op": ("box", "rounded,filled"),
    "output": ("box", "rounded,filled"),
    "loss": ("octagon", "filled"),
    "grad_acc": ("invhouse", "filled"),
    "update": ("box", "filled"),
}


def _node_style(attrs: Mapping[str, Any]) -> dict[str, str]:
    kind = attrs.get("kind", "op")
    phase = attrs.get("phase", "forward")
    shape, style = _SHAPES.get(kind, ("box", "rounded,filled"))
    out = {"shape": shape, "style": style, "fillcolor": PHASE_FILL.get(phase, "#FFFFFF"),
           "color": PHASE_BORDER.get(phase, "#000000")}
    if kind in ("input", "constant"):
        out.update(fillcolor=INPUT_FILL, color="#666666")
    elif kind == "parameter":
        out.update(fillcolor=PARAM_FILL, penwidth="2")
        if attrs.get("no_grad"):
            out["style"] = "filled,dashed"
    elif kind == "loss":
        out.update(color="#000000", penwidth="2.5")
    elif kind == "output":
        out["peripheries"] = "2"
    if attrs.get("children"):
        out["shape"] = "box3d"
        out["style"] = "filled"
    return out


def _edge_style(role: str) -> dict[str, str]:
    if role == "gradient":
        return {"color": PHASE_BORDER["backward"], "penwidth": "1.3"}
    if role == "saved":
        return {"color": SAVED_COLOR, "style": "dashed", "constraint": "false",
                "arrowsize": "0.5", "penwidth": "0.8"}
    if role == "control":
        return {"color": CONTROL_COLOR, "style": "dotted"}
    if role == "update":
        return {"color": PHASE_BORDER["update"], "penwidth": "1.3"}
    return {"color": DATA_COLOR}


def _anchors(graph: nx.DiGraph, node_box: Mapping[str, str]) -> set[tuple[str, str]]:
    """Invisible same-or-lower-rank ties: forward op -> its backward ops, parameter -> its
    gradient accumulator and update, so the backward pass is drawn beside the forward pass
    (the rungs of a ladder) instead of as a second copy below it."""
    out = set()
    for n, a in graph.nodes(data=True):
        ref = a.get("forward") if a.get("phase") == "backward" else None
        if a.get("kind") in ("grad_acc", "update"):
            ref = a.get("param")
        if ref is not None and ref in node_box and node_box[ref] != node_box[n]:
            out.add((node_box[ref], node_box[n]))
    return out


def _attr_list(attrs: Mapping[str, str]) -> str:
    return " ".join(f"{k}={_q(v)}" for k, v in attrs.items())


def to_dot(
    graph: nx.DiGraph,
    *,
    diff: Any = None,
    collapse_depth: int | None = None,
    title: str | None = None,
    previous_step: int | None = None,
    notes: list[str] | None = None,
    graph_attrs: Mapping[str, str] | None = None,
    folded: Collection[tuple[str, ...]] | None = None,
) -> str:
    """DOT source drawing one step graph (phase colours, scope clusters, diff marks, legend).

    ``diff`` is a :class:`tracers.contract.StepDiff` against the previous step (``previous_step``,
    default step - 1); ``collapse_depth`` folds scopes nested deeper than that into one box per
    scope and phase; ``notes`` adds lines under the title; ``graph_attrs`` (e.g. dpi) are
    appended to the graph's attributes; ``folded`` (scope paths as tuples, see
    :func:`fold_scopes`) folds those scopes instead of a uniform depth.
    """
    added = set(diff.added) if diff is not None else set()
    if folded is not None:
        def group_of(scope: str) -> tuple[str, ...] | None:
            return fold_key(scope, folded)
    else:
        def group_of(scope: str) -> tuple[str, ...] | None:
            return collapse_key(scope, collapse_depth)
    boxes, node_box = _boxes(graph, added, group_of)
    notes = list(notes or [])
    diff_line = _diff_line(graph, diff, previous_step)
    if diff_line:
        notes.insert(0, diff_line)
    edges = _merged_edges(graph, node_box)
    anchors = _anchors(graph, node_box)
    hubs = _update_hubs(graph, boxes, edges, anchors) if folded is not None else set()
    if hubs:
        names = ", ".join(sorted(boxes[h].attrs["label"].split("\n")[0] for h in hubs))
        notes.append(f"not drawn: the edges from {_clip(names, 80)} to every update box "
                     "(shared optimizer inputs)")
        edges = {k: v for k, v in edges.items()
                 if not (k[0] in hubs and _phase(graph, boxes[k[1]]) == "update")}
    lines = [f"digraph {_q(graph.graph.get('model', 'step'))} {{"]
    lines += _header_lines(_title_line(graph, title), notes, graph_attrs)
    _cluster_lines(_cluster_tree(boxes.values()), (), "  ", [0], lines)
    lines += _edge_lines(graph, boxes, edges, anchors)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _boxes(graph: nx.DiGraph, added: set[str], group_of: Callable[[str], tuple | None],
           ) -> tuple[dict[str, _Box], dict[str, str]]:
    """The DOT nodes (one per open node, then one per folded scope and phase) and, for every
    graph node, the name of the box that draws it."""
    boxes: dict[str, _Box] = {}
    node_box: dict[str, str] = {}
    groups: dict[tuple, list[str]] = {}
    for i, (n, a) in enumerate(graph.nodes(data=True)):
        ck = group_of(a.get("scope", ""))
        if ck is not None:
            groups.setdefault((ck, a.get("phase", "forward")), []).append(n)
            continue
        cluster = scope_parts(a.get("scope", ""))
        is_added = a.get("key") in added
        attrs = _node_style(a)
        attrs.update(label=_node_label(a, cluster, is_added), tooltip=_node_tooltip(a),
                     id=svg_id(str(a.get("key", n))))
        if is_added:
            attrs.update(color=ADDED_COLOR, penwidth="3.5")
        boxes[f"n{i}"] = _Box(f"n{i}", cluster, attrs, [n])
        node_box[n] = f"n{i}"
    for gi, ((ck, phase), members) in enumerate(sorted(groups.items())):
        name = f"s{gi}"
        boxes[name] = _Box(name, ck[:-1], _group_attrs(graph, ck, phase, members, added),
                           members)
        for m in members:
            node_box[m] = name
    return boxes, node_box


def _group_attrs(graph: nx.DiGraph, ck: tuple[str, ...], phase: str, members: list[str],
                 added: set[str]) -> dict[str, str]:
    """The 3-D box of one folded scope and phase: its name, phase and op/param counts."""
    kinds = [graph.nodes[m].get("kind") for m in members]
    n_params = kinds.count("parameter")
    n_ops = len(members) - n_params
    n_added = sum(graph.nodes[m].get("key") in added for m in members)
    counts = f"{n_ops} ops" + (f", {n_params} params" if n_params else "")
    name = _clip(ck[-1]) if ck else f"{phase} pass"   # WHOLE: the model in one box a phase
    label = ("+ " if n_added else "") + name + f"\n{phase}: {counts}"
    path = "/".join(ck)
    attrs = {"shape": "box3d", "style": "filled", "fillcolor": PHASE_FILL.get(phase, "#FFF"),
             "color": PHASE_BORDER.get(phase, "#000"), "label": label,
             "tooltip": f"{path} ({phase}), collapsed: {counts}"
                        + (f", {n_added} new this step" if n_added else ""),
             "id": svg_id(f"{path}@{phase}", prefix="scope-")}
    if n_added:
        attrs.update(color=ADDED_COLOR, penwidth="3.5")
    return attrs


def _header_lines(title: str, notes: list[str], graph_attrs: Mapping[str, str] | None,
                  ) -> list[str]:
    """Graph, node and edge defaults, and the legend as the graph's label."""
    gattrs = {"rankdir": "TB", "fontname": FONT, "fontsize": str(FONT_SIZE + 1),
              "labelloc": "t", "labeljust": "l", "nodesep": "0.25", "ranksep": "0.35",
              "bgcolor": "white", "pad": "0.2", "outputorder": "edgesfirst"}
    gattrs.update(graph_attrs or {})
    return [f"  graph [{_attr_list(gattrs)}]",
            f"  graph [label={_legend(title, notes)}]",
            f'  node [fontname="{FONT}" fontsize="{FONT_SIZE}" margin="0.12,0.04" '
            'height="0.3"]',
            f'  edge [fontname="{FONT}" fontsize="{SMALL_FONT_SIZE}" arrowsize="0.7"]']


def _cluster_tree(boxes: Iterable[_Box]) -> dict:
    """Nested dicts, one per scope part; the key None holds the boxes drawn at that level."""
    tree: dict = {}
    for box in boxes:
        node = tree
        for part in box.cluster:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(box)
    return tree


def _cluster_lines(node: dict, path: tuple[str, ...], indent: str, counter: list[int],
                   lines: list[str]) -> None:
    """Append the boxes of one tree level, then one shaded cluster per child scope."""
    for box in node.get(None, []):
        lines.append(f"{indent}{box.name} [{_attr_list(box.attrs)}]")
    for part, child in sorted(((k, v) for k, v in node.items() if k is not None),
                              key=lambda kv: kv[0]):
        counter[0] += 1
        sub = path + (part,)
        shade = "#F6F6F6" if len(sub) % 2 else "#ECECEC"
        lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
        cattrs = {"label": _clip(part), "id": svg_id("/".join(sub), prefix="cluster-"),
                  "tooltip": "/".join(sub), "style": "rounded,filled", "fillcolor": shade,
                  "color": "#BDBDBD", "fontsize": str(FONT_SIZE - 1), "fontcolor": "#505050",
                  "labeljust": "l", "labelloc": "t", "margin": "6"}
        lines.append(f"{indent}  graph [{_attr_list(cattrs)}]")
        _cluster_lines(child, sub, indent + "  ", counter, lines)
        lines.append(f"{indent}}}")


_Edges = dict[tuple[str, str, str], list[tuple[str, str, dict]]]
HUB_FANOUT = 8  # a folded drawing leaves out edges from a box feeding this many update boxes


def _merged_edges(graph: nx.DiGraph, node_box: Mapping[str, str]) -> _Edges:
    """Graph edges between different boxes, grouped by (from box, to box, role)."""
    edges: _Edges = {}
    for u, v, a in graph.edges(data=True):
        bu, bv = node_box[u], node_box[v]
        if bu != bv:
            edges.setdefault((bu, bv, a.get("role", "data")), []).append((u, v, a))
    return edges


def _update_hubs(graph: nx.DiGraph, boxes: Mapping[str, _Box], edges: _Edges,
                 anchors: set[tuple[str, str]]) -> set[str]:
    """Boxes that feed HUB_FANOUT or more anchored update boxes (an optimizer's step count,
    learning rate or gradient list): their edges would cross the whole drawing many times."""
    anchored = {b for _, b in anchors}
    fan = Counter(bu for bu, bv, role in edges if bv in anchored and role != "gradient"
                  and _phase(graph, boxes[bv]) == "update"
                  and _phase(graph, boxes[bu]) != "backward")
    return {b for b, n in fan.items() if n >= HUB_FANOUT}


def _edge_lines(graph: nx.DiGraph, boxes: Mapping[str, _Box], edges: _Edges,
                anchors: set[tuple[str, str]]) -> list[str]:
    """The ladder's invisible anchors, then one edge per (box, box, role)."""
    anchored = {b for _, b in anchors}
    lines = [f'  {bu} -> {bv} [style="invis" minlen="0" weight="4"]'
             for bu, bv in sorted(anchors)]
    for (bu, bv, role), members in edges.items():
        attrs = _merged_edge_attrs(graph, role, members, boxes[bv].cluster)
        if role in ("gradient", "update") and bu in anchored and bv in anchored:
            attrs["constraint"] = "false"
        elif bv in anchored and role != "gradient" and _phase(graph, boxes[bv]) == "update" \
                and _phase(graph, boxes[bu]) != "backward":
            # The optimizer's shared inputs (step count, learning rate, the op gathering all
            # gradients) and the updates' ordering would rank every update below the whole
            # backward pass; anchored updates stay beside their parameters instead.
            attrs["constraint"] = "false"
        if role == "gradient" and attrs.get("constraint") != "false":
            # An unanchored backward box is laid out from the parameter side so it still sits
            # beside the forward ops; dir=back keeps the arrow pointing towards the parameter.
            lines.append(f"  {bv} -> {bu} [dir=back {_attr_list(attrs)}]")
        else:
            lines.append(f"  {bu} -> {bv} [{_attr_list(attrs)}]")
    return lines


def _phase(graph: nx.DiGraph, box: _Box) -> str:
    return graph.nodes[box.members[0]].get("phase", "forward")


def _merged_edge_attrs(graph: nx.DiGraph, role: str, members: list[tuple[str, str, dict]],
                       target_cluster: tuple[str, ...]) -> dict[str, str]:
    """Style, tooltip and id of the one edge drawn for ``members`` (same boxes and role)."""
    attrs = _edge_style(role)
    shapes = sorted({format_shape(a.get("shape")) for _, _, a in members} - {""})
    ukey = graph.nodes[members[0][0]].get("key", members[0][0])
    vkey = graph.nodes[members[0][1]].get("key", members[0][1])
    tip = f"{role}: {', '.join(shapes) or 'no shape'}"
    if len(members) > 1:
        tip += f" ({len(members)} edges)"
    attrs["tooltip"] = tip
    attrs["id"] = "edge-" + svg_id(str(ukey), "") + "->" + svg_id(str(vkey), "")
    if len(members) > 1:
        attrs["penwidth"] = str(min(4.0, 1.0 + math.log2(len(members)) / 2))
    if role == "data" and target_cluster and all(
            graph.nodes[u].get("kind") in ("parameter", "constant", "input")
            for u, _, _ in members):
        # A leaf feeding a clustered op may sit beside it rather than a rank above it, where it
        # would overlap the previous module's cluster and push the clusters into a staircase.
        attrs["minlen"] = "0"
    return attrs
