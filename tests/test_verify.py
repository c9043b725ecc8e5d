"""graphstage verify: traces checked against independent records of the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from graphstage.tracers.run import trace_script
from graphstage.tracers.script import load_script, resolve_source
from graphstage.tracers.verify import assert_verified, verify_script

MODELS = Path(__file__).resolve().parent / "models"


@pytest.mark.parametrize("source", [
    "dynamicnet_torch", "mnist_mlp_torch", str(MODELS / "gan_torch.py"),
    str(MODELS / "custom_function_torch.py"), str(MODELS / "inplace_views_torch.py"),
    str(MODELS / "two_backward_torch.py"),
])
def test_torch_examples_verify(source):
    checks = assert_verified(source, 2)
    assert all(c.backward_nodes > 0 and c.aten_ops >= c.forward_ops > 0 for c in checks)


def test_verify_catches_a_missing_forward_op(monkeypatch):
    """Break the tracer the way the GAN bug did (reading a parameter after backward counted
    as an update): verify must name the unlinked backward nodes."""
    from graphstage.tracers import torch_tracer

    def old_rule(self, inputs, outs):
        if any(self._owner(t) is not None for t in inputs):
            return True
        return id(outs[0]) in self.names.params and any(outs[0] is t for t in inputs)

    monkeypatch.setattr(torch_tracer._Recorder, "_is_update", old_rule)
    checks = verify_script(MODELS / "gan_torch.py", 1)
    assert not checks[0].ok
    assert any("AddmmBackward0" in m and "without its forward op" in m
               for m in checks[0].mismatches)


@pytest.mark.tf
@pytest.mark.parametrize("example", ["mul_tf", "dynamicnet_tf", "dynamicnet_while_tf", "cnn_tf"])
def test_tensorflow_examples_verify(example):
    checks = assert_verified(example, 1)
    assert checks[0].forward_ops > 0


@pytest.mark.tf
def test_tf_multi_call_and_eager_steps_verify():
    """A GAN step (two tf.function calls: each call's part against its own concrete function)
    and an eager step (its recorded ops against a second op callback)."""
    gan = assert_verified(MODELS / "gan_tf.py", 1)
    assert gan[0].forward_ops > 200 and gan[0].backward_nodes > 0
    eager = assert_verified(MODELS / "eager_tf.py", 2)
    assert all(c.forward_ops > 100 and c.aten_ops >= c.forward_ops for c in eager)


@pytest.mark.tf
def test_tf_verify_names_a_call_part_or_eager_op_lost(monkeypatch):
    from graphstage.tracers import tf_eager, tf_tracer, tf_verify

    real_compose = tf_tracer.compose

    def drop_from_second_call(calls):
        g = nx.DiGraph(real_compose(calls))
        g.remove_node(next(n for n in g if n.startswith("train_g/") and
                           g.nodes[n]["op"] == "MatMul"))
        return g

    monkeypatch.setattr(tf_tracer, "compose", drop_from_second_call)
    checks = tf_verify.check(load_script(MODELS / "gan_tf.py"), 1)
    assert any(m.startswith("train_g/") and "MatMul in the function, not traced" in m
               for m in checks[0].mismatches)
    assert not any(m.startswith("train_d/") for m in checks[0].mismatches)
    monkeypatch.undo()

    real_op = tf_eager.EagerGraph._op

    def skip_relu(self, k, op):
        if op.type != "Relu":
            real_op(self, k, op)

    monkeypatch.setattr(tf_eager.EagerGraph, "_op", skip_relu)
    checks = tf_verify.check(load_script(MODELS / "eager_tf.py"), 1)
    assert any(m.startswith("Relu: ran 1 times, 0 recorded") for m in checks[0].mismatches)


@pytest.mark.tf
def test_tf_verify_catches_a_dropped_op(monkeypatch):
    from graphstage.tracers import tf_verify

    real = tf_verify._compare

    def drop_one(index, graph, cf):
        g = graph.copy()
        victim = next(n for n, a in g.nodes(data=True) if a["op"] == "MatMul")
        g.remove_node(victim)
        return real(index, g, cf)

    monkeypatch.setattr(tf_verify, "_compare", drop_one)
    checks = tf_verify.check(load_script(resolve_source("dynamicnet_tf")), 1)
    assert any("MatMul in the function, not traced" in m for m in checks[0].mismatches)


def test_verify_a_saved_trace_and_the_cli(tmp_path):
    path = trace_script(MODELS / "gan_torch.py", 2, seed=3).save(tmp_path / "gan.json")
    checks = verify_script(path)
    assert len(checks) == 2 and all(c.ok for c in checks)
    res = subprocess.run([sys.executable, "-m", "graphstage", "verify", "dynamicnet_torch",
                          "--steps", "2"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count(": ok (") == 2
