"""Boxes say the names people wrote: TF1 placeholders, tf.Variables, user-named ops; gradient
ops read as gradients; trainable state says how each framework holds it."""

from __future__ import annotations

import pytest

from graphstage.tracers.run import trace_script
from graphstage.tracers.script import example_path
from graphstage.viz.gui.naming import user_named
from graphstage.viz.gui.viewgraph import build_display


def _boxes(example: str) -> dict[str, str]:
    graph = trace_script(example_path(example), 1).graph(0)
    return {dn.label: dn.detail for dn in build_display(graph).nodes.values()}


@pytest.mark.tf
def test_tf1_placeholders_and_gradients_read_as_written():
    boxes = _boxes("mul_tf1")  # a = tf.placeholder(name="a"); c = tf.multiply(a, b, name="c")
    assert {"a", "b", "c", "∇ a", "∇ b"} <= set(boxes)
    assert not any(label.startswith(("Placeholder", "Reshape")) for label in boxes)
    assert any(label.startswith("∂ ") for label in boxes)


@pytest.mark.tf
def test_captured_variables_versus_registered_parameters():
    tf_boxes, torch_boxes = _boxes("linreg_tf"), _boxes("linreg_torch")
    for name in ("w", "b"):
        assert tf_boxes[name].startswith("captured by tf.function")
        assert torch_boxes[name].startswith("registered Parameter")
    assert {"∇ w", "∇ b"} <= set(tf_boxes) & set(torch_boxes)


def test_default_tf_names_are_not_taken_for_user_names():
    assert not user_named("MatMul", "MatMul") and not user_named("add_1", "AddV2")
    assert not user_named("Relu_3", "Relu") and not user_named("BiasAdd", "BiasAdd")
    assert user_named("c", "Mul") and user_named("loss", "Mean")
