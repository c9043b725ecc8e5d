"""The inspector panel: everything the contract says about the selected box, with jump links."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

import heapq
import html

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QWidget

from graphstage.viz.gui.pergraph import per_graph
from graphstage.viz.gui.summary import fmt, format_bytes, format_time
from graphstage.viz.gui.viewgraph import DisplayNode


def _summary_html(s: dict | None) -> str:
    if not s:
        return "<i>none recorded</i>"
    vals = s.get("values")
    rows = []
    if vals is not None:
        rows.append("values: <b>" + ", ".join(fmt(v) for v in vals) + "</b>")
    stats = [f"{k} {fmt(s[k])}" for k in ("min", "max", "mean", "std", "norm")
             if s.get(k) is not None]
    if stats and not (vals is not None and len(vals) == 1):
        rows.append(" · ".join(stats))
    return "<br>".join(rows) or "<i>no statistics</i>"


def slowest_html(graph: nx.DiGraph | None, limit: int = 8) -> str:
    """The step's slowest ops by measured duration_us, each a link that selects it."""
    if graph is None:
        return ""
    total, timed = _slowest(graph)
    if not timed:
        return ""
    rows = [f"{_link(graph, n)}: {d / 1e3:.3g} ms ({100 * d / total:.0f} %)"
            for d, n in timed[:limit]]
    return f"<p><b>Slowest ops this step</b> (of {total / 1e3:.4g} ms)<br>" + \
        "<br>".join(rows) + "</p>"


@per_graph
def _slowest(graph: nx.DiGraph) -> tuple[float, list[tuple[float, str]]]:
    """The step's measured time and its 20 slowest ops, (duration_us, node), slowest first."""
    timed = [(a["duration_us"], n) for n, a in graph.nodes(data=True)
             if a.get("duration_us") is not None]
    return sum(d for d, _ in timed) or 1.0, heapq.nlargest(20, timed)


def _link(graph: nx.DiGraph, node: str) -> str:
    a = graph.nodes[node]
    return (f"<a href='node:{html.escape(node)}'>{html.escape(a.get('label', node))}</a>"
            f" <span style='color:gray'>({html.escape(a.get('op', ''))})</span>")


class InspectorPanel(QTextBrowser):
    """Shows op, scope, shapes, values, gradients, counterparts and saved tensors of a box."""

    jumpRequested = Signal(str)   # step-graph node id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._anchor)
        self.setMinimumWidth(260)
        self.show_node(None, None)

    def _anchor(self, url: QUrl) -> None:
        s = url.toString()
        if s.startswith("node:"):
            self.jumpRequested.emit(s[5:])

    def show_node(self, graph: nx.DiGraph | None, dn: DisplayNode | None) -> None:
        """Render the selected display node (a single node or a group) as HTML."""
        if graph is None or dn is None:
            self.setHtml("<p style='color:gray'>Click a node to inspect it.<br><br>"
                         "Double-click a scope (or group) to collapse / expand it.</p>"
                         + slowest_html(graph))
        elif dn.is_group:
            self.setHtml(group_html(graph, dn))
        else:
            n = dn.members[0] if dn.members else dn.key
            a = graph.nodes[n] if dn.members else (dn.attrs or {})
            self.setHtml(node_html(graph, n, a))


def group_html(graph: nx.DiGraph, dn: DisplayNode) -> str:
    """A collapsed scope: its phase, size and the ops it holds, most frequent first."""
    ops: dict[str, int] = {}
    for m in dn.members:
        op = graph.nodes[m].get("op", "")
        ops[op] = ops.get(op, 0) + 1
    rows = "".join(f"<tr><td>{html.escape(o)}</td><td align=right>{c}</td></tr>"
                   for o, c in sorted(ops.items(), key=lambda x: -x[1])[:30])
    attrs = [graph.nodes[m] for m in dn.members]
    time_us = sum(a.get("duration_us", 0.0) for a in attrs)
    saved = sum(a.get("saved_bytes", 0) for a in attrs)
    totals = "".join([f"time: {format_time(time_us)} (its ops, measured)<br>" if time_us else "",
                      f"saved for backward: {format_bytes(saved)}<br>" if saved else ""])
    return (f"<h3>▸ {html.escape(dn.group or '')}</h3>"
            f"<p>collapsed scope · {dn.phase} · {len(dn.members)} nodes<br>{totals}"
            "<i>double-click the box to expand it</i></p>"
            f"<table cellspacing=4>{rows}</table>")


