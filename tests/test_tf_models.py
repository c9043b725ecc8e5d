"""The TensorFlow tracer on real-model features: tf.cond, tf.map_fn, tf.custom_gradient, a
functional Keras model with a shared layer, an LSTM, mixed dtypes and a variable that gets no
gradient. Each is a small model script written to a temporary file and traced for 2 steps."""

from pathlib import Path

import pytest

from graphstage.tracers import trace_script, validate

pytestmark = pytest.mark.tf

HEADER = "import tensorflow as tf\nFRAMEWORK = 'tensorflow'\n"


def _trace(tmp_path: Path, name: str, body: str, steps: int = 2):
    path = tmp_path / f"{name}_tf.py"
    path.write_text(HEADER + body)
    s = trace_script(path, steps)
    for g in s.steps:
        validate(g)
    return s


def _ops(g) -> set[str]:
    return {a["op"] for _, a in g.nodes(data=True)}


def _step_body(forward: str, extra_vars: str = "") -> str:
    return f'''
def setup():
    w = tf.Variable(tf.ones([4, 4]) * 0.5, name="w")
    x = tf.random.normal([3, 4])
{extra_vars}
    @tf.function
    def step():
        with tf.GradientTape() as tape:
{forward}
        grads = tape.gradient(loss, tape.watched_variables())
        for v, g in zip(tape.watched_variables(), grads):
            if g is not None:
                v.assign_sub(0.01 * g)
        return loss
    return step
'''


def test_tf_cond_has_branch_children(tmp_path):
    body = _step_body("            h = tf.matmul(x, w)\n"
                      "            h = tf.cond(tf.reduce_sum(h) > 0, lambda: tf.nn.relu(h),"
                      " lambda: tf.tanh(h))\n            loss = tf.reduce_sum(h * h)")
    g = _trace(tmp_path, "cond", body).steps[-1]
    ifs = [a for _, a in g.nodes(data=True) if a["op"] in ("If", "StatelessIf")]
    assert ifs
    names = {c["name"].split(":")[0] for a in ifs for c in a.get("children", [])}
    assert {"then_branch", "else_branch"} <= names
    assert any(a["phase"] == "backward" for a in ifs)


def test_map_fn_is_a_while_loop(tmp_path):
    body = _step_body("            h = tf.map_fn(lambda r: tf.tensordot(r, w, 1), x)\n"
                      "            loss = tf.reduce_sum(h)")
    g = _trace(tmp_path, "mapfn", body).steps[-1]
    whiles = [a for _, a in g.nodes(data=True) if "While" in a["op"]]
    assert whiles and all(a.get("children") for a in whiles)


def test_custom_gradient(tmp_path):
    body = '''
@tf.custom_gradient
def clip_grad(x):
    def grad(dy):
        return tf.clip_by_value(dy, -0.1, 0.1)
    return tf.identity(x), grad
''' + _step_body("            loss = tf.reduce_sum(clip_grad(tf.matmul(x, w)))")
    g = _trace(tmp_path, "customgrad", body).steps[-1]
    assert "ClipByValue" in _ops(g) or any("clip" in n.lower() for n in g.nodes)
    w = [a for _, a in g.nodes(data=True) if a["key"] == "param:w"][0]
    assert w["grad"]["max"] <= 0.1 * 3 + 1e-6


def test_functional_shared_layer(tmp_path):
    body = '''
def setup():
    shared = tf.keras.layers.Dense(8, name="shared")
    a, b = tf.keras.Input((5,)), tf.keras.Input((5,))
    joined = tf.keras.layers.Concatenate()([shared(a), shared(b)])
    out = tf.keras.layers.Dense(1, name="head")(joined)
    model = tf.keras.Model([a, b], out)
    opt = tf.keras.optimizers.SGD(0.01)
    xa, xb, y = tf.random.normal([6, 5]), tf.random.normal([6, 5]), tf.random.normal([6, 1])
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model([xa, xb], training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return {"step": step, "model": model, "optimizer": opt}
'''
    g = _trace(tmp_path, "shared", body).steps[-1]
    kernels = [a for _, a in g.nodes(data=True) if a["key"] == "param:shared/kernel"]
    assert len(kernels) == 1  # one variable node, used twice
    consumers = [v for _, v in g.out_edges(
        [n for n, a in g.nodes(data=True) if a["key"] == "param:shared/kernel"][0])
        if g.nodes[v]["op"] == "MatMul" and g.nodes[v]["phase"] == "forward"]
    assert len(consumers) == 2


def test_lstm(tmp_path):
    body = '''
def setup():
    model = tf.keras.Sequential([tf.keras.Input((5, 3)), tf.keras.layers.LSTM(4, name="lstm"),
                                 tf.keras.layers.Dense(1)])
    opt = tf.keras.optimizers.Adam(0.01)
    x, y = tf.random.normal([2, 5, 3]), tf.random.normal([2, 1])
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return {"step": step, "model": model, "optimizer": opt}
'''
    g = _trace(tmp_path, "lstm", body).steps[-1]
    params = [a for _, a in g.nodes(data=True) if a["kind"] == "parameter"]
    assert any("lstm" in a["key"] for a in params)
    assert all(a.get("grad") for a in params)
    loops = [a for _, a in g.nodes(data=True) if "While" in a["op"] or a.get("children")]
    assert loops


def test_mixed_dtypes(tmp_path):
    body = _step_body("            h = tf.cast(tf.matmul(tf.cast(x, tf.float16), "
                      "tf.cast(w, tf.float16)), tf.float32)\n"
                      "            loss = tf.reduce_sum(h) + tf.cast(tf.size(h), tf.float32)")
    g = _trace(tmp_path, "mixed", body).steps[-1]
    dtypes = {a.get("dtype") for _, a in g.nodes(data=True)}
    assert {"float16", "float32", "int32"} <= dtypes
    w = [a for _, a in g.nodes(data=True) if a["key"] == "param:w"][0]
    assert w["grad"]["dtype"] == "float32"


def test_variable_without_gradient(tmp_path):
    extra = '    unused = tf.Variable(tf.zeros([4]), name="unused")\n'
    body = _step_body("            loss = tf.reduce_sum(tf.matmul(x, w)) + 0.0 * tf.reduce_sum("
                      "tf.stop_gradient(unused))", extra)
    body = body.replace("tape.gradient(loss, tape.watched_variables())",
                        "tape.gradient(loss, [w, unused])")
    body = body.replace("zip(tape.watched_variables(), grads)", "zip([w, unused], grads)")
    g = _trace(tmp_path, "nograd", body).steps[-1]
    by_key = {a["key"]: a for _, a in g.nodes(data=True)}
    assert by_key["param:unused"]["no_grad"] is True
    assert by_key["param:w"]["no_grad"] is False and by_key["param:w"]["grad"]
