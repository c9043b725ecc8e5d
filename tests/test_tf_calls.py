"""Steps of any shape: step() runs as written and every tf.function call it makes is captured
(tracers/tf_calls.py): an eager step whose user function retraces, Keras train_on_batch with an
overridden train_step, Keras fit, two train functions per step (a GAN), a function called under
an outer gradient tape. Tracing never changes what the program computes."""

from pathlib import Path

import numpy as np
import pytest

from graphstage.tracers import trace_script, validate
from graphstage.tracers.script import load_script

pytestmark = pytest.mark.tf

MODELS = Path(__file__).resolve().parent / "models"

KERAS_HEADER = '''
import numpy as np
import tensorflow as tf
import keras
FRAMEWORK = "tensorflow"

def _data():
    rng = np.random.default_rng(0)
    return rng.random((16, 4), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
'''

TRAIN_ON_BATCH = KERAS_HEADER + '''
class Custom(keras.Model):
    """Overrides train_step (wrapping the eager step in tf.function made Keras fail)."""

    def __init__(self):
        super().__init__(name="custom")
        self.d1 = keras.layers.Dense(8, activation="relu", name="d1")
        self.d2 = keras.layers.Dense(1, name="d2")

    def call(self, x):
        return self.d2(self.d1(x))

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}

def setup():
    x, y = _data()
    model = Custom()
    model.compile(optimizer="sgd")
    return {"step": lambda: model.train_on_batch(x, y), "model": model}
'''

FIT = KERAS_HEADER + '''
def setup():
    x, y = _data()
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, name="d1"),
                                 tf.keras.layers.Dense(1, name="d2")], name="seq")
    model.compile(optimizer="adam", loss="mse")

    def step():
        hist = model.fit(x, y, epochs=1, steps_per_epoch=2, batch_size=8, verbose=0,
                         shuffle=False)
        return hist.history["loss"][-1]

    return {"step": step, "model": model}
'''


def _untraced(path: Path, steps: int) -> tuple[list, object]:
    ms = load_script(path)
    return [ms.step() for _ in range(steps)], ms


def _floats(results: list) -> list[float]:
    return [float(np.sum(np.asarray(r, dtype=np.float64))) for r in results]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}_tf.py"
    path.write_text(text)
    return path


def test_eager_step_retraces_its_function_and_runs_unchanged():
    path = MODELS / "retrace_eager_tf.py"
    ms = load_script(path)
    s = trace_script(ms, 4)
    attrs = [g.graph for g in s.steps]
    assert [a["traced_new"] for a in attrs] == [True, False, True, False]
    assert [a["retraced"] for a in attrs] == [False, False, True, False]
    assert all(a["capture"] == "tf.function" for a in attrs)
    assert "(16, 4)" in attrs[2]["retrace_reason"] and "(8, 4)" in attrs[2]["retrace_reason"]
    assert attrs[3]["concrete_function"] == attrs[0]["concrete_function"]
    assert [a["calls"][0]["function"] for a in attrs] == ["train"] * 4
    shapes = [[n["shape"] for _, n in g.nodes(data=True) if n["kind"] == "input"] for g in s.steps]
    assert [8, 4] in shapes[0] and [16, 4] in shapes[2] and [16, 4] not in shapes[0]
    assert s.diff(1).empty and not s.diff(2).empty  # a new structure at step 2
    # the program ran as written: its counter moved once per step, its losses are untraced ones
    untraced, plain = _untraced(path, 4)
    assert ms.extras["state"]["steps"] == plain.extras["state"]["steps"] == 4
    assert ms.extras["state"]["losses"] == pytest.approx(_floats(untraced), rel=1e-5)
    assert s.losses() == pytest.approx(_floats(untraced), rel=1e-5)


def test_train_on_batch_with_overridden_train_step(tmp_path):
    path = _write(tmp_path, "train_on_batch", TRAIN_ON_BATCH)
    s = trace_script(path, 3)
    for g in s.steps:
        validate(g)
        assert g.graph["calls"][0]["function"] == "one_step_on_data"
        assert {a["phase"] for _, a in g.nodes(data=True)} == {"forward", "backward", "update"}
        params = [a for _, a in g.nodes(data=True) if a["kind"] == "parameter"]
        assert len(params) == 4 and all(a.get("grad") for a in params)
    assert [g.graph["traced_new"] for g in s.steps] == [True, False, False]
    assert s.steps[2].graph["reused_concrete_function"]
    untraced, _ = _untraced(path, 3)
    assert s.losses() == pytest.approx(_floats(untraced), rel=1e-5)


