"""Side by side compares layers, not raw ops: `graphstage --compare` on the DynamicNet twins opens
both panes with every layer call folded into one box per phase, as many hidden_layer calls in
each pane as that framework's step made (counted here from the step graphs' scopes), matched
across the panes, and readable (names at least 9 px tall). Checked through the scene report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.compare_opening import layer_collapse  # noqa: E402
from graphstage.viz.gui.matching import counterpart  # noqa: E402
from graphstage.viz.gui.viewgraph import build_display  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.tf]
ROOT = Path(__file__).resolve().parent.parent
STEPS, STEP = 4, 4
_CALL = re.compile(r"(?:^|[/.])(hidden_layer(?:#\d+)?)$")


def hidden_calls(graph) -> set[str]:
    """The hidden layer's calls in a step, from the forward nodes' own scopes."""
    out = set()
    for _, a in graph.nodes(data=True):
        m = _CALL.search(a.get("scope") or "")
        if m and a["phase"] == "forward":
            out.add(m.group(1))
    return out


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The window's report of --compare at step 4, and the two step graphs it shows."""
    tmp = tmp_path_factory.mktemp("compare")
    shot, report = tmp / "cmp.png", tmp / "cmp.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp / "cfg"))
    res = subprocess.run([sys.executable, "-m", "graphstage", "--example", "dynamicnet_torch",
                          "--compare", "--steps", str(STEPS), "--step", str(STEP), "--size",
                          "1600x1000", "--screenshot", str(shot), "--scene-json", str(report)],
                         capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    graphs = [trace_script(example_path(n), STEPS, seed=0).graph(STEP - 1)
              for n in ("dynamicnet_torch", "dynamicnet_tf")]
    return json.loads(report.read_text())["panes"], graphs


def test_both_panes_open_at_the_layer_level(compared):
    panes, graphs = compared
    for pane, graph in zip(panes, graphs, strict=True):
        items = pane["items"]
        groups = {i["key"] for i in items if i["group"]}
        calls = hidden_calls(graph)
        assert calls
        # one forward and one backward box per hidden_layer call, no raw op of that layer
        for phase in ("forward", "backward"):
            assert {k for k in groups if re.fullmatch(rf"group:{phase}:hidden_layer(#\d+)?", k)} \
                == {f"group:{phase}:{c}" for c in calls}, pane["framework"]
        assert not [i for i in items if not i["group"] and "hidden_layer" in i["key"]]
        for layer in ("input_layer", "output_layer"):
            assert {f"group:forward:{layer}", f"group:backward:{layer}",
                    f"group:update:{layer}"} <= groups
        assert min(i["text_px"] for i in items) >= 9
    torch_calls, tf_calls = (len(hidden_calls(g)) for g in graphs)
    assert torch_calls != tf_calls      # the point of the step: 2 calls this step against 3 frozen


def test_torch_pane_shows_its_whole_graph(compared):
    panes, graphs = compared
    shown = build_display(graphs[0], layer_collapse(graphs[0]))
    assert {i["key"] for i in panes[0]["items"]} == set(shown.nodes)


def test_layers_are_matched_across_panes(compared):
    panes, graphs = compared
    displays = [build_display(g, layer_collapse(g)) for g in graphs]
    keys = [{i["key"] for i in p["items"]} for p in panes]
    shared = hidden_calls(graphs[0]) & hidden_calls(graphs[1])
    assert shared
    for src in (0, 1):
        dst = 1 - src
        for call in shared:
            for phase in ("forward", "backward"):
                key = f"group:{phase}:{call}"
                group = displays[src].nodes[key]
                match = counterpart(graphs[src], group.members[0], graphs[dst], group.group)
                assert displays[dst].rep[match] == key and key in keys[dst]
    # the update of a layer (torch's Adam on the layer's parameters, Keras's adam/kernel ops)
    group = displays[0].nodes["group:update:hidden_layer"]
    match = counterpart(graphs[0], group.members[0], graphs[1], group.group)
    assert displays[1].rep[match] == "group:update:hidden_layer"


def test_side_by_side_with_banners_and_phases(compared):
    """The panes stand side by side (not stacked), each with its banner and its own phase."""
    (left, right), _ = compared
    assert (left["framework"], right["framework"]) == ("PyTorch", "TensorFlow")
    assert left["banner"].startswith("autograd rebuilt")
    assert right["banner"].startswith("tf.function reused")
    assert left["phase_shown"] == right["phase_shown"] == "forward pass"

    def centre(items, axis):
        return sum(i["rect"][axis] + i["rect"][axis + 2] / 2 for i in items) / len(items)

    assert centre(right["items"], 0) > centre(left["items"], 0) + 300
    assert abs(centre(right["items"], 1) - centre(left["items"], 1)) < 300
