"""The TensorFlow tracer on the bundled _tf examples: the numbers the issue's must-show list reads
from trace files, static-graph reuse, control-flow children, op counts, errors and options."""

import subprocess
import sys
from pathlib import Path

import pytest

from graphstage.tracers import ScriptError, TraceSession, trace_script, validate
from graphstage.tracers.script import load_script

pytestmark = pytest.mark.tf

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "assets" / "examples"
TF_EXAMPLES = ["mul_tf", "mul_tf1", "linreg_tf", "dynamicnet_tf", "dynamicnet_while_tf",
               "mnist_mlp_tf", "cnn_tf", "resnet18_tf"]


def _roundtrip(session: TraceSession, tmp_path: Path) -> TraceSession:
    return TraceSession.load(session.save(tmp_path / "trace.json"))


def _by_name(g, name: str) -> dict:
    hits = [a for _, a in g.nodes(data=True) if a.get("name") == name]
    assert hits, f"no node named {name!r}"
    return hits[0]


@pytest.fixture(scope="module")
def dynamicnet_tf():
    return trace_script(EX / "dynamicnet_tf.py", 20)


@pytest.mark.parametrize("example", ["mul_tf", "mul_tf1"])
def test_mul_numbers_from_trace_file(example, tmp_path):
    s = _roundtrip(trace_script(EX / f"{example}.py", 2), tmp_path)
    g = s.steps[-1]
    assert g.graph["loss"] == pytest.approx(300.0)
    c = [a for _, a in g.nodes(data=True) if a["kind"] == "loss"][0]
    assert c["value"]["values"] == [300.0]
    a, b = _by_name(g, "a"), _by_name(g, "b")
    assert a["value"]["values"] == [15.0] and b["value"]["values"] == [20.0]
    assert a["grad"]["values"] == [20.0] and b["grad"]["values"] == [15.0]
    assert g.graph["capture"] == ("tf1 graph" if example == "mul_tf1" else "tf.function")


def test_linreg_converges_from_trace_file(tmp_path):
    s = _roundtrip(trace_script(EX / "linreg_tf.py", 200), tmp_path)
    g = s.steps[-1]
    w, b = _by_name(g, "w"), _by_name(g, "b")
    assert abs(w["value"]["values"][0] - 0.1) < 0.02
    assert abs(b["value"]["values"][0] - 0.3) < 0.05
    assert w["kind"] == "parameter" and w["grad"]["values"]
    phases = {a["phase"] for _, a in g.nodes(data=True)}
    assert phases == {"forward", "backward", "update"}
    updates = [a for _, a in g.nodes(data=True) if a["kind"] == "update"]
    assert {u["param"] for u in updates} == {"param:w", "param:b"}


def test_dynamicnet_graph_is_static(dynamicnet_tf):
    s = dynamicnet_tf
    assert len(s) == 20
    for i in range(1, 20):
        assert s.diff(i).empty
        g = s.steps[i]
        assert g.graph["same_as_previous"] and g.graph["reused_concrete_function"]
        assert not g.graph["retraced"]
        assert g.graph["concrete_function"] == s.steps[0].graph["concrete_function"]
    assert s.steps[0].graph["traced_new"] and s.steps[0].graph["retrace_reason"] == "first call"
    assert len(set(s.losses())) > 1  # values change, structure does not


def test_dynamicnet_torch_changes_over_the_same_steps():
    pytest.importorskip("torch")
    s = trace_script(EX / "dynamicnet_torch.py", 20)
    assert any(not s.diff(i).empty for i in range(1, 20))


def test_dynamicnet_while_body_holds_hidden_layer():
    g = trace_script(EX / "dynamicnet_while_tf.py", 1).steps[0]
    whiles = [a for _, a in g.nodes(data=True) if a["op"] in ("While", "StatelessWhile")]
    assert any(a["phase"] == "forward" for a in whiles)
    assert any(a["phase"] == "backward" for a in whiles)  # the tape's gradient loop
    fwd = [a for a in whiles if a["phase"] == "forward"][0]
    body = [c["graph"] for c in fwd["children"] if c["name"].startswith("body")][0]
    ops = {a["op"] for _, a in body.nodes(data=True)}
    assert {"MatMul", "Relu"} <= ops
    assert any("hidden_layer" in a["scope"] and a["op"] == "MatMul"
               for _, a in body.nodes(data=True))
    assert any(a["key"] == "param:hidden_layer/kernel" for _, a in body.nodes(data=True))


