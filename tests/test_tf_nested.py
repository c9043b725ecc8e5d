"""Phases inside nested function bodies, on real Keras 3 train functions: a train step called as a
function (a user tf.function calling Keras' one_step_on_data, Keras' multi_step_on_iterator with
steps_per_execution > 1) gets backward and update phases, backward links and update keys as the
same step converted at top level does."""

from __future__ import annotations

import numpy as np
import pytest

from graphstage.tracers import tf_compat, trace_script, validate
from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.tf_convert import Converter
from graphstage.tracers.tf_env import import_tf
from graphstage.tracers.tf_function import TapeRecorder, collect_variables, describe

pytestmark = pytest.mark.tf

UPDATE_TYPES = ("Assign", "ResourceApply")


def _model(steps_per_execution: int = 1):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", steps_per_execution=steps_per_execution)
    model.make_train_function()
    return model, model.make_train_function()


def _keras_function(train, name: str):
    """The tf.function `name` (one_step_on_data, multi_step_on_iterator) in the closure of the
    train function Keras' fit() runs, seen through Keras' functools.wraps wrapper."""
    cells = dict(zip(train.__code__.co_freevars, train.__closure__, strict=True))
    fn = cells[name].cell_contents
    if not hasattr(fn, "get_concrete_function"):  # Keras' _autoconvert_optionals wrapper
        fn = fn.__wrapped__
    assert hasattr(fn, "get_concrete_function")
    return fn


def _resolver(graph):
    def resolve(name):
        fn = tf_compat.graph_function(graph, name)
        return fn.graph if fn is not None else tf_compat.function_from_library(graph, name)

    return resolve


def _data(tf):
    rng = np.random.default_rng(0)
    return (tf.constant(rng.random((16, 4), dtype=np.float32)),
            tf.constant(rng.random((16, 1), dtype=np.float32)))


def _convert(tf, cf, model, records=()):
    info = describe(tf, cf, collect_variables(model, model.optimizer), list(records),
                    model.optimizer)
    conv = Converter(fold=True, device="/device:CPU:0",
                     resolve_function=_resolver(cf.graph))
    return conv.convert(cf.graph, info.spec).graph


def _bodies(g):
    for _, a in g.nodes(data=True):
        for child in a.get("children", ()):
            yield child["graph"]
            yield from _bodies(child["graph"])


def _train_body(g):
    """The one nested body that holds backward ops."""
    found = [b for b in _bodies(g) if any(a["phase"] == "backward" for _, a in b.nodes(data=True))]
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="module")
def nested():
    """A user tf.function calling Keras' one_step_on_data: its graph converted, the nested body,
    the FunctionDef of one_step_on_data, and one_step_on_data converted directly."""
    tf = import_tf()
    model, train = _model()
    one = _keras_function(train, "one_step_on_data")
    data = _data(tf)

    @tf.function
    def outer(batch):
        return one(batch)

    with TapeRecorder(tf) as rec:  # as the tracer traces a step
        cf = outer.get_concrete_function(data)
    g = _convert(tf, cf, model)
    fdef = [f for f in cf.graph.as_graph_def().library.function
            if "one_step_on_data" in f.signature.name]
    direct_cf = one.get_concrete_function(data)
    assert any(r.graph is direct_cf.graph for r in rec.records)  # the same traced step
    direct = _convert(tf, direct_cf, model, rec.records)
    return model, g, _train_body(g), fdef[0], direct


def test_call_op_stays_forward_and_the_body_gets_all_phases(nested):
    _, g, body, _, _ = nested
    calls = [a for _, a in g.nodes(data=True) if a["op"] == "StatefulPartitionedCall"]
    assert len(calls) == 1 and calls[0]["phase"] == "forward"
    assert {a["phase"] for _, a in body.nodes(data=True)} == {"forward", "backward", "update"}


def test_backward_nodes_are_the_gradient_scope_ops(nested):
    _, _, body, fdef, _ = nested
    grad_scoped = {nd.name for nd in fdef.node_def if nd.name.startswith("gradient_tape/")}
    backward = {n for n, a in body.nodes(data=True) if a["phase"] == "backward"}
    assert len(grad_scoped) > 20
    assert grad_scoped <= backward
    assert backward - grad_scoped <= {"ones"}  # the tape's seed, outside the gradient scope