def test_keras_fit_calls_are_composed_per_step(tmp_path):
    path = _write(tmp_path, "fit", FIT)
    ms = load_script(path)
    s = trace_script(ms, 2)
    g = s.steps[1]
    validate(g)
    calls = g.graph["calls"]
    assert [c["label"] for c in calls] == ["multi_step_on_iterator", "multi_step_on_iterator#1"]
    assert all(c["gradients"] and c["reused_concrete_function"] for c in calls)
    assert {a["scope"].split("/")[0] for _, a in g.nodes(data=True)
            if a["kind"] not in ("parameter", "constant")} == {c["label"] for c in calls}
    assert s.steps[0].graph["traced_new"] and not g.graph["traced_new"]
    untraced, _ = _untraced(path, 2)
    assert s.losses() == pytest.approx(untraced, rel=1e-5)


def test_two_train_functions_per_step_share_variables():
    s = trace_script(MODELS / "gan_tf.py", 2)
    g = s.steps[1]
    validate(g)
    assert [c["label"] for c in g.graph["calls"]] == ["train_d", "train_g"]
    assert g.graph["concrete_function"].count("__inference") == 2
    params = {a["key"]: a for _, a in g.nodes(data=True) if a["kind"] == "parameter"}
    assert set(params) == {"param:disc/d_out/kernel", "param:disc/d_out/bias",
                           "param:gen/g_out/kernel", "param:gen/g_out/bias"}
    assert all(p.get("grad") for p in params.values())  # each from the call that trained it
    updates = {a["key"] for _, a in g.nodes(data=True) if a["kind"] == "update"}
    assert {"update:train_d/disc/d_out/kernel", "update:train_g/gen/g_out/kernel"} <= updates
    orders = [(a["phase"], a["order"]) for _, a in g.nodes(data=True) if a["order"] >= 0]
    assert len(orders) == len(set(orders))
    assert s.diff(1).empty  # keys stay stable across steps


def test_function_under_an_outer_tape_keeps_its_gradient(tmp_path):
    path = _write(tmp_path, "outer_tape", '''
import tensorflow as tf
FRAMEWORK = "tensorflow"
def setup():
    w = tf.Variable([[1.0], [2.0]], name="w")
    x = tf.constant([[1.0, 1.0], [2.0, 0.5]])
    forward = tf.function(lambda: tf.reduce_sum(tf.square(x @ w)))
    def step():
        with tf.GradientTape() as tape:
            loss = forward()
        w.assign_sub(0.01 * tape.gradient(loss, w))
        return loss
    return {"step": step, "params": {"w": w}}
''')
    ms = load_script(path)
    s = trace_script(ms, 2)
    untraced, plain = _untraced(path, 2)
    assert s.losses() == pytest.approx(_floats(untraced), rel=1e-6)
    assert ms.params["w"].numpy() == pytest.approx(plain.params["w"].numpy(), rel=1e-6)
    call = s.steps[1].graph["calls"][0]
    assert call["values"] is False and not call["gradients"]


def test_a_call_graphstage_cannot_capture_runs_untouched(tmp_path, monkeypatch, caplog):
    import graphstage
    from graphstage.tracers import ScriptError, tf_tracer

    def broken(*args, **kwargs):
        raise RuntimeError("converter broke")

    monkeypatch.setattr(tf_tracer, "capture", broken)
    path = MODELS / "retrace_eager_tf.py"
    with pytest.raises(ScriptError, match="no call could be captured.*converter broke"):
        trace_script(path, 1)
    ms = load_script(path)
    with caplog.at_level("WARNING"), graphstage.record(steps=2, framework="tensorflow") as rec:
        losses = [float(ms.step()) for _ in range(4)]
    assert len(rec.session) == 0 and "converter broke" in caplog.text
    untraced, _ = _untraced(path, 4)
    assert losses == pytest.approx(_floats(untraced), rel=1e-6)


def test_eager_keras_step_is_recorded_op_by_op():
    path = MODELS / "eager_tf.py"
    s = trace_script(path, 3)
    g = s.steps[2]
    validate(g)
    assert g.graph["capture"] == "tf eager" and s.diff(2).empty
    params = {a["label"]: a for _, a in g.nodes(data=True) if a["kind"] == "parameter"}
    assert set(params) == {"net/d1/kernel", "net/d1/bias", "net/d2/kernel", "net/d2/bias"}
    assert all(p["grad"] and p["value"] for p in params.values())
    updates = {a["param"] for _, a in g.nodes(data=True) if a["kind"] == "update"}
    assert set(params) <= {u.removeprefix("param:") for u in updates}
    forward = {a["scope"] for _, a in g.nodes(data=True)
               if a["phase"] == "forward" and a["kind"] == "op"}
    assert {"d1", "act", "d2"} <= forward
    untraced, _ = _untraced(path, 3)
    assert s.losses() == pytest.approx(_floats(untraced), rel=1e-6)
