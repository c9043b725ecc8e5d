"""Headless Graphviz export of real traced step graphs, with every engine that is installed."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from graphstage.tracers import trace_script
from graphstage.viz import export as export_mod
from graphstage.viz.dot import ADDED_COLOR, svg_id, to_dot
from graphstage.viz.export import export_session, export_step
from graphstage.viz.graphviz import GraphvizError, find_engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"
SVG = "{http://www.w3.org/2000/svg}"


def _engines() -> list[str]:
    found = []
    for name in ("dot", "graphviz-pure"):
        try:
            if find_engine(name).name == name:
                found.append(name)
        except GraphvizError:
            pass
    return found


ENGINES = _engines()
pytestmark = pytest.mark.skipif(not ENGINES, reason="no Graphviz engine installed")


@pytest.fixture(scope="module")
def mul():
    return trace_script(EXAMPLES / "mul_torch.py", steps=2)


@pytest.fixture(scope="module")
def dyn():
    """DynamicNet for enough steps (seed 0) that its depth both grows and shrinks."""
    return trace_script(EXAMPLES / "dynamicnet_torch.py", steps=6)


def _groups(svg_path: Path, cls: str = "node") -> dict[str, ET.Element]:
    root = ET.parse(svg_path).getroot()
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == cls]
    ids = [g.get("id") for g in groups]
    assert len(ids) == len(set(ids)), "duplicate SVG group ids"
    return dict(zip(ids, groups, strict=True))


def _text(group: ET.Element) -> str:
    return "\n".join("".join(t.itertext()) for t in group.iter(f"{SVG}text"))


def _readable(attrs: dict) -> str:
    """The part of a node's label the drawing must show (module prefixes may be dropped)."""
    label = attrs["label"]
    if attrs["kind"] in ("parameter", "grad_acc", "update"):
        return label.rsplit(".", 1)[-1]
    return label


def _step_with(session, attr: str) -> int:
    return next(i for i in range(1, len(session.steps)) if getattr(session.diff(i), attr))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf", "dot"])
def test_formats(mul, tmp_path, engine, fmt):
    graph = mul.steps[1]
    path = export_step(graph, tmp_path / f"mul.{fmt}", fmt, diff=mul.diff(1), engine=engine)
    data = path.read_bytes()
    if fmt == "svg":
        groups = _groups(path)
        for _, a in graph.nodes(data=True):
            assert svg_id(a["key"]) in groups
            assert _readable(a) in _text(groups[svg_id(a["key"])])
        assert "= 300" in data.decode()            # c = a * b, shown on the loss node
    elif fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert 300 < width < 4000 and 150 < height < 4000
    elif fmt == "pdf":
        assert data.startswith(b"%PDF") and len(data) > 2000
    else:
        assert data.decode().startswith("digraph") and "param:a" in data.decode()


@pytest.mark.parametrize("engine", ENGINES)
def test_svg_has_one_group_and_label_per_node(dyn, tmp_path, engine):
    i = _step_with(dyn, "added")
    graph = dyn.steps[i]
    groups = _groups(export_step(graph, tmp_path / "s.svg", "svg", diff=dyn.diff(i),
                                 engine=engine))
    assert len(groups) == graph.number_of_nodes()
    for _, a in graph.nodes(data=True):
        gid = svg_id(a["key"])
        assert unquote(gid.removeprefix("node-")) == a["key"]
        assert _readable(a) in _text(groups[gid])
    clusters = _groups(tmp_path / "s.svg", "cluster")
    assert svg_id("hidden_layer#1", "cluster-") in clusters
    assert "hidden_layer#1" in _text(clusters[svg_id("hidden_layer#1", "cluster-")])
    edges = _groups(tmp_path / "s.svg", "edge")
    assert any("gradient" in ET.tostring(e, encoding="unicode") for e in edges.values())


def test_diff_marks_added_and_lists_removed(dyn, tmp_path):
    i = _step_with(dyn, "added")
    diff = dyn.diff(i)
    groups = _groups(export_step(dyn.steps[i], tmp_path / "a.svg", "svg", diff=diff))
    for _, a in dyn.steps[i].nodes(data=True):
        group = groups[svg_id(a["key"])]
        strokes = {e.get("stroke", "").upper() for e in group.iter() if e.get("stroke")}
        marked = ADDED_COLOR.upper() in strokes and _text(group).startswith("+ ")
        assert marked == (a["key"] in diff.added), a["key"]

    j = _step_with(dyn, "removed")
    path = export_step(dyn.steps[j], tmp_path / "r.svg", "svg", diff=dyn.diff(j))
    title = _text(ET.parse(path).getroot().find(f"{SVG}g"))
    prev = dyn.steps[j - 1].graph["step"]
    assert f"−{len(dyn.diff(j).removed)} nodes vs step {prev}" in title
    assert "removed: " + dyn.diff(j).removed[0] in title


def test_collapse_depth_reduces_boxes(dyn, tmp_path):
    graph = dyn.steps[0]
    groups = _groups(export_step(graph, tmp_path / "c.svg", "svg", collapse_depth=0))
    assert len(groups) < 0.6 * graph.number_of_nodes()
    box = groups[svg_id("input_layer@forward", "scope-")]
    assert "input_layer" in _text(box) and "ops" in _text(box)
    assert sum(1 for _, a in graph.nodes(data=True) if not a["scope"]) <= len(groups)


def test_auto_collapse_for_big_graphs(dyn, tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod, "MAX_NODES", 30)
    graph = dyn.steps[0]
    path = export_step(graph, tmp_path / "big.svg", "svg")
    assert len(_groups(path)) <= 30
    assert "collapsed automatically" in path.read_text(encoding="utf-8")


