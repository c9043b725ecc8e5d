"""The banner over each pane (rebuilt / reused / retraced) and the side-by-side comparison of
the DynamicNet twins: panes side by side on a wide window, the difference said in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphstage.tracers.run import trace_script
from graphstage.tracers.script import example_path
from graphstage.viz.gui.banner import compare_banner, step_banner

ROOT = Path(__file__).resolve().parent.parent


def _hidden_linears(graph) -> int:
    """Independent of scopes' call suffixes: forward linear/MatMul ops of the hidden layer."""
    return sum(1 for a in graph.nodes.values() if a["phase"] == "forward"
               and a["op"] in ("linear", "MatMul") and "hidden_layer" in (a.get("scope") or ""))


@pytest.mark.tf
def test_banners_say_rebuilt_reused_and_the_difference():
    torch_s = trace_script(example_path("dynamicnet_torch"), 6, seed=0)
    tf_s = trace_script(example_path("dynamicnet_tf"), 6, seed=0)
    assert "new graph during every forward" in step_banner(torch_s, 0)
    assert "traced this graph once" in step_banner(tf_s, 0)
    tf_calls = _hidden_linears(tf_s.steps[0])
    for i in range(1, 6):
        assert step_banner(tf_s, i) == "tf.function reused its traced graph: nothing was rebuilt"
        assert step_banner(torch_s, i).startswith("autograd rebuilt the graph this step")
        torch_calls = _hidden_linears(torch_s.steps[i])
        text = compare_banner(torch_s, tf_s, i)
        if torch_calls == tf_calls:
            assert text == ""
        else:
            assert text == (f"PyTorch: hidden_layer ×{torch_calls} this step · TensorFlow: "
                            f"hidden_layer ×{tf_calls} frozen when traced")
    assert any(_hidden_linears(torch_s.steps[i]) != tf_calls for i in range(6))


@pytest.mark.tf
def test_retrace_is_said_with_its_reason():
    """A tf.function fed batches of 8, 8, 16, 16, 8 rows: a retrace at step 3 (new input
    signature, named), a switch back to the first graph at step 5, reuse in between."""
    session = trace_script(ROOT / "tests" / "models" / "retrace_tf.py", 5)
    banners = [step_banner(session, i) for i in range(5)]
    assert banners[1] == banners[3] == "tf.function reused its traced graph: nothing was rebuilt"
    assert banners[2].startswith("retraced: tf.function built a new graph for this call (new "
                                 "input signature: argument 0 was TensorSpec(shape=(8, 4)")
    assert banners[4].startswith("tf.function switched to the graph it traced earlier")
    assert [bool(g.graph.get("retraced")) for g in session.steps] == [False, False, True, False,
                                                                      False]


@pytest.mark.tf
def test_layers_match_across_frameworks():
    """Each PyTorch hidden_layer call finds the TensorFlow MatMul of the same call (TF names the
    calls hidden_layer_1, _3, _5 itself), and weight finds kernel, bias finds bias."""
    from graphstage.viz.gui.matching import counterpart

    torch_g = trace_script(example_path("dynamicnet_torch"), 2, seed=0).graph(0)
    tf_g = trace_script(example_path("dynamicnet_tf"), 1).graph(0)
    linears = sorted((a["order"], n) for n, a in torch_g.nodes(data=True)
                     if a["op"] == "linear" and "hidden_layer" in a["scope"])
    tf_names = [counterpart(torch_g, n, tf_g) for _, n in linears]
    # Keras may uniquify the model's own name (dynamic_net_1_1) when built twice in a process
    assert len(tf_names) == len(linears) >= 1
    for name, k in zip(tf_names, (1, 3, 5), strict=False):
        assert name.endswith(f"/hidden_layer_{k}/MatMul"), name
    for role, tf_role in (("weight", "kernel"), ("bias", "bias")):
        match = counterpart(torch_g, f"p:hidden_layer.{role}", tf_g)
        assert tf_g.nodes[match]["name"].endswith(f"hidden_layer/{tf_role}")


@pytest.mark.tf
def test_layers_named_differently_match_by_order_and_shapes():
    """mnist_mlp: torch's fc1, fc2 and Keras's dense, dense_1 hold parameters of the same
    shapes (weight [512, 784] ↔ kernel [784, 512]): paired by order, ops and groups alike."""
    from graphstage.viz.gui.compare_opening import layer_collapse
    from graphstage.viz.gui.matching import counterpart, layer_pairs
    from graphstage.viz.gui.viewgraph import build_display

    torch_g = trace_script(example_path("mnist_mlp_torch"), 1, seed=0).graph(0)
    tf_g = trace_script(example_path("mnist_mlp_tf"), 1, seed=0).graph(0)
    assert layer_pairs(torch_g, tf_g) == {"fc1": "dense", "fc2": "dense_1"}
    assert layer_pairs(tf_g, torch_g) == {"dense": "fc1", "dense_1": "fc2"}
    match = counterpart(torch_g, "p:fc2.weight", tf_g)
    assert tf_g.nodes[match]["name"].endswith("dense_1/kernel")
    shown = [build_display(g, layer_collapse(g)) for g in (torch_g, tf_g)]
    for phase in ("forward", "backward", "update"):
        for mine, theirs in (("fc1", "dense"), ("fc2", "dense_1")):
            group = shown[0].nodes[f"group:{phase}:{mine}"]
            other = counterpart(torch_g, group.members[0], tf_g, group.group)
            assert shown[1].rep[other] == f"group:{phase}:{theirs}", (phase, mine)
