"""Hierarchical layout on a real traced transformer step (gpt_torch, traced once per module)."""

from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from PySide6.QtWidgets import QApplication  # noqa: E402

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz import graphviz  # noqa: E402
from graphstage.viz.gui.items import measure  # noqa: E402
from graphstage.viz.gui.viewgraph import all_scopes, build_display, scope_prefixes  # noqa: E402
from graphstage.viz.hgroups import BOX, build_tree  # noqa: E402
from graphstage.viz.hlayout import HierLayout, display_sizes  # noqa: E402


@pytest.fixture(scope="module")
def gpt():
    """The 12-layer GPT example's step graph (about 1,400 nodes)."""
    QApplication.instance() or QApplication([])   # Qt's font metrics measure the boxes
    return trace_script(example_path("gpt_torch"), 1, seed=0).steps[0]


def lay_out(hier: HierLayout, graph, collapsed=()):
    display = build_display(graph, set(collapsed))
    return display, hier.layout(display, display_sizes(display, measure))


@pytest.fixture
def dot_graphs(monkeypatch):
    """Box count of every graph that really goes to Graphviz (counted from the DOT source)."""
    seen: list[int] = []
    real = graphviz.run

    def counting(source: str, fmt: str, **kw):
        for body in source.split("digraph G {")[1:]:
            seen.append(len(re.findall(r"^\s*n\d+ \[width=", body, re.M)))
        return real(source, fmt, **kw)

    monkeypatch.setattr(graphviz, "run", counting)
    return seen


def test_expand_all_places_every_op(gpt, dot_graphs):
    hier = HierLayout()
    display, lay = lay_out(hier, gpt)
    assert len(display.nodes) == gpt.number_of_nodes()
    for n in gpt.nodes:
        cx, cy, w, h = lay.nodes[display.rep[n]]
        assert 0 <= cx <= lay.width + 1 and 0 <= cy <= lay.height + 1 and w > 0 and h > 0
    assert set(lay.edges) == set(display.edges)
    assert all(len(p) >= 2 for p in lay.edges.values())
    # no two boxes overlap inside one group (spot check: boxes of one scope)
    attn = [k for k, dn in display.nodes.items() if dn.container == "blocks/0/attn"]
    rects = [lay.nodes[k] for k in attn]
    for i, (x1, y1, w1, h1) in enumerate(rects):
        for x2, y2, w2, h2 in rects[i + 1:]:
            assert abs(x1 - x2) * 2 >= (w1 + w2) - 1 or abs(y1 - y2) * 2 >= (h1 + h2) - 1
    assert dot_graphs and max(dot_graphs) < gpt.number_of_nodes() / 10


def test_no_graphviz_run_gets_more_than_one_groups_children(gpt, dot_graphs):
    hier = HierLayout()
    runs: list[tuple[str, int]] = []
    hier.on_run = lambda gid, n: runs.append((gid, n))
    display, _ = lay_out(hier, gpt)
    tree = build_tree(display.nodes)
    assert runs
    for gid, n in runs:
        assert n == len(tree.groups[gid].items)
    # what Graphviz really received: one graph per group, never more boxes than one group has
    most = max(len(g.items) for g in tree.groups.values())
    assert sorted(dot_graphs) == sorted(n for _, n in runs)
    assert max(dot_graphs) <= most


def test_cached_group_layout_is_reused(gpt, dot_graphs):
    hier = HierLayout()
    everything = all_scopes(gpt)
    lay_out(hier, gpt, everything - {"blocks", "blocks/4"})
    before = len(dot_graphs)
    lay_out(hier, gpt, everything - {"blocks"})              # collapse blocks/4 again
    lay_out(hier, gpt, everything - {"blocks", "blocks/4"})  # and expand it a second time
    assert before > 0
    # blocks/4 collapsed is a new picture for 'blocks' only (1 run); the second expand is free
    assert len(dot_graphs) - before <= 2
    n = len(dot_graphs)
    lay_out(hier, gpt, everything - {"blocks", "blocks/4"})
    assert len(dot_graphs) == n


def _frames(display, lay):
    tree = build_tree(display.nodes)
    return tree, {cid.partition(":")[2]: (x, y) for cid, (x, y, _w, _h) in lay.clusters.items()}


