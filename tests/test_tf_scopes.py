"""Keras groups on a real functional model: every layer's ops, gradients, variables and optimizer
updates land in that layer's group, named as in model.layers.

The model is a small ResNet-style functional Keras model (stem conv/BN/ReLU, zero padding, a
residual block with an Add, swish activations whose custom gradient TensorFlow names outside any
scope, dropout with its seed generator, a nested Sequential of auto-named Dense layers, global
pooling and a head), trained one step with GradientTape + Adam, traced once for the module.
"""

import re
from collections import Counter
from pathlib import Path

import pytest

from graphstage.tracers import tf_tracer, validate
from graphstage.tracers.script import load_script
from graphstage.tracers.tf_scopes import is_variable

pytestmark = pytest.mark.tf

SCRIPT = '''
import tensorflow as tf

FRAMEWORK = "tensorflow"
NAME = "resnetish"
L = tf.keras.layers


def setup():
    inp = tf.keras.Input((16, 16, 3))
    x = L.ZeroPadding2D(1, name="stem_pad")(inp)
    x = L.Conv2D(8, 3, use_bias=False, name="stem_conv")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    y = L.Conv2D(8, 3, padding="same", name="block_conv")(x)
    y = L.BatchNormalization(name="block_bn")(y)
    y = L.Activation("swish", name="block_swish")(y)
    y = L.Dropout(0.1, name="block_drop")(y)
    x = L.Add(name="block_add")([x, y])
    x = L.GlobalAveragePooling2D(name="pool")(x)
    inner = tf.keras.Sequential([L.Dense(16, activation="swish"), L.Dense(12)], name="inner")
    x = inner(x)
    out = L.Dense(10, name="head")(x)
    model = tf.keras.Model(inp, out, name="resnetish")
    opt = tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_batch = tf.random.normal((2, 16, 16, 3))
    y_batch = tf.constant([1, 7])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y_batch, model(x_batch, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return {"step": step, "model": model, "optimizer": opt, "loss_fn": loss_fn}
'''


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """(step graph, layer path -> Keras object) for one traced step of the model."""
    path = Path(tmp_path_factory.mktemp("scopes")) / "resnetish_tf.py"
    path.write_text(SCRIPT)
    ms = load_script(path)
    g = tf_tracer.trace(ms, 1).steps[0]
    validate(g)
    return g, _layers(ms)


def _layers(objs) -> dict[str, object]:
    """Layer path -> layer, from the traced script's model (model.layers, a nested model's
    layers under its name), plus its optimizer and loss."""
    out: dict[str, object] = {}

    def walk(layers, prefix):
        for layer in layers:
            out[prefix + layer.name] = layer
            if hasattr(layer, "layers"):
                walk(layer.layers, prefix + layer.name + "/")

    walk(objs.model.layers, "")
    out["@optimizer"] = objs.optimizer
    out["@loss"] = objs.extras["loss_fn"]
    return out


def _group(g, path: str) -> list[tuple[str, dict]]:
    return [(n, a) for n, a in g.nodes(data=True)
            if a["scope"] == path or a["scope"].startswith(path + "/")]


def test_top_level_groups_are_the_models_layers(traced):
    g, layers = traced
    names = {p for p in layers if "/" not in p and not p.startswith("@")}
    allowed = names | {layers["@optimizer"].name, layers["@loss"].name}
    top = Counter(a["scope"].split("/")[0] for _, a in g.nodes(data=True))
    loose = top.pop("", 0)
    assert set(top) <= allowed, set(top) - allowed
    # every layer that computes something has its group; nothing was left at the top but the
    # step's own ops (its NoOp and returned Identity)
    assert {n for n in names if not n.startswith("input")} <= set(top)
    assert loose <= 3
    strays = [n for n, a in g.nodes(data=True) if not a["scope"] and a["phase"] == "backward"]
    assert not strays


def test_layer_groups_hold_forward_gradient_ops_and_variables(traced):
    g, layers = traced
    with_weights = {p: layer for p, layer in layers.items()
                    if not p.startswith("@") and not hasattr(layer, "layers") and layer.weights}
    assert len(with_weights) == 7  # 2 convs, 2 BNs, 2 inner Dense, head
    for path, layer in with_weights.items():
        group = dict(_group(g, path))
        phases = Counter(a["phase"] for a in group.values())
        assert phases["forward"] >= 2 and phases["backward"] >= 2, (path, phases)
        for v in layer.weights:
            node = f"param:{v.path}"
            assert node in group, (path, node)
            if v.trainable:
                grads = [n for n, a in g.nodes(data=True)
                         if a["kind"] == "grad_acc" and a.get("param") == node]
                assert grads and all(n in group for n in grads), (path, node)
        # a backward op sits in the group of the forward op it differentiates
        for n, a in group.items():
            if a.get("forward"):
                assert g.nodes[a["forward"]]["scope"] == a["scope"], n


def test_forward_ops_follow_tensorflows_own_scope_names(traced):
    """Independent check for the explicitly named layers: a forward op TensorFlow named under
    `resnetish_N/<layer>_N/` is in the layer's group, and the group has no other forward op
    named under the model (dead top-level `zeros` may join it)."""
    g, layers = traced
    for path in ("stem_pad", "stem_conv", "stem_bn", "stem_relu", "block_conv", "block_bn",
                 "block_swish", "block_drop", "block_add", "pool", "head"):
        raw = re.compile(rf"^resnetish(_\d+)?/{path}(_\d+)?/")
        by_name = {n for n, a in g.nodes(data=True)
                   if a["phase"] == "forward" and raw.match(a["name"])
                   and not a["key"].startswith("param:")}
        in_group = {n for n, a in _group(g, path) if a["phase"] == "forward"
                    and a["name"].startswith("resnetish") and a["op"] != "Const"}
        assert by_name, path
        assert in_group <= by_name and by_name - in_group <= {
            n for n in by_name if g.nodes[n]["op"] == "Const"}, path


