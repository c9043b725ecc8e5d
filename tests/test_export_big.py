"""A big real trace (Keras MobileNetV2, ~9,700 nodes) exports as a
folded PNG capped at 8,000 px whose label text is at least 9 px at the image's own size."""

import re

import pytest

from graphstage.viz.dot import FONT_SIZE, SMALL_FONT_SIZE, family_scopes, name_families
from graphstage.viz.export import (
    PNG_DPI,
    PNG_MAX_SIDE,
    PNG_MIN_TEXT_PX,
    export_step,
    natural_width_pt,
    png_attrs,
    step_source,
    text_px,
)
from graphstage.viz.graphviz import run

pytestmark = pytest.mark.tf

@pytest.fixture(scope="module")
def mobilenet(mobilenetv2):
    """The session's traced MobileNetV2 step (conftest: 32x32, batch 2, Adam)."""
    return mobilenetv2.steps[0]


def test_big_trace_png_is_folded_capped_and_legible(mobilenet, tmp_path):
    info: dict = {}
    warnings: list[str] = []
    path = export_step(mobilenet, tmp_path / "m.png", info=info, warn=warnings.append)
    data = path.read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert mobilenet.number_of_nodes() > 5000
    assert max(width, height) <= PNG_MAX_SIDE
    assert 20 <= info["boxes"] <= 160          # folded like the app's opening view
    assert info["min_text_px"] >= PNG_MIN_TEXT_PX   # the legend's keys, the smallest text
    assert info["text_px"] == pytest.approx(info["min_text_px"] * FONT_SIZE / SMALL_FONT_SIZE,
                                            rel=0.01)
    # Cross-check the exporter's figure: lay the same source out as SVG (natural size in pt)
    # and scale the font by the PNG's pixels per point.
    src = {"fold_limit": info["fold_limit"], "graph_attrs": png_attrs(PNG_DPI)}
    if info["further"]:
        src["note"] = warnings[-1].split(": ", 1)[1]
    svg = run(step_source(mobilenet, **src)[0], "svg")
    assert FONT_SIZE * width / natural_width_pt(svg) == pytest.approx(info["text_px"], rel=0.02)
    assert text_px(data, svg) * SMALL_FONT_SIZE / FONT_SIZE >= PNG_MIN_TEXT_PX
    assert info["further"] == bool(warnings)


def _flat(graph):
    """The graph with Keras layer scopes one per top level (block_1_expand/..., as older tracers
    and traces without Keras records have them): the tracer's name groups (stem/, head/,
    block/block_1/) taken off."""
    flat = graph.copy()
    for _, a in flat.nodes(data=True):
        parts = a.get("scope", "").split("/")
        while len(parts) > 1 and (parts[1].startswith(parts[0]) or parts[0] in ("stem", "head")):
            parts = parts[1:]
        a["scope"] = "/".join(parts)
    return flat


def test_flat_layer_scopes_are_grouped_by_numbered_prefix(mobilenet):
    flat = _flat(mobilenet)
    grouped = family_scopes(flat)
    assert grouped is not None
    scopes = {a["scope"] for _, a in grouped.nodes(data=True) if a.get("scope")}
    assert any(s.startswith("block_1/block_1_expand") for s in scopes)
    tops = {s.split("/")[0] for s in scopes}
    raw_tops = {a["scope"].split("/")[0] for _, a in flat.nodes(data=True) if a.get("scope")}
    assert len(tops) < len(raw_tops) / 3
    source = step_source(flat)[0]
    assert "grouped by their name" in source and "block_1" in source


def test_folded_drawing_leaves_out_optimizer_hub_edges(mobilenet):
    """Adam's step count and learning rate feed every update box: a folded drawing names them
    in a note instead of drawing dozens of edges across the picture."""
    folded = step_source(mobilenet)[0]
    assert "not drawn: the edges from" in folded
    # Keras names the optimizer adam, adam_1, ... (other tests of the session made some)
    assert re.search(r"adam(_\d+)?/iteration", folded)
    full = step_source(mobilenet, collapse_depth=0)[0]
    assert "not drawn" not in full


def test_name_families_nest_numbered_prefixes():
    fam = name_families(["block_1_expand", "block_1_project", "block_2_add", "Conv1",
                         "Conv1_relu", "zero_padding2d", "zero_padding2d_1", "adam",
                         "conv2_block1_0_bn", "conv2_block1_0_relu", "conv2_block2_1_conv"])
    assert fam["block_1_expand"] == fam["block_1_project"] == ("block_1",)
    assert fam["block_2_add"] == ()           # one name alone is no family
    assert fam["Conv1_relu"] == ("Conv1",) and fam["Conv1"] == ()
    assert fam["zero_padding2d_1"] == () and fam["adam"] == ()
    assert fam["conv2_block1_0_bn"] == ("conv2", "conv2_block1")  # same names: outer kept