def test_one_update_per_trainable_variable(nested):
    model, _, body, _, _ = nested
    params = {n: a for n, a in body.nodes(data=True) if a["kind"] == "parameter"}
    trainable = {f"param:{v.path}" for v in model.trainable_variables}
    assert trainable <= set(params)
    updates = [a for _, a in body.nodes(data=True)
               if a["kind"] == "update" and a.get("param") in trainable]
    assert len(updates) == len(model.trainable_variables)
    assert {a["key"] for a in updates} == {f"update:{v.path}" for v in model.trainable_variables}
    assert all(a["phase"] == "update" and a["op"].startswith(UPDATE_TYPES) for a in updates)
    optimizer_writes = [a for _, a in body.nodes(data=True)
                        if a["op"].startswith(UPDATE_TYPES)
                        and a["name"].startswith(f"{model.optimizer.name}/")]
    assert optimizer_writes and all(a["phase"] == "update" for a in optimizer_writes)


def test_backward_nodes_link_to_forward_ops_where_names_allow(nested):
    _, _, body, _, _ = nested
    forward = {n for n, a in body.nodes(data=True) if a["phase"] == "forward"}
    linked = 0
    for n, a in body.nodes(data=True):
        if a["phase"] != "backward" or not n.startswith("gradient_tape/") or \
                a["kind"] in SOURCE_KINDS:  # constants and inputs are never linked
            continue
        parts = [p.removesuffix("_grad") for p in n.split("/")[1:]]
        mirrored = [f for f in ("/".join(parts[:k]) for k in range(len(parts), 0, -1))
                    if f in forward]
        if mirrored:
            assert a.get("forward") == mirrored[0], n
            assert n in body.nodes[mirrored[0]]["backward"]
            linked += 1
    assert linked >= 8
    for n, a in body.nodes(data=True):
        if a.get("forward"):
            assert body.nodes[a["forward"]]["phase"] == "forward", n


def test_nested_body_is_classified_as_the_step_at_top_level(nested):
    _, _, body, _, direct = nested
    assert set(body) == set(direct)
    for n in direct:
        assert body.nodes[n]["phase"] == direct.nodes[n]["phase"], n
        assert body.nodes[n].get("forward") == direct.nodes[n].get("forward"), n
    losses = [n for n, a in body.nodes(data=True) if a["kind"] == "loss"]
    assert losses == [n for n, a in direct.nodes(data=True) if a["kind"] == "loss"]


def test_train_step_inside_keras_steps_per_execution_loop():
    tf = import_tf()
    model, train = _model(steps_per_execution=2)
    multi = _keras_function(train, "multi_step_on_iterator")
    it = iter(tf.data.Dataset.from_tensors(_data(tf)).repeat())
    g = _convert(tf, multi.get_concrete_function(it), model)
    assert any(a["op"] == "While" for _, a in g.nodes(data=True))
    body = _train_body(g)  # While body -> If branch -> one_step_on_data
    trainable = {f"param:{v.path}" for v in model.trainable_variables}
    updates = [a for _, a in body.nodes(data=True)
               if a["kind"] == "update" and a.get("param") in trainable]
    assert len(updates) == len(model.trainable_variables)
    loop = [b for b in _bodies(g) if any(a["op"] == "If" for _, a in b.nodes(data=True))]
    assert loop and all(a["phase"] == "forward" for b in loop for _, a in b.nodes(data=True))


def test_traced_script_with_a_nested_keras_step(tmp_path):
    script = tmp_path / "nested_keras_tf.py"
    script.write_text('''
import numpy as np
import keras
import tensorflow as tf
FRAMEWORK = "tensorflow"
def setup():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.make_train_function()
    train = model.train_function
    cells = dict(zip(train.__code__.co_freevars, train.__closure__))
    step = cells["one_step_on_data"].cell_contents.__wrapped__  # Keras' tf.function
    data = (tf.ones([8, 4]), tf.zeros([8, 1]))
    @tf.function
    def train(batch):
        return step(batch)["loss"]
    return {"step": lambda: train(data), "function": train, "args": (data,), "model": model}
''')
    s = trace_script(script, 2)
    g = s.steps[1]
    validate(g)
    body = _train_body(g)
    kinds = [a["kind"] for _, a in body.nodes(data=True) if a["phase"] == "update"]
    assert kinds.count("update") >= 4
    assert g.graph["loss"] is not None