def test_awkward_labels_and_keys_are_escaped(mul, tmp_path):
    graph = mul.steps[0].copy()
    node = next(n for n, a in graph.nodes(data=True) if a["kind"] == "loss")
    label = 'say "hi" \\N \\ <b>&amp; ünï 中'
    graph.nodes[node].update(label=label, key='k "1" <&> \\ #/x')
    source = to_dot(graph)
    assert source.count("{") == source.count("}")
    for engine in ENGINES:
        path = export_step(graph, tmp_path / f"e_{engine}.svg", "svg", engine=engine)
        groups = _groups(path)
        gid = svg_id('k "1" <&> \\ #/x')
        assert unquote(gid.removeprefix("node-")) == 'k "1" <&> \\ #/x'
        assert label in _text(groups[gid])


def test_nested_graphs_are_noted_on_their_parent(mul, tmp_path):
    graph = mul.steps[0].copy()
    node = next(n for n, a in graph.nodes(data=True) if a["kind"] == "loss")
    graph.nodes[node]["children"] = [{"name": "body", "graph": mul.steps[1]}]
    groups = _groups(export_step(graph, tmp_path / "n.svg", "svg"))
    n_ops = mul.steps[1].number_of_nodes()
    assert f"(body: {n_ops} ops)" in _text(groups[svg_id(graph.nodes[node]["key"])])


def test_export_session_writes_one_file_per_step(dyn, tmp_path):
    calls = []
    paths = export_session(dyn, tmp_path / "steps", "svg", steps=[0, 1, 2],
                           progress=lambda done, total, msg: calls.append((done, total)))
    assert [p.name for p in paths] == ["step_0000.svg", "step_0001.svg", "step_0002.svg"]
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert "vs step 1" in paths[2].read_text(encoding="utf-8")
    assert "vs step" not in paths[0].read_text(encoding="utf-8")


@pytest.mark.skipif("graphviz-pure" not in ENGINES, reason="graphviz-pure not installed")
def test_engine_forced_by_environment(mul, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHSTAGE_ENGINE", "graphviz-pure")
    find_engine.cache_clear()
    try:
        path = export_step(mul.steps[0], tmp_path / "f.svg", "svg")
    finally:
        find_engine.cache_clear()
    assert "(graphviz-pure)" in path.read_text(encoding="utf-8")


def test_failure_is_one_actionable_line(dyn, tmp_path):
    with pytest.raises(GraphvizError) as info:
        export_step(dyn.steps[0], tmp_path / "t.svg", "svg", timeout=0.0001)
    message = str(info.value)
    assert "\n" not in message and "collapse_depth=0" in message
    assert not (tmp_path / "t.svg").exists()


def test_viz_export_does_not_import_frameworks():
    code = ("import sys, graphstage.viz.export, graphstage.viz.dot, graphstage.viz.qtrender; "
            "assert not {'torch', 'tensorflow'} & set(sys.modules), 'framework imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.fixture(scope="module")
def gpt():
    """The 12-layer GPT example: 1,405 nodes, past the export's fold threshold."""
    return trace_script(EXAMPLES / "gpt_torch.py", steps=1)


def _png_side(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _represented(graph, groups: dict) -> None:
    """Every graph node is drawn: as its own box, or inside the folded box of a scope prefix."""
    folded = {unquote(i[len("scope-"):]).rsplit("@", 1)[0] for i in groups
              if i.startswith("scope-")}
    for _, a in graph.nodes(data=True):
        parts = [p for p in a.get("scope", "").split("/") if p]
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
        assert svg_id(a["key"]) in groups or prefixes & folded, a["key"]


def test_big_graph_exports_folded_and_png_is_capped(gpt, tmp_path):
    graph = gpt.steps[0]
    assert graph.number_of_nodes() > export_mod.MAX_NODES
    svg = export_step(graph, tmp_path / "gpt.svg")
    groups = _groups(svg)
    assert len(groups) <= 170 < graph.number_of_nodes()          # about the opening view
    assert any(i.startswith("scope-blocks") for i in groups)      # the blocks are folded boxes
    _represented(graph, groups)
    assert "collapsed automatically" in svg.read_text(encoding="utf-8")
    width, height = _png_side(export_step(graph, tmp_path / "gpt.png"))
    assert 200 < max(width, height) <= 8000


def test_expand_all_draws_every_op_and_png_stays_under_8000_px(gpt, tmp_path):
    graph = gpt.steps[0]
    groups = _groups(export_step(graph, tmp_path / "all.svg", expand_all=True))
    for _, a in graph.nodes(data=True):
        assert svg_id(a["key"]) in groups, a["key"]
    # the full drawing is 16,000 px tall at 120 dpi: it is scaled down to the cap
    width, height = _png_side(export_step(graph, tmp_path / "all.png", expand_all=True))
    assert 7500 <= max(width, height) <= 8000


def test_cli_expand_all_and_collapse_depth(gpt, tmp_path):
    trace = gpt.save(tmp_path / "gpt.json")
    for args, out in ((["--expand-all"], "all"), (["--collapse-depth", "0"], "d0")):
        subprocess.run([sys.executable, "-m", "graphstage", "export", str(trace), "--format",
                        "svg", "-o", str(tmp_path / out), *args], cwd=ROOT, check=True,
                       capture_output=True)
    every = _groups(tmp_path / "all" / "step_0000.svg")
    assert len(every) == gpt.steps[0].number_of_nodes()
    top = _groups(tmp_path / "d0" / "step_0000.svg")
    assert len(top) < 40 and svg_id("blocks@forward", "scope-") in top
    help_text = subprocess.run([sys.executable, "-m", "graphstage", "export", "--help"],
                               cwd=ROOT, capture_output=True, text=True).stdout
    assert "--expand-all" in help_text and "svg" in help_text
