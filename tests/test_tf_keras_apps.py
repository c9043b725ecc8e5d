"""Keras applications open at their real structure (issue 9): the flat layer lists of
MobileNetV2, ResNet50, EfficientNetB0 and DenseNet121 get the groups their layer names spell
(tracers/tf_layer_groups.py), every layer's forward ops, gradients, variables and Adam updates
land in that layer's group, and the app opens MobileNetV2 as stem -> block ×16 -> head.

MobileNetV2 (weights=None, 32x32 input, batch 2) is traced once for the module with a
GradientTape + Adam step; the other applications are only built, for their layer names. What
the tests expect is computed from ``model.layers`` with regular expressions, independently of
the rule.
"""

import re
from pathlib import Path

import pytest

from graphstage.tracers import TraceSession, tf_tracer, validate
from graphstage.tracers.script import load_script
from graphstage.tracers.tf_keras_scopes import _snake
from graphstage.tracers.tf_layer_groups import layer_groups
from graphstage.tracers.tf_scopes import is_variable

pytestmark = pytest.mark.tf

SCRIPT = '''
import tensorflow as tf

FRAMEWORK = "tensorflow"
NAME = "MobileNetV2"


def setup():
    model = tf.keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)
    opt = tf.keras.optimizers.Adam(1e-3)
    opt.build(model.trainable_variables)   # its slots now, not in a first trace of the step
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()
    x = tf.random.normal((2, 32, 32, 3), seed=0)
    y = tf.constant([1, 7], dtype=tf.int64)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return {"step": step, "model": model, "optimizer": opt}
'''
BLOCK = re.compile(r"block_(\d+)_")


@pytest.fixture(scope="module")
def mnv2(tmp_path_factory):
    """(step graph, the model's layer names in model.layers order, optimizer name)."""
    path = Path(tmp_path_factory.mktemp("apps")) / "mobilenetv2_tf.py"
    path.write_text(SCRIPT)
    ms = load_script(path)
    g = tf_tracer.trace(ms, 1).steps[0]
    validate(g)
    names = [layer.name for layer in ms.model.layers if not layer.name.startswith("input")]
    return g, names, ms.optimizer.name


def _expected_path(names: list[str], name: str) -> str:
    """Where the rule must put a MobileNetV2 layer, from the names alone: block_N_* under
    block/block_N, what comes before block_1 in stem, after the last block in head."""
    blocks = [i for i, n in enumerate(names) if BLOCK.match(n)]
    i = names.index(name)
    if m := BLOCK.match(name):
        return f"block/block_{m.group(1)}/{name}"
    return f"{'stem' if i < blocks[0] else 'head'}/{name}"


def _layer_scope(g, name: str) -> str:
    """The group of a layer: the scope of its forward ops, cut after the layer's name."""
    scopes = {a["scope"] for _, a in g.nodes(data=True) if a["phase"] == "forward"
              and name in a["scope"].split("/")}
    assert scopes, name
    # the deepest cut: head/Conv_1/Conv_1 is layer Conv_1, head/Conv_1 its group with Conv_1_bn
    cuts = {"/".join(p[:len(p) - p[::-1].index(name)]) for p in (s.split("/") for s in scopes)}
    return max(cuts, key=len)


def test_mobilenetv2_opens_as_stem_blocks_head(mnv2):
    g, names, opt = mnv2
    top = {a["scope"].split("/")[0] for _, a in g.nodes(data=True)} - {""}
    assert top == {"stem", "block", "head", "sparse_categorical_crossentropy", opt}
    numbers = {int(m.group(1)) for n in names if (m := BLOCK.match(n))}
    blocks = {a["scope"].split("/")[1] for _, a in g.nodes(data=True)
              if a["scope"].startswith("block/")}
    assert blocks == {f"block_{i}" for i in numbers}
    for name in names:
        if any(a["phase"] == "forward" and name in a["scope"].split("/")
               for _, a in g.nodes(data=True)):
            # Conv_1 and Conv_1_bn share a group of their own inside head
            assert _layer_scope(g, name) in (_expected_path(names, name),
                                             f"head/Conv_1/{name}"), name


def test_each_layers_ops_gradients_variables_and_updates_share_its_group(mnv2):
    g, names, opt = mnv2
    for name in ("Conv1", "block_1_expand_BN", "block_16_project", "Conv_1_bn", "predictions"):
        scope = _layer_scope(g, name)
        mine = [a for _, a in g.nodes(data=True) if a["scope"] == scope
                or a["scope"].startswith(scope + "/")]
        params = [a for a in mine if is_variable(a) and a["kind"] == "parameter"]
        assert params, name
        assert all(a["scope"] == scope for a in params)
        assert any(a["phase"] == "backward" for a in mine), name
        # Adam's updates per variable; a BN layer's moving averages update in its own scope
        updates = {a["scope"] for a in mine if a["phase"] == "update"} - {scope}
        assert updates == {f"{scope}/{opt}/{p['name'].rsplit('/', 1)[-1]}" for p in params}
    # what the optimizer keeps in its own scope is shared by all variables: a handful of ops
    assert sum(1 for _, a in g.nodes(data=True) if a["scope"].split("/")[0] == opt) <= 20