def _independent_count(cf) -> int:
    """Ops minus what folding removes: resource placeholders of variables and their reads."""
    ops = cf.graph.get_operations()
    handles = {op.name for op in ops if op.type == "Placeholder"
               and op.outputs[0].dtype.name == "resource"}
    reads = {op.name for op in ops if op.type == "ReadVariableOp"
             and op.inputs[0].op.name in handles}
    return len(ops) - len(handles) - len(reads)


@pytest.mark.parametrize("example", [e for e in TF_EXAMPLES if e != "mul_tf1"])
def test_validate_and_op_count(example):
    from graphstage.tracers.tf_tracer import FunctionTracer

    tracer = FunctionTracer(load_script(EX / f"{example}.py"))
    g, loss, _ = tracer.step(0)
    validate(g)
    assert loss is not None
    ops = [n for n, a in g.nodes(data=True) if a["op"] != "Variable"]
    assert len(ops) == _independent_count(tracer.last.cf) == g.graph["op_count"]
    assert g.graph["graph_ops"] == len(tracer.last.cf.graph.get_operations())


def test_tf1_op_count_and_unexecuted_ops():
    ms = load_script(EX / "mul_tf1.py")
    s = trace_script(ms, 1)
    g = s.steps[0]
    assert g.number_of_nodes() == len(ms.extras["graph"].get_operations())
    sources = {"input", "parameter", "constant"}  # never numbered; every other op ran
    assert all((a["order"] == -1) == (a["kind"] in sources) for _, a in g.nodes(data=True))


def test_fold_false_keeps_raw_view():
    from graphstage.tracers.tf_tracer import trace

    ms = load_script(EX / "linreg_tf.py")
    raw = trace(ms, 1, fold=False).steps[0]
    ops = {a["op"] for _, a in raw.nodes(data=True)}
    assert "ReadVariableOp" in ops
    folded = trace_script(EX / "linreg_tf.py", 1).steps[0]
    assert "ReadVariableOp" not in {a["op"] for _, a in folded.nodes(data=True)}
    assert set(folded.graph["folded_ops"]) == {"param:w", "param:b"}


def test_backward_ops_link_to_forward_ops(dynamicnet_tf):
    g = dynamicnet_tf.steps[0]
    linked = [(n, a["forward"]) for n, a in g.nodes(data=True) if a.get("forward")]
    assert linked
    for n, f in linked:
        assert g.nodes[n]["phase"] == "backward"
        assert n in g.nodes[f].get("backward", [])
    grad_accs = [a for _, a in g.nodes(data=True) if a["kind"] == "grad_acc"]
    assert len(grad_accs) == 6 and all(a["param"] in g for a in grad_accs)
    # TF names ReluGrad outside the Relu's scope: it is linked through the output it reads
    relu_grads = [n for n, a in g.nodes(data=True) if a["op"] == "ReluGrad"]
    relus = [n for n, a in g.nodes(data=True) if a["op"] == "Relu"]
    assert len(relu_grads) == len(relus) > 0
    assert {g.nodes[n]["forward"] for n in relu_grads} == set(relus)
    assert all(g.nodes[n]["forward"] in g.predecessors(n) for n in relu_grads)