def node_html(graph: nx.DiGraph, n: str, a: dict) -> str:
    """One node: its attributes, value and gradient, counterparts, saved tensors, neighbours."""
    in_step = n in graph       # False for a node of a nested graph shown inline
    return "".join([_attributes_html(n, a), _values_html(graph, n, a, in_step),
                    _counterparts_html(graph, a), _saved_html(graph, a),
                    _neighbours_html(graph, n, a, in_step)])


def _attributes_html(n: str, a: dict) -> str:
    out = [f"<h3>{html.escape(a.get('label', n))}</h3><table cellspacing=3>"]

    def row(name: str, value: str) -> None:
        out.append(f"<tr><td style='color:gray'>{name}</td><td>{value}</td></tr>")

    row("op", f"<code>{html.escape(a.get('op', ''))}</code>")
    row("kind", f"{a.get('kind')} · {a.get('phase')}")
    row("scope", html.escape(a.get("scope") or "(top level)"))
    row("order", str(a.get("order")) if a.get("order", -1) >= 0 else "not executed")
    if a.get("shape") is not None:
        row("shape", "[" + ", ".join(map(str, a["shape"])) + "]")
    for k in ("dtype", "device", "name"):
        if a.get(k):
            row(k, html.escape(str(a[k])))
    row("key", f"<code>{html.escape(a.get('key', ''))}</code>")
    out.append("</table>")
    return "".join(out)


def _values_html(graph: nx.DiGraph, n: str, a: dict, in_step: bool) -> str:
    out = [f"<h4>value</h4><p>{_summary_html(a.get('value'))}</p>"]
    grad = a.get("grad")
    if grad is None and a.get("param") in graph and a.get("kind") == "grad_acc":
        grad = graph.nodes[a["param"]].get("grad")
    if grad is not None or a.get("kind") in ("parameter", "grad_acc"):
        out.append(f"<h4>gradient</h4><p>{_summary_html(grad)}</p>")
    if a.get("phase") == "backward" and in_step:
        produced = [(v, graph.nodes[graph.nodes[v]["param"]].get("grad"))
                    for v in graph.successors(n) if graph.nodes[v].get("param") in graph]
        if produced:
            out.append("<h4>gradients produced</h4><p>" + "<br>".join(
                f"{_link(graph, v)}: {_summary_html(g)}" for v, g in produced) + "</p>")
    if a.get("no_grad"):
        out.append("<p style='color:#e03131'>received no gradient this step</p>")
    return "".join(out)


def _counterparts_html(graph: nx.DiGraph, a: dict) -> str:
    links = []
    if a.get("forward") in graph:
        links.append("forward op: " + _link(graph, a["forward"]))
    for b in a.get("backward") or []:
        if b in graph:
            links.append("backward: " + _link(graph, b))
    if a.get("param") in graph:
        links.append("parameter: " + _link(graph, a["param"]))
    return "<h4>counterparts</h4><p>" + "<br>".join(links) + "</p>" if links else ""


def _saved_html(graph: nx.DiGraph, a: dict) -> str:
    out = []
    if a.get("saved"):
        items = []
        for s in a["saved"]:
            shape = "×".join(map(str, s.get("shape") or [])) or "scalar"
            src = s.get("from")
            src_html = _link(graph, src) if src in graph else "<i>(own output/weight)</i>"
            items.append(f"{html.escape(str(s.get('name')))} [{shape}] from {src_html}")
        out.append("<h4>saved for backward</h4><p>" + "<br>".join(items) + "</p>")
    if a.get("ops"):
        out.append("<h4>folded ops</h4><p><code>" + html.escape(" → ".join(a["ops"]))
                   + "</code></p>")
    return "".join(out)


def _neighbours_html(graph: nx.DiGraph, n: str, a: dict, in_step: bool) -> str:
    out = []
    ins = [_link(graph, u) for u in graph.predecessors(n)] if in_step else []
    outs = [_link(graph, v) for v in graph.successors(n)] if in_step else []
    if ins:
        out.append("<h4>inputs</h4><p>" + "<br>".join(ins[:20]) + "</p>")
    if outs:
        out.append("<h4>consumers</h4><p>" + "<br>".join(outs[:20]) + "</p>")
    if a.get("children"):
        names = ", ".join(html.escape(str(c.get("name", "?"))) for c in a["children"])
        out.append(f"<h4>nested graphs</h4><p>{names}<br><i>double-click the box to open "
                   "them in place</i></p>")
    return "".join(out)
