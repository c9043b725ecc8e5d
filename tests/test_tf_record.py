"""graphstage.record around unchanged TensorFlow loops: Keras fit and a custom GradientTape loop.
Steps end at each train-function call that computes gradients (or an eager apply_gradients),
the loop's numbers are those of an unrecorded run, and after N steps nothing stays patched."""

import numpy as np
import pytest

import graphstage
from graphstage.tracers import validate
from graphstage.tracers.tf_calls import is_intercepted
from graphstage.tracers.tf_compat import op_callback_count
from graphstage.tracers.tf_env import import_tf

pytestmark = pytest.mark.tf
tf = import_tf()


def _keras_setup():
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((32, 4), dtype=np.float32)
    y = rng.random((32, 1), dtype=np.float32)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, name="d1"),
                                 tf.keras.layers.Dense(1, name="d2")], name="seq")
    model.compile(optimizer="adam", loss="mse")
    return model, x, y


class _Watch(tf.keras.callbacks.Callback):
    """Whether tf.function's call path was patched at the end of each batch."""

    def __init__(self):
        super().__init__()
        self.patched = []

    def on_train_batch_end(self, batch, logs=None):
        self.patched.append(is_intercepted())


def test_record_keras_fit_stops_after_n_steps():
    model, x, y = _keras_setup()
    watch = _Watch()
    with graphstage.record(steps=3, model=model) as rec:
        hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False,
                         callbacks=[watch])
    assert rec.error is None and len(rec.session) == 3
    assert watch.patched == [True, True, False, False, False, False, False, False]
    assert not is_intercepted()
    for i, g in enumerate(rec.session.steps):
        validate(g)
        assert g.graph["step"] == i
        assert [c["function"] for c in g.graph["calls"]] == ["multi_step_on_iterator"]
    assert [g.graph["traced_new"] for g in rec.session.steps] == [True, False, False]
    plain, px, py = _keras_setup()
    plain_hist = plain.fit(px, py, epochs=2, batch_size=8, verbose=0, shuffle=False)
    assert hist.history["loss"] == pytest.approx(plain_hist.history["loss"], rel=1e-5)
    for a, b in zip(model.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def _loop(iters: int, rec_steps: int = 0):
    tf.random.set_seed(1)
    w = tf.Variable(tf.random.normal((3, 1)), name="w")
    b = tf.Variable(tf.zeros((1,)), name="b")
    opt = tf.keras.optimizers.SGD(0.1)
    x, y = tf.random.normal((16, 3)), tf.random.normal((16, 1))

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(x @ w + b - y))
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b], strict=True))
        return loss

    losses = []
    rec = graphstage.record(steps=rec_steps, optimizer=opt) if rec_steps else None
    if rec is not None:
        with rec:
            losses = [float(train_step(x, y)) for _ in range(iters)]
    else:
        losses = [float(train_step(x, y)) for _ in range(iters)]
    return losses, rec, (w.numpy(), b.numpy())


def test_record_custom_gradient_tape_loop():
    losses, rec, (w, b) = _loop(5, rec_steps=2)
    assert len(rec.session) == 2 and rec.error is None and not is_intercepted()
    assert rec.session.losses() == pytest.approx(losses[:2], rel=1e-6)
    g = rec.session.steps[1]
    validate(g)
    assert {a["phase"] for _, a in g.nodes(data=True)} == {"forward", "backward", "update"}
    params = {a["label"] for _, a in g.nodes(data=True) if a["kind"] == "parameter"}
    assert params == {"w", "b"}
    plain_losses, _, (pw, pb) = _loop(5)
    assert losses == pytest.approx(plain_losses, rel=1e-6)
    np.testing.assert_allclose(w, pw, rtol=1e-6)
    np.testing.assert_allclose(b, pb, rtol=1e-6)


def test_record_ends_a_step_at_an_eager_apply_gradients():
    tf.random.set_seed(2)
    w = tf.Variable(tf.ones((2, 1)), name="w")
    opt = tf.keras.optimizers.SGD(0.1)
    x = tf.constant([[1.0, 2.0], [0.5, -1.0]])
    forward = tf.function(lambda: tf.reduce_sum(tf.square(x @ w)))
    with graphstage.record(steps=2, optimizer=opt) as rec:
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = forward()
            opt.apply_gradients([(tape.gradient(loss, w), w)])
    assert len(rec.session) == 2 and not is_intercepted()
    calls = rec.session.steps[0].graph["calls"]
    assert [c["function"] for c in calls] == ["<lambda>"] and not calls[0]["gradients"]


def test_graphstage_run_records_an_unmodified_tensorflow_script(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from graphstage.tracers.session import TraceSession

    script = Path(__file__).resolve().parent / "models" / "train_loop_tf.py"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    res = subprocess.run([sys.executable, "-m", "graphstage", "run", str(script), "--steps", "3",
                          "--finish", "-o", "f.json", "--", "--epochs", "2", "--log", "full.txt"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "TRAINING DONE 8" in res.stdout and "ran to its end" in res.stderr
    logged = [float(v) for v in (tmp_path / "full.txt").read_text().split()]
    session = TraceSession.load(tmp_path / "f.json")
    assert session.framework == "tensorflow" and len(session) == 3
    assert session.losses() == pytest.approx(logged[:3], rel=1e-6)
    params = {a["label"] for _, a in session.graph(0).nodes(data=True)
              if a["kind"] == "parameter"}
    assert params == {f"regressor/{p}" for p in ("body/kernel", "body/bias", "head/kernel",
                                                  "head/bias")}


def _eager_loop(iters: int, rec_steps: int = 0):
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4, name="d1"),
                                 tf.keras.layers.Dense(1, name="d2")], name="net")
    opt = tf.keras.optimizers.SGD(0.1)
    x, y = tf.random.normal((8, 3)), tf.random.normal((8, 1))

    def run():
        out = []
        for _ in range(iters):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            out.append(float(loss))
        return out

    if not rec_steps:
        return run(), None
    with graphstage.record(steps=rec_steps, model=model, optimizer=opt) as rec:
        losses = run()
    return losses, rec


def test_record_a_purely_eager_loop():
    losses, rec = _eager_loop(4, rec_steps=2)
    assert len(rec.session) == 2 and rec.error is None and not is_intercepted()
    assert op_callback_count() == 0
    assert rec.session.losses() == pytest.approx(losses[:2], rel=1e-6)
    g = rec.session.steps[1]
    validate(g)
    assert g.graph["capture"] == "tf eager"
    assert {a["phase"] for _, a in g.nodes(data=True)} == {"forward", "backward", "update"}
    assert rec.session.diff(1).empty
    assert losses == pytest.approx(_eager_loop(4)[0], rel=1e-6)