def test_nested_model_layers_keep_their_model(traced):
    """The nested Sequential's auto-named Dense layers (TF scopes `inner_1/dense_1` for layer
    `dense`, `inner_1/dense_1_2` for `dense_1`) group under `inner/<layer name>`."""
    g, layers = traced
    inner = [p for p in layers if p.startswith("inner/")]
    assert len(inner) == 2
    for path in inner:
        kernel = f"param:{layers[path].kernel.path}"
        assert g.nodes[kernel]["scope"] == path
        matmuls = [v for v in g.successors(kernel) if g.nodes[v]["op"] == "MatMul"
                   and g.nodes[v]["phase"] == "forward"]
        assert len(matmuls) == 1 and g.nodes[matmuls[0]]["scope"] == path


def test_optimizer_updates_are_grouped_per_variable(traced):
    g, layers = traced
    opt = layers["@optimizer"].name
    upd = Counter(a["scope"] for _, a in g.nodes(data=True) if a["phase"] == "update")
    assert max(upd.values()) <= 40, upd.most_common(3)
    assert upd[opt] <= 12  # what the variables share: iteration counter, learning rate
    trainable = [(p, v) for p, layer in layers.items() if not p.startswith("@")
                 and not hasattr(layer, "layers") for v in layer.trainable_weights]
    assert len(trainable) == 13
    for path, v in trainable:
        scope = f"{path}/{opt}/{v.path.rsplit('/', 1)[-1]}"
        group = dict(_group(g, scope))
        writes = {a.get("param") for a in group.values() if a["kind"] == "update"}
        assert f"param:{v.path}" in writes, scope
        slots = [n for n, a in group.items()
                 if is_variable(a) and a.get("name", "").startswith(f"{opt}/")]
        assert len(slots) == 2, (scope, slots)  # Adam's m and v (state: buffer: keys)
        assert all(a["phase"] == "update" for n, a in group.items() if not is_variable(a)), scope
    moved = sum(upd[s] for s in upd if f"/{opt}/" in s)
    assert moved > 10 * upd[opt]


PRETRACED = '''
import tensorflow as tf

FRAMEWORK = "tensorflow"


class Net(tf.keras.Model):
    def __init__(self):
        super().__init__(name="net")
        self.hidden = tf.keras.layers.Dense(6, name="hidden")
        self.out = tf.keras.layers.Dense(1, name="out")

    def call(self, x):
        return self.out(tf.nn.relu(self.hidden(tf.nn.relu(self.hidden(x)))))


def setup():
    model = Net()
    model.build((None, 6))
    opt = tf.keras.optimizers.Adam(1e-3)
    x, y = tf.random.normal((4, 6)), tf.random.normal((4, 1))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    step()  # TensorFlow traces it here, before the tracer can watch Keras' name scopes
    return {"step": step, "model": model, "optimizer": opt}
'''


def test_scopes_learnt_from_variables_when_traced_before(tmp_path):
    """Without Keras' records (the step was traced in setup()) a layer's scope is learnt from
    the variables its ops read: each call of the shared layer is its own numbered scope beside
    the variables, and Adam's updates are still grouped per variable."""
    path = tmp_path / "pretraced_tf.py"
    path.write_text(PRETRACED)
    ms = load_script(path)
    g = tf_tracer.trace(ms, 1).steps[0]
    validate(g)
    kernel = g.nodes["param:net/hidden/kernel"]
    assert kernel["scope"] == "net/hidden"
    calls = sorted(g.nodes[v]["scope"] for v in g.successors("param:net/hidden/kernel")
                   if g.nodes[v]["op"] == "MatMul" and g.nodes[v]["phase"] == "forward")
    assert calls == ["net/hidden", "net/hidden#1"]
    upd = Counter(a["scope"] for _, a in g.nodes(data=True) if a["phase"] == "update")
    opt = ms.optimizer.name  # "adam", or "adam_1" after another Adam in this process
    assert max(upd.values()) <= 40 and upd[f"net/hidden/{opt}/kernel"] >= 10, upd.most_common(4)


def test_functional_scopes_learnt_without_the_models_own_scope(tmp_path):
    """The same fallback on the functional model: `resnetish_1/stem_conv_1` with variable
    `stem_conv/kernel` learns `stem_conv` (the model's own scope is no level)."""
    path = tmp_path / "resnetish_pre_tf.py"
    ret = '    return {"step": step'
    path.write_text(SCRIPT.replace(ret, "    step()  # traced before the tracer\n" + ret))
    ms = load_script(path)
    g = tf_tracer.trace(ms, 1).steps[0]
    inner = ms.model.get_layer("inner").layers[0]  # auto-named: dense, or dense_2 ...
    for layer in ("stem_conv", "block_conv", "head", f"inner/{inner.name}"):
        node = f"param:{layer}/kernel"
        assert g.nodes[node]["scope"] == layer
        fwd = {g.nodes[v]["scope"] for v in g.successors(node) if g.nodes[v]["phase"] == "forward"}
        assert fwd == {layer}, (layer, fwd)
    assert not any(a["scope"].startswith("resnetish") for _, a in g.nodes(data=True))