def test_opening_view_shows_the_block_stack(mnv2):
    pytest.importorskip("PySide6")
    from graphstage.viz.gui.controller import StageController

    g, names, _ = mnv2
    ctl = StageController()
    ctl.set_session(TraceSession(framework="tensorflow", model="MobileNetV2", steps=[g]))
    display = ctl.display()
    assert len(display.nodes) <= 40
    n = len({m.group(1) for name in names if (m := BLOCK.match(name))})
    labels = {dn.label for dn in display.nodes.values() if dn.is_group}
    assert {f"block ×{n}", "stem", "head"} <= labels
    assert {"group:forward:stem", "group:forward:head"} <= set(display.nodes)
    ctl.toggle_scope("block")   # a double-click on the stack: its blocks, each one box
    labels = [dn.label for dn in ctl.display().nodes.values()
              if dn.phase == "forward" and dn.container == "block"]
    assert sorted(labels) == sorted(f"block_{i + 1}" for i in range(n))
    ctl.toggle_scope("block/block_1")   # a block: its layers
    inside = {dn.label for dn in ctl.display().nodes.values() if dn.phase == "forward"
              and dn.container == "block/block_1"}
    assert {name for name in names if name.startswith("block_1_")} <= inside


def _tree(names: list[str], auto: set[str]) -> dict[str, str]:
    return {n: f"{p}/{n}" if p else n for n, p in
            ((n, layer_groups(names, auto).get(n, "")) for n in names)}


@pytest.mark.parametrize("app", ["ResNet50", "EfficientNetB0", "DenseNet121"])
def test_keras_applications_group_by_stage_and_block(app):
    import tensorflow as tf

    model = getattr(tf.keras.applications, app)(weights=None, input_shape=(32, 32, 3),
                                                classes=10)
    layers = [la for la in model.layers if not la.name.startswith("input")]
    names = [la.name for la in layers]
    auto = {la.name for la in layers
            if re.fullmatch(rf"{_snake(type(la).__name__)}(_\d+)?", la.name)}
    paths = _tree(names, auto)
    tops = {p.split("/")[0] for p in paths.values()}
    if app == "ResNet50":    # stem (conv1, pool1), conv2..conv5 stages of their blocks, head
        assert tops == {"stem", "conv2", "conv3", "conv4", "conv5", "head"}
        assert paths["conv1_conv"] == "stem/conv1/conv1_conv"
        for n in names:
            if m := re.match(r"(conv(\d)_block\d+)_", n):
                assert paths[n].startswith(f"conv{m.group(2)}/{m.group(1)}/"), paths[n]
    elif app == "EfficientNetB0":  # stem, block1..block7 holding block2a, block2b..., head
        stages = {f"block{m.group(1)}" for n in names if (m := re.match(r"block(\d)", n))}
        assert tops == stages | {"stem", "head"}
        for n in names:
            if m := re.match(r"(block(\d)[a-z])_", n):
                assert paths[n] == f"block{m.group(2)}/{m.group(1)}/{n}", paths[n]
            elif n.startswith(("stem_", "top_")):
                assert paths[n].split("/")[0] == ("stem" if n.startswith("stem") else "head")
    else:   # DenseNet121: stem, dense blocks conv2..conv5, pool2..pool4 transitions, head
        assert tops == {f"conv{i}" for i in range(2, 6)} | {f"pool{i}" for i in (2, 3, 4)} | \
            {"stem", "head"}
        assert paths["conv1_conv"] == "stem/conv1/conv1_conv"
        for n in names:
            if m := re.match(r"(conv(\d)_block\d+)_", n):
                assert paths[n].startswith(f"conv{m.group(2)}/{m.group(1)}/"), paths[n]
        assert all(paths[n].startswith("head/") for n in ("bn", "relu", "avg_pool"))


def test_rule_keeps_plain_and_auto_named_layers_flat():
    # Keras' own names (dense, dense_1, conv2d_3) and names without numbers never group
    assert layer_groups(["dense", "dense_1", "dense_2"], {"dense", "dense_1", "dense_2"}) == {}
    assert layer_groups(["stem_conv", "stem_bn", "block_conv", "block_add", "head"]) == {}
    # a family shorter than FAMILY_WRAP keeps its groups at the top; stem/head only when free
    got = layer_groups(["head", "enc1_conv", "enc1_bn", "enc2_conv", "enc2_bn", "enc3_conv",
                        "enc3_bn", "pool", "fc"])
    assert got == {"enc1_conv": "enc1", "enc1_bn": "enc1", "enc2_conv": "enc2",
                   "enc2_bn": "enc2", "enc3_conv": "enc3", "enc3_bn": "enc3"}


def test_letter_numbered_blocks_read_as_a_stack():
    from graphstage.viz.gui.viewgraph import stack_size

    assert stack_size(["block4/block4a", "block4/block4b", "block4/block4c"]) == 3
    assert stack_size(["block_1", "block_2", "block_3", "block_16"]) == 4
    assert stack_size(["stem", "block4a", "block4b"]) == 0          # mixed stems: no stack
    assert stack_size(["conv2d", "conv3d", "conv4d"]) == 0          # not one stem


def test_numbered_layers_of_a_subclassed_model_share_one_group():
    # gpt_tf's GPT: tok_emb, pos_emb, blocks_0 ... blocks_11, ln_f, head -> blocks/blocks_<i>,
    # as PyTorch's blocks/<i>; no stem or head around numbered layers
    names = ["tok_emb", "pos_emb", *(f"blocks_{i}" for i in range(12)), "ln_f", "head"]
    assert layer_groups(names) == {f"blocks_{i}": "blocks" for i in range(12)}
    assert layer_groups(["fc1", "fc2", "fc3", "out"]) == {}   # short: left as it is
