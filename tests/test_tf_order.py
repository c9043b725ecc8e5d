"""OrderRecorder on a real training step imported the way the tracer imports it: the recorded op
order respects the graph, recording leaves the results alone, and the profiler is always off
again afterwards."""

from types import SimpleNamespace

import numpy as np
import pytest

from graphstage.tracers.tf_env import import_tf
from graphstage.tracers.tf_order import OrderRecorder

pytestmark = pytest.mark.tf

PREFIX = "gs/"
# ops whose output is a shape: Grappler folds them, so they carry no timing dependency
SHAPE_OPS = {"Shape", "ShapeN", "Size", "Rank"}


def _imported(tf, cf):
    """cf's graph imported (name="gs") into a new concrete function, as the tracer's runner does."""
    graph = cf.graph
    gdef = graph.as_graph_def()
    inputs, captured = list(graph.inputs), list(cf.captured_inputs)
    n_args = len(inputs) - len(captured)
    out_names = [t.name for t in graph.outputs]

    def body(*flat):
        fg = tf.compat.v1.get_default_graph()
        input_map = {t.name: a for t, a in zip(inputs[:n_args], flat, strict=True)}
        for t, c in zip(inputs[n_args:], captured, strict=True):
            input_map[t.name] = fg.capture(c)
        return tf.graph_util.import_graph_def(gdef, input_map=input_map,
                                              return_elements=out_names, name="gs")

    specs = [tf.TensorSpec(t.shape, t.dtype) for t in inputs[:n_args]]
    return tf.function(body, autograph=False).get_concrete_function(*specs)


@pytest.fixture(scope="module")
def step():
    tf = import_tf()
    w1 = tf.Variable(tf.random.normal([6, 16], seed=1), name="w1")
    w2 = tf.Variable(tf.random.normal([16, 1], seed=2), name="w2")
    x = tf.random.normal([8, 6], seed=3)
    y = tf.random.normal([8, 1], seed=4)

    @tf.function
    def train(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, w1))
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
        g1, g2 = tape.gradient(loss, [w1, w2])
        w1.assign_sub(0.1 * g1)
        w2.assign_sub(0.1 * g2)
        return loss

    fn = _imported(tf, train.get_concrete_function(x, y))
    ops = {op.name[len(PREFIX):]: op for op in fn.graph.get_operations()
           if op.name.startswith(PREFIX)}
    return SimpleNamespace(tf=tf, fn=fn, ops=ops, x=x, y=y, vars=[w1, w2],
                           init=[w1.numpy(), w2.numpy()])


def _run(s):
    """One step from the initial variable values: (loss, variables after the update)."""
    for v, a in zip(s.vars, s.init, strict=True):
        v.assign(a)
    outs = s.fn(s.x, s.y)
    return [o.numpy() for o in outs], [v.numpy() for v in s.vars]


def _ancestors(ops, name):
    """Names of the ops whose data flows into ops[name] (shape-only edges left out)."""
    seen, todo = set(), [ops[name]]
    while todo:
        for t in todo.pop().inputs:
            p = t.op.name[len(PREFIX):]
            if p in ops and p not in seen and t.op.type not in SHAPE_OPS:
                seen.add(p)
                todo.append(t.op)
    return seen


def _profiler_off(tf) -> bool:
    try:
        tf.profiler.experimental.stop(save=False)
    except tf.errors.UnavailableError:
        return True
    return False


def test_order_respects_the_graph_and_keeps_results(step):
    ref_outs, ref_vars = _run(step)  # also warms the function up: the recorded call is a reuse
    with OrderRecorder(step.tf) as rec:
        outs, new_vars = _run(step)
    for a, b in zip(outs + new_vars, ref_outs + ref_vars, strict=True):
        np.testing.assert_array_equal(a, b)

    order = rec.order(prefix=PREFIX)
    assert order, "nothing recorded"
    assert len(set(order)) == len(order)
    assert set(order) <= set(step.ops)
    pos = {n: i for i, n in enumerate(order)}
    for n in order:  # an op starts only after the ops feeding it
        for t in step.ops[n].inputs:
            p = t.op.name[len(PREFIX):]
            if p in pos:
                assert pos[p] < pos[n], (p, n, order)

    grads = [n for n in order if n.startswith("gradient_tape/")]
    assert grads
    for mm in ("MatMul", "MatMul_1"):  # forward matmuls before the gradient ops they feed
        fed = [g for g in grads if mm in _ancestors(step.ops, g)]
        assert fed, (mm, order)
        assert all(pos[mm] < pos[g] for g in fed), (mm, order)
    updates = [n for n in order if step.ops[n].type == "AssignSubVariableOp"]
    assert len(updates) == 2, order
    for u in updates:  # each update after the gradient it applies
        feeding = [g for g in grads if g in _ancestors(step.ops, u)]
        assert feeding, (u, order)
        assert all(pos[g] < pos[u] for g in feeding), (u, order)


def test_names_map_runtime_names_to_graph_nodes(step):
    tf = step.tf
    w = tf.Variable(tf.ones([6, 3]))

    @tf.function
    def layer(x):
        return tf.nn.relu(tf.matmul(x, w))

    @tf.function
    def outer(x):
        return tf.reduce_sum(layer(x) * 2.0)

    cf = outer.get_concrete_function(step.x)
    fn = _imported(tf, cf)
    fn(step.x)
    with OrderRecorder(tf) as rec:
        fn(step.x)
    names = {op.name for op in cf.graph.get_operations()}
    call = next(op.name for op in cf.graph.get_operations()
                if op.type in ("StatefulPartitionedCall", "PartitionedCall"))
    raw, mapped = rec.order(prefix=PREFIX), rec.order(prefix=PREFIX, names=names)
    # Grappler inlines the call: its body's ops run as "<call>/<inner op>" (or the call itself)
    assert any(n == call or n.startswith(call + "/") for n in raw), raw
    assert mapped and set(mapped) <= names and call in mapped, mapped
    assert mapped.index(call) < mapped.index("mul") < mapped.index("Sum"), mapped


def test_profiler_is_off_after_exit_even_on_error(step):
    tf = step.tf
    with OrderRecorder(tf) as rec:
        step.fn(step.x, step.y)
    assert _profiler_off(tf)
    first = rec.order(prefix=PREFIX)
    step.fn(step.x, step.y)  # not recorded: the recorder kept what it had
    assert rec.order(prefix=PREFIX) == first

    with pytest.raises(RuntimeError, match="boom"), OrderRecorder(tf) as failed:
        step.fn(step.x, step.y)
        raise RuntimeError("boom")
    assert _profiler_off(tf)
    assert failed.order(prefix=PREFIX)  # the call had finished before the error

    with OrderRecorder(tf) as again:  # and recording still works afterwards
        step.fn(step.x, step.y)
    assert set(again.order(prefix=PREFIX) or ()) == set(first or ())


def test_someone_elses_profiler_is_left_running(step, tmp_path):
    tf = step.tf
    tf.profiler.experimental.start(str(tmp_path))
    try:
        with OrderRecorder(tf) as rec:
            step.fn(step.x, step.y)
        assert rec.order(prefix=PREFIX) is None
    finally:
        tf.profiler.experimental.stop()  # raises if the recorder had stopped this session
