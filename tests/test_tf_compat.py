"""Every private TensorFlow / Keras API graphstage uses (tracers/tf_compat.py), smoke-tested on
the installed versions with real TensorFlow and Keras."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest

from graphstage.tracers import tf_compat
from graphstage.tracers.tf_env import import_tf

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def tf():
    return import_tf()


@pytest.fixture(scope="module")
def nested(tf):
    """A tf.function calling another: (outer concrete function, the inner call's body name)."""
    w = tf.Variable(2.0, name="w")

    @tf.function
    def inner(x):
        return x * w

    @tf.function
    def outer(x):
        return inner(x) + 1.0

    cf = outer.get_concrete_function(tf.TensorSpec([], tf.float32))
    calls = [op for op in cf.graph.get_operations()
             if op.type in ("PartitionedCall", "StatefulPartitionedCall")]
    assert len(calls) == 1
    name = calls[0].get_attr("f").name
    return cf, name.decode() if isinstance(name, bytes) else name


def test_installed_versions_are_checked(tf):
    import keras  # noqa: F401 - check_version reads the loaded Keras' version too

    assert tf_compat.check_version()


def test_unchecked_version_logs_a_warning(tf, monkeypatch, caplog):
    monkeypatch.setattr(tf_compat, "CHECKED", ("1.0",))
    with caplog.at_level(logging.WARNING, logger="graphstage.tracers.tf_compat"):
        assert not tf_compat.check_version()
    assert f"TensorFlow {tf.__version__}" in caplog.text


def test_graph_function_is_the_called_body(nested):
    cf, name = nested
    fn = tf_compat.graph_function(cf.graph, name)
    assert any(op.type == "Mul" for op in fn.graph.get_operations())
    assert tf_compat.graph_function(cf.graph, "no_such_function") is None


def test_function_from_library_rebuilds_the_body(nested):
    cf, name = nested
    fg = tf_compat.function_from_library(cf.graph, name)
    assert [op.type for op in fg.get_operations()].count("Mul") == 1
    assert tf_compat.function_from_library(cf.graph, "no_such_function") is None


def test_flat_caller_runs_the_function(tf, nested):
    cf, _ = nested
    call = tf_compat.flat_caller(cf)
    assert float(call([tf.constant(3.0)])) == 7.0


def test_function_from_graph_runs_the_graph_as_is(tf, nested):
    cf, _ = nested
    fn = tf_compat.function_from_graph(f"{cf.graph.name}_compat_test", cf.graph)
    out = fn.call_flat(tf.constant(5.0), *cf.captured_inputs)
    assert float(out[0]) == 11.0


def test_profiler_session_and_xspace(tf, nested):
    cf, _ = nested
    assert not tf_compat.profiler_running()
    logdir = tempfile.mkdtemp(prefix="graphstage-compat-")
    tf.profiler.experimental.start(logdir)
    try:
        assert tf_compat.profiler_running()
        cf(tf.constant(1.0))
    finally:
        tf.profiler.experimental.stop()
    assert not tf_compat.profiler_running()
    space = tf_compat.xspace_class()()
    files = list(Path(logdir).rglob("*.xplane.pb"))
    assert files
    space.ParseFromString(files[0].read_bytes())
    assert any(p.name.startswith("/host:") for p in space.planes)


def test_keras_name_scopes(tf):
    import keras

    cls = tf_compat.keras_name_scope_class()
    assert cls is not None
    seen = []

    @tf.function
    def f(x):
        with keras.name_scope("outer"):
            with keras.name_scope("inner") as scope:
                seen.append((tf_compat.keras_scope_pushed(scope),
                             [s.name for s in tf_compat.keras_scope_stack()]))
                return x + 1.0

    f(tf.constant(1.0))
    assert isinstance(keras.name_scope("x"), cls)
    assert seen == [(True, ["outer", "inner"])]
    assert tf_compat.keras_scope_stack() == []


def test_keras_scope_path_and_optimizer_class(tf):
    import keras

    assert issubclass(type(keras.optimizers.SGD()), tf_compat.keras_optimizer_class())
    seen = []
    with keras.name_scope("model"), keras.name_scope("dense"), keras.name_scope("inner"):
        seen.append(tf_compat.keras_scope_path())
    assert seen == ["dense/inner"]
    assert tf_compat.keras_scope_path() == ""


def test_function_call_binding_and_packing(tf):
    @tf.function
    def f(x, scale=2.0, *, shift):
        return {"y": x * scale + shift}

    assert isinstance(f, tf_compat.function_class())
    assert callable(tf_compat.function_class().__call__)
    x = tf.constant([1.0, 2.0])
    cf = f.get_concrete_function(x, shift=tf.constant(1.0))
    flat = tf_compat.flat_call_inputs(f, cf, (x,), {"shift": tf.constant(1.0)})
    assert [t.shape.as_list() for t in flat] == [[2], []]
    out = tf_compat.pack_outputs(cf, [tf.constant([3.0, 5.0])])
    assert list(out) == ["y"] and out["y"].numpy().tolist() == [3.0, 5.0]


def test_tape_may_record(tf):
    assert not tf_compat.tape_may_record()
    with tf.GradientTape():
        assert tf_compat.tape_may_record()
    assert not tf_compat.tape_may_record()


def test_op_callbacks_see_eager_ops(tf):
    seen = []
    before = tf_compat.op_callback_count()

    def cb(op_type, inputs, attrs, outputs, op_name=None, graph=None):
        seen.append(op_type.decode() if isinstance(op_type, bytes) else op_type)

    tf_compat.add_op_callback(cb)
    try:
        assert tf_compat.op_callback_count() == before + 1
        tf.add(tf.constant(1.0), tf.constant(2.0))
    finally:
        tf_compat.remove_op_callback(cb)
    assert "AddV2" in seen
    assert tf_compat.op_callback_count() == before


def test_replace_function_call_and_undo(tf):
    @tf.function
    def f(x):
        return x + 1.0

    seen = []

    def make(orig):
        def call(fn, *args, **kwds):
            seen.append(fn.python_function.__name__)
            return orig(fn, *args, **kwds)
        return call

    undo = tf_compat.replace_function_call(make)
    try:
        assert float(f(tf.constant(1.0))) == 2.0
    finally:
        undo()
    f(tf.constant(2.0))
    assert seen == ["f"]


def test_replace_apply_gradients_and_undo(tf):
    import keras

    seen = []
    undo = tf_compat.replace_apply_gradients(
        lambda orig: lambda opt, gv, *a, **k: (seen.append(type(opt).__name__), orig(opt, gv))[1])
    v = tf.Variable(1.0)
    opt = keras.optimizers.SGD(0.5)
    try:
        opt.apply_gradients([(tf.constant(1.0), v)])
    finally:
        undo()
    opt.apply_gradients([(tf.constant(1.0), v)])
    assert seen == ["SGD"] and float(v.numpy()) == 0.0