def test_toggle_moves_unrelated_groups_rigidly(gpt):
    hier = HierLayout()
    d1, l1 = lay_out(hier, gpt)
    target = "blocks/3/attn"
    d2, l2 = lay_out(hier, gpt, {target})
    tree, f1 = _frames(d1, l1)
    _, f2 = _frames(d2, l2)
    related = set(scope_prefixes(target))
    checked = 0
    for gid, grp in tree.groups.items():
        if not gid or gid in related or gid.startswith(target + "/"):
            continue
        leaves = [k for k in grp.items if not k.startswith(BOX)]
        dx, dy = f2[gid][0] - f1[gid][0], f2[gid][1] - f1[gid][1]
        for k in leaves:    # same place inside its group: moved only with the whole group
            assert l2.nodes[k][0] == pytest.approx(l1.nodes[k][0] + dx, abs=0.01)
            assert l2.nodes[k][1] == pytest.approx(l1.nodes[k][1] + dy, abs=0.01)
            checked += 1
    assert checked > 1000
    # a group laid out before the collapsed one keeps its place (Graphviz rounds to 0.5 px)
    assert f2["blocks/0"] == pytest.approx(f1["blocks/0"], abs=1.0)
    assert f2["blocks/3/mlp"][1] < f1["blocks/3/mlp"][1]   # what follows moves up


def test_worker_thread_sizes_match_the_painters_rule(gpt):
    from graphstage.viz.gui.boxsize import measure_box
    display = build_display(gpt, {"blocks/0/attn"})
    texts = {(("▸ " + n.label) if n.is_group else n.label, n.detail, n.is_group)
             for n in display.nodes.values()}
    assert len(texts) > 100
    for text in texts:
        assert measure_box(*text) == measure(*text)


def test_groups_too_big_for_graphviz_get_rows(gpt, dot_graphs):
    hier = HierLayout(simple_limit=20)
    display, lay = lay_out(hier, gpt)
    assert max(dot_graphs) <= 20
    tree = build_tree(display.nodes)
    big = [g for g in tree.groups.values() if len(g.items) > 20]
    assert big
    for grp in big:    # rows wrapped, nothing overlapping, ranks still run downwards
        rects = [lay.nodes[k] for k in grp.items if not k.startswith(BOX)]
        for i, (x1, y1, w1, h1) in enumerate(rects):
            for x2, y2, w2, h2 in rects[i + 1:]:
                assert abs(x1 - x2) * 2 >= (w1 + w2) - 1 or abs(y1 - y2) * 2 >= (h1 + h2) - 1
    attn = "blocks/0/attn"
    fwd = [k for k in tree.groups[attn].items
           if not k.startswith(BOX) and display.nodes[k].phase == "forward"]
    for u, v in display.edges:
        if u in fwd and v in fwd and display.edges[(u, v)].role == "data":
            assert lay.nodes[u][1] <= lay.nodes[v][1]


def test_overview_opens_stages_with_their_blocks_folded(gpt):
    from graphstage.viz.gui.viewgraph import readable_collapse
    resnet = trace_script(example_path("resnet18_torch"), 1, seed=0).steps[0]
    collapsed = readable_collapse(resnet)
    tops = {s for s in all_scopes(resnet) if len(scope_prefixes(s)) == 1}
    assert {"conv1", "layer1", "layer4", "fc"} <= tops
    assert not tops & collapsed                       # stem, the four stages and the head open
    blocks = {s for s in all_scopes(resnet) if len(scope_prefixes(s)) == 2
              and s.startswith("layer")}
    assert len(blocks) == 8 and blocks <= collapsed   # each stage shows its two blocks folded
    display = build_display(resnet, collapsed)
    assert len(display.nodes) <= 80
    assert "group:forward:layer2/1" in display.nodes
    # the transformer's 12 blocks stay one stack beside the embeddings and the head
    gc = readable_collapse(gpt)
    assert "blocks" in gc and not {"tok_emb", "pos_emb", "ln_f", "head"} & gc
    labels = {dn.label for dn in build_display(gpt, gc).nodes.values() if dn.is_group}
    assert labels == {"blocks ×12"}