def test_order_is_the_runtime_order(dynamicnet_tf):
    """Ops are numbered in the order TensorFlow's runtime started them (profiler, first run of
    the concrete function); the numbering is a valid execution order of the graph."""
    for g in (dynamicnet_tf.steps[0], dynamicnet_tf.steps[-1]):
        assert g.graph["order_source"] == "runtime" and g.graph["order_recorded_ops"] > 100
        by_phase: dict[str, list[int]] = {}
        for _, a in g.nodes(data=True):
            if a["order"] >= 0:
                by_phase.setdefault(a["phase"], []).append(a["order"])
        for orders in by_phase.values():
            assert sorted(orders) == list(range(len(orders)))
        for u, v in g.edges:
            a, b = g.nodes[u], g.nodes[v]
            if a["phase"] == b["phase"] and a["order"] >= 0 and b["order"] >= 0:
                assert a["order"] < b["order"], (u, v)


@pytest.mark.parametrize("example", ["dynamicnet_tf", "mnist_mlp_tf"])
def test_layer_ops_share_their_variables_scope(example):
    """A layer's ops are grouped with its variables (TF's _1, _3 scope suffixes mapped back to
    the layer), one call scope per call, and gradient ops take their forward op's scope."""
    s = trace_script(EX / f"{example}.py", 1)
    g = s.steps[0]
    for p, pa in g.nodes(data=True):
        if pa["kind"] != "parameter":
            continue
        for n in g.successors(p):
            a = g.nodes[n]
            if a["phase"] == "forward" and a["kind"] == "op":
                assert a["scope"].split("#")[0] == pa["scope"], (a["name"], a["scope"])
    linked = [a for _, a in g.nodes(data=True)
              if a.get("forward") and a["name"].startswith("gradient_tape/")]
    assert linked
    for a in linked:
        assert a["scope"] == g.nodes[a["forward"]]["scope"]
    # one call scope per call: as many distinct hidden-layer scopes as TF's graph has hidden
    # MatMuls (counted from the raw TF op names)
    matmuls = {a["name"].rsplit("/", 1)[0] for _, a in g.nodes(data=True)
               if a["op"] == "MatMul" and a["phase"] == "forward"}
    scopes = {a["scope"] for _, a in g.nodes(data=True)
              if a["op"] == "MatMul" and a["phase"] == "forward"}
    assert len(scopes) == len(matmuls)


def test_keras_fit_step_traces_train_function():
    s = trace_script(EX / "mnist_mlp_tf.py", 2)
    g = s.steps[1]
    assert "one_step_on_data" in g.graph["concrete_function"]
    params = [a for _, a in g.nodes(data=True) if a["kind"] == "parameter"]
    assert len(params) == 4 and all(a.get("grad") for a in params)
    assert any(a["kind"] == "update" for _, a in g.nodes(data=True))


def test_retrace_detected_with_reason(tmp_path):
    script = tmp_path / "retrace_tf.py"
    script.write_text('''
import tensorflow as tf
FRAMEWORK = "tensorflow"
def setup():
    w = tf.Variable(tf.ones([3, 1]), name="w")
    @tf.function
    def train(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.matmul(x, w))
        w.assign_sub(0.1 * tape.gradient(loss, w))
        return loss
    batches = [tf.ones([4, 3]), tf.ones([4, 3]), tf.ones([8, 3])]
    return {"step": lambda: train(batches[0]), "function": train,
            "args": lambda i: (batches[i],)}
''')
    s = trace_script(script, 3)
    g0, g1, g2 = s.steps
    assert g1.graph["reused_concrete_function"] and not g1.graph["retraced"]
    assert g2.graph["retraced"] and not g2.graph["reused_concrete_function"]
    assert "new input signature" in g2.graph["retrace_reason"]
    assert "(8, 3)" in g2.graph["retrace_reason"]


