"""The TensorFlow tracer's per-step values against an independent eager computation.

Once TensorFlow reuses a concrete function the tracer summarises inside the step's own
execution (in-graph reductions); these tests recompute the same quantities eagerly from the
variables as they were before the step and compare every summary field."""

from pathlib import Path

import numpy as np
import pytest

from graphstage.tracers.script import load_script

pytestmark = pytest.mark.tf

SCRIPT = """
import tensorflow as tf
FRAMEWORK = "tensorflow"

def setup():
    w1 = tf.Variable(tf.random.normal([20, 32], seed=1), name="w1")
    w2 = tf.Variable(tf.random.normal([32, 1], seed=2), name="w2")
    w3 = tf.Variable(tf.random.normal([8, 8], dtype=tf.float64, seed=5), name="w3")
    x = tf.random.normal([64, 20], seed=3)
    y = tf.random.normal([64, 1], seed=4)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, w1))
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y)) + tf.cast(
                tf.reduce_sum(tf.sin(w3)), tf.float32)
        g1, g2, g3 = tape.gradient(loss, [w1, w2, w3])
        w1.assign_sub(0.1 * g1)
        w2.assign_sub(0.1 * g2)
        w3.assign_sub(0.1 * g3)
        return loss

    return {"step": step, "params": {"w1": w1, "w2": w2, "w3": w3}, "x": x, "y": y}
"""


def _summary(a: np.ndarray) -> dict[str, float]:
    x = a.astype(np.float64).ravel()
    return {"min": x.min(), "max": x.max(), "mean": x.mean(), "std": x.std(ddof=1),
            "norm": float(np.sqrt(np.dot(x, x)))}


def _close(got: dict, want: dict, fields: tuple[str, ...]) -> None:
    for f in fields:
        assert got[f] == pytest.approx(want[f], rel=1e-4, abs=1e-6), f


def _traced_and_eager(tmp_path: Path, values: str):
    """Step 2 of the script traced under a values policy, and the same step computed eagerly
    from the variables' values just before it."""
    import tensorflow as tf

    from graphstage.tracers.tf_tracer import FunctionTracer

    path = tmp_path / "values_tf.py"
    path.write_text(SCRIPT)
    ms = load_script(path)
    tracer = FunctionTracer(ms, values=values)
    tracer.step(0)
    tracer.step(1)
    w1, w2, w3 = (tf.constant(ms.params[k].numpy()) for k in ("w1", "w2", "w3"))
    x, y = ms.extras["x"], ms.extras["y"]
    g, loss, _ = tracer.step(2)
    assert tracer.last.runner.reduces  # the reused function's in-graph summaries ran
    with tf.GradientTape() as tape:
        tape.watch([w1, w2, w3])
        h = tf.nn.relu(tf.matmul(x, w1))
        want_loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y)) + tf.cast(
            tf.reduce_sum(tf.sin(w3)), tf.float32)
    g1, g2, g3 = tape.gradient(want_loss, [w1, w2, w3])
    eager = {"w1": w1.numpy(), "w2": w2.numpy(), "w3": w3.numpy(), "g1": g1.numpy(),
             "g2": g2.numpy(), "g3": g3.numpy(), "h": h.numpy(), "loss": float(want_loss)}
    return g, loss, eager


@pytest.mark.parametrize("values", ["auto", "all"])
def test_in_graph_summaries_match_eager(tmp_path, values):
    g, loss, eager = _traced_and_eager(tmp_path, values)
    by_key = {a["key"]: a for _, a in g.nodes(data=True)}
    fields = ("min", "max", "mean", "std", "norm")
    assert loss == pytest.approx(eager["loss"], rel=1e-5)
    _close(by_key["param:w1"]["value"], _summary(eager["w1"]), fields)
    _close(by_key["param:w1"]["grad"], _summary(eager["g1"]), fields)
    _close(by_key["param:w2"]["grad"], _summary(eager["g2"]), fields)
    # a float64 variable: its statistics sit in a second dtype block of the stats matrix
    _close(by_key["param:w3"]["value"], _summary(eager["w3"]), fields)
    _close(by_key["param:w3"]["grad"], _summary(eager["g3"]), fields)
    assert by_key["param:w3"]["value"]["dtype"] == "float64"
    assert by_key["param:w2"]["value"]["shape"] == [32, 1]
    relu = [a for _, a in g.nodes(data=True) if a.get("op") == "Relu"]
    assert len(relu) == 1
    value = relu[0]["value"]
    # 'auto' gives intermediates a light summary (two reductions instead of four)
    light = values == "auto"
    _close(value, _summary(eager["h"]), ("mean", "std", "norm") if light else fields)
    assert ("min" in value) is not light


def test_tiny_tensors_come_back_in_full(tmp_path):
    g, loss, eager = _traced_and_eager(tmp_path, "auto")
    loss_node = [a for _, a in g.nodes(data=True) if a["kind"] == "loss"][0]
    assert loss_node["value"]["values"] == [pytest.approx(eager["loss"], rel=1e-5)]


def test_auto_leaves_fused_kernels_alone():
    """'auto' does not fetch a Dense layer's MatMul or pre-activation BiasAdd output: reading
    them would stop TensorFlow fusing MatMul+BiasAdd+Relu into one kernel. The layer outputs
    (Relu, the last BiasAdd) still get values, and 'all' fetches everything."""
    from graphstage.tracers import trace_script
    from tests.test_tf_tracer import EX

    auto, every = (trace_script(EX / "dynamicnet_tf.py", 3, values=v).steps[-1]
                   for v in ("auto", "all"))
    fwd = {n: a for n, a in auto.nodes(data=True) if a["phase"] == "forward"}
    assert all("value" in a for a in fwd.values() if a["op"] == "Relu")
    matmuls = [n for n, a in fwd.items() if a["op"] == "MatMul"]
    assert matmuls and not any("value" in fwd[n] for n in matmuls)
    hidden_bias = [n for n, a in fwd.items() if a["op"] == "BiasAdd"
                   and auto.nodes[next(iter(auto.successors(n)))]["op"] == "Relu"]
    assert hidden_bias and not any("value" in fwd[n] for n in hidden_bias)
    last_bias = [n for n, a in fwd.items() if a["op"] == "BiasAdd" and n not in hidden_bias]
    assert last_bias and all("value" in fwd[n] for n in last_bias)
    assert all("value" in a for _, a in every.nodes(data=True)
               if a["phase"] == "forward" and a["op"] in ("MatMul", "BiasAdd"))