def test_eager_step_is_recorded_as_it_runs(tmp_path):
    script = tmp_path / "eager_tf.py"
    script.write_text('''
import tensorflow as tf
FRAMEWORK = "tensorflow"
def setup():
    w = tf.Variable(2.0, name="w")
    seen = []
    def step():
        with tf.GradientTape() as tape:
            loss = w * w
        w.assign_sub(0.1 * tape.gradient(loss, w))
        seen.append(float(loss))  # eager Python runs every step
        return loss
    return {"step": step, "params": {"w": w}, "seen": seen}
''')
    ms = load_script(script)
    s = trace_script(ms, 2)
    g = s.steps[1]
    validate(g)
    assert g.graph["capture"] == "tf eager" and g.graph["loss"] == pytest.approx(2.56)
    w = _by_name(g, "w")
    assert w["kind"] == "parameter" and w["value"]["values"] == [pytest.approx(1.6)]
    assert w["grad"]["values"] == [pytest.approx(3.2)]
    kinds = {a["kind"] for _, a in g.nodes(data=True)}
    assert {"loss", "grad_acc", "update"} <= kinds
    assert {a["phase"] for _, a in g.nodes(data=True)} == {"forward", "backward", "update"}
    update = [a for _, a in g.nodes(data=True) if a["kind"] == "update"]
    assert [u["key"] for u in update] == ["update:w"] and update[0]["param"] == "param:w"
    assert ms.extras["seen"] == [pytest.approx(4.0), pytest.approx(2.56)]
    assert s.diff(1).empty


@pytest.mark.parametrize("body, message", [
    ("@tf.function\n    def step():\n        return tf.reshape(w, [7])\n", "tracing step()"),
    ("@tf.function\n    def step():\n        with tf.GradientTape(watch_accessed_variables=False)"
     " as t:\n            loss = w * 2.0\n        t.gradient(loss, [w])\n        return loss\n",
     "no gradient"),
    ("return {'step': tf.keras.Sequential([tf.keras.layers.Dense(1)])}\n    def step():\n"
     "        pass\n", "Keras"),
])
def test_bad_input_is_one_clear_line(tmp_path, body, message):
    script = tmp_path / "bad_tf.py"
    script.write_text("import tensorflow as tf\nFRAMEWORK = 'tensorflow'\ndef setup():\n"
                      f"    w = tf.Variable([1.0, 2.0], name='w')\n    {body}"
                      "    return step\n")
    with pytest.raises(ScriptError) as err:
        trace_script(script, 1)
    assert message in err.value.message and "\n" not in err.value.message


def test_bad_input_cli_exit_code(tmp_path):
    script = tmp_path / "nograd_tf.py"
    script.write_text("import tensorflow as tf\nFRAMEWORK = 'tensorflow'\ndef setup():\n"
                      "    w = tf.Variable(1.0)\n    return tf.function(lambda: w * 2.0)\n")
    res = subprocess.run([sys.executable, "-m", "graphstage", "trace", str(script), "-o",
                          str(tmp_path / "t.json")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0
    assert "no gradient" in res.stderr + res.stdout


def test_importing_tracers_stays_framework_free():
    code = ("import sys, graphstage.tracers, graphstage.tracers.tf_tracer, "
            "graphstage.tracers.tf_convert; "
            "print('tensorflow' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_resnet18_one_step():
    s = trace_script(EX / "resnet18_tf.py", 1)
    g = s.steps[0]
    assert g.number_of_nodes() > 1000
    convs = [a for _, a in g.nodes(data=True) if a["op"] == "Conv2D"]
    assert len(convs) == 20
    params = [a for _, a in g.nodes(data=True) if a["kind"] == "parameter"]
    assert params and all(a.get("grad") for a in params)


def test_a_swallowed_fallback_is_logged(caplog):
    """A value the tracer cannot read (a slot whose op is no plain Const) falls back to "no
    value" with a debug line on graphstage.tracers (shown by graphstage --verbose)."""
    import logging

    from graphstage.tracers.tf_capture import _const_value
    from graphstage.tracers.tf_env import import_tf

    tf = import_tf()
    cf = tf.function(lambda x: x * 2.0).get_concrete_function(tf.TensorSpec([], tf.float32))
    mul = next(op.name for op in cf.graph.get_operations() if op.type == "Mul")
    with caplog.at_level(logging.DEBUG, logger="graphstage.tracers"):
        assert _const_value(tf, cf.graph, mul) is None
    assert any(r.name == "graphstage.tracers.tf_tracer" and mul in r.getMessage()
               for r in caplog.records)
