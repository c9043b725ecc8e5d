"""The contract: one declaration (tracers/schema.py) drives validate() and docs/contract.md; each
rule rejects a hand-built graph that breaks it; every bundled example's trace passes; the step
diff."""

import re
from pathlib import Path

import networkx as nx
import pytest

from graphstage.tracers import schema, schema_doc, trace_script
from graphstage.tracers.contract import (
    ContractError,
    _edge_ok,
    _node_ok,
    diff_steps,
    make_graph,
    structure_signature,
    validate,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "contract.md"
TORCH_EXAMPLES = ["mul_torch", "linreg_torch", "dynamicnet_torch", "mnist_mlp_torch",
                  "cnn_torch", "resnet18_torch", "gpt_torch"]
TF_EXAMPLES = ["mul_tf", "mul_tf1", "linreg_tf", "dynamicnet_while_tf"]


# ---- a hand-built step graph: c = x * w, loss = sum(c), its backward pass and SGD update ----

def _node(kind: str, phase: str, order: int, key: str, **extra) -> dict:
    return {"label": key, "op": kind, "kind": kind, "phase": phase, "scope": "",
            "order": order, "key": key, **extra}


def tiny() -> nx.DiGraph:
    """A valid step graph, built by hand, that each rule test breaks in one place."""
    g = make_graph(framework="torch", model="tiny", step=0, capture="autograd", loss=3.0)
    g.add_node("x", **_node("input", "forward", -1, "input:x"))
    g.add_node("w", **_node("parameter", "forward", -1, "param:w", no_grad=False))
    g.add_node("mul", **_node("op", "forward", 0, "mul#0", backward=["dmul"],
                              requires_grad=True, inplace=False))
    g.add_node("sum", **_node("loss", "forward", 1, "sum#0", backward=["dsum"],
                              value={"min": 3.0, "max": 3.0, "values": [3.0]}))
    g.add_node("dsum", **_node("op", "backward", 0, "sum#0/SumBackward0#0", forward="sum",
                               saved=[]))
    g.add_node("dmul", **_node("op", "backward", 1, "mul#0/MulBackward0#0", forward="mul",
                               saved=[{"name": "self", "shape": [1], "dtype": "float32",
                                       "from": "x"}]))
    g.add_node("acc", **_node("grad_acc", "backward", 2, "grad:w", param="w"))
    g.add_node("upd", **_node("update", "update", 0, "update:w", param="w", ops=["add_"]))
    for u, v, phase, role in [("x", "mul", "forward", "data"), ("w", "mul", "forward", "data"),
                              ("mul", "sum", "forward", "data"),
                              ("sum", "dsum", "backward", "gradient"),
                              ("dsum", "dmul", "backward", "gradient"),
                              ("x", "dmul", "backward", "saved"),
                              ("dmul", "acc", "backward", "gradient"),
                              ("acc", "upd", "update", "update")]:
        g.add_edge(u, v, phase=phase, role=role)
    return g


def rejects(g: nx.DiGraph, pattern: str) -> str:
    """validate(g) raises one line that matches pattern; returns it."""
    with pytest.raises(ContractError) as err:
        validate(g)
    msg = str(err.value)
    assert "\n" not in msg and re.search(pattern, msg), msg
    return msg


def test_hand_built_graph_is_valid():
    g = tiny()
    assert validate(g) is g


def test_rule_graph_type():
    rejects(nx.MultiDiGraph(tiny()), r"expected a networkx.DiGraph, got MultiDiGraph")
    g = tiny()
    g.add_node(7, **_node("op", "forward", -1, "seven"))
    rejects(g, r"node 7: node ids must be str")


@pytest.mark.parametrize("spec", schema.NODE_ATTRS, ids=lambda s: s.name)
def test_rule_attributes_every_declared_node_attribute_is_enforced(spec):
    g = tiny()
    g.nodes["mul"][spec.name] = 1.5j  # a complex number fits no node attribute
    rejects(g, rf"node 'mul': attribute '{spec.name}' must be {re.escape(spec.type_text)}")
    if spec.required:
        del g.nodes["mul"][spec.name]
        rejects(g, rf"node 'mul': missing attribute '{spec.name}'")


def test_rule_attributes_values_types_and_minimums():
    cases = [("kind", "banana", r"node 'mul': kind 'banana' not in \('input'"),
             ("phase", "sideways", r"node 'mul': phase 'sideways' not in"),
             ("order", -2, r"node 'mul': attribute 'order' must be >= -1"),
             ("order", True, r"node 'mul': attribute 'order' must be int, got bool"),
             ("requires_grad", "yes", r"node 'mul': attribute 'requires_grad' must be bool")]
    for attr, value, pattern in cases:
        g = tiny()
        g.nodes["mul"][attr] = value
        rejects(g, pattern)
    g = tiny()
    g.edges["x", "mul"]["role"] = "gossip"
    rejects(g, r"edge 'x' -> 'mul': role 'gossip' not in")
    g = tiny()
    del g.edges["x", "mul"]["phase"]
    rejects(g, r"edge 'x' -> 'mul': missing attribute 'phase'")
    g = tiny()
    g.graph["framework"] = "jax"
    rejects(g, r"^graph: framework 'jax' not in \('torch', 'tensorflow'\)")
    g = tiny()
    g.graph["retraced"] = "no"
    rejects(g, r"^graph: attribute 'retraced' must be bool")


def test_rule_unique_keys():
    g = tiny()
    g.nodes["sum"]["key"] = "mul#0"
    rejects(g, r"node '(sum|mul)': key 'mul#0' also used by node '(mul|sum)'")


def test_rule_key_prefix():
    for node, key, prefix in [("w", "w", "param:"), ("x", "x", "input:"),
                              ("acc", "acc:w", "grad:"), ("upd", "sgd:w", "update:")]:
        g = tiny()
        g.nodes[node]["key"] = key
        rejects(g, rf"node '{node}': key '{key}' of a \w+ must start with '{prefix}'")


def test_rule_references():
    for forward, pattern in [("gone", r"node 'dmul': 'forward' points to missing node 'gone'"),
                             ("dmul", r"node 'dmul': 'forward' points to itself"),
                             ("sum", r"node 'dmul': 'forward' is 'sum' but that node's "
                                     r"'backward' does not list it")]:
        g = tiny()
        g.nodes["mul"]["backward"] = []
        g.nodes["dmul"]["forward"] = forward
        rejects(g, pattern)
    breaks = [
              ("mul", "backward", ["gone"], r"node 'mul': 'backward' points to missing node"),
              ("mul", "backward", ["dmul", "dsum"], r"node 'mul': 'backward' lists 'dsum' whose "
                                                    r"'forward' is not this node"),
              ("acc", "param", "gone", r"node 'acc': 'param' points to missing node 'gone'"),
              ("upd", "param", "mul", r"node 'upd': 'param' points to 'mul' of kind op, "
                                      r"not a source"),
              ("dmul", "saved", [{"name": "self", "from": "gone"}],
               r"node 'dmul': saved\[0\].from points to missing node 'gone'"),
              ("dmul", "saved", ["x"], r"node 'dmul': saved\[0\] must be a dict")]
    for node, attr, value, pattern in breaks:
        g = tiny()
        g.nodes[node][attr] = value
        rejects(g, pattern)


def test_rule_source_order():
    for node, kind in [("x", "input"), ("w", "parameter")]:
        g = tiny()
        g.nodes[node]["order"] = 0
        rejects(g, rf"node '{node}': order 0 on a source \({kind}\) must be -1")
    g = tiny()
    g.add_node("two", **_node("constant", "forward", 3, "two"))
    rejects(g, r"node 'two': order 3 on a source \(constant\) must be -1")


def test_rule_order():
    g = tiny()
    g.nodes["acc"]["order"] = 0
    rejects(g, r"node '(acc|dsum)': backward order 0 also used by node '(dsum|acc)'")
    g = tiny()
    g.nodes["mul"]["order"], g.nodes["sum"]["order"] = 1, 0
    rejects(g, r"edge 'mul' -> 'sum': goes from forward order 1 to 0, not forward in "
               r"execution order")
    g = tiny()  # the same graph with a node that did not run is fine
    g.nodes["dsum"]["order"] = -1
    assert validate(g) is g


def test_rule_no_edge_into_parameter():
    g = tiny()
    g.add_edge("x", "w", phase="forward", role="data")  # acyclic: only this rule applies
    rejects(g, r"edge 'x' -> 'w': no edge may end at a parameter")


def test_rule_acyclic():
    g = tiny()
    g.add_node("a", **_node("op", "forward", -1, "a#0"))  # not executed: no order to compare
    g.add_node("b", **_node("op", "forward", -1, "b#0"))
    g.add_edges_from([("x", "a"), ("a", "b"), ("b", "a")], phase="forward", role="data")
    rejects(g, r"^graph: not acyclic, cycle through")
    g = tiny()  # across phases: an update feeding the forward pass closes a loop
    g.add_edge("upd", "mul", phase="forward", role="control")
    rejects(g, r"^graph: not acyclic")


def test_rule_summaries():
    g = tiny()
    g.nodes["sum"]["value"] = {"min": "low"}
    rejects(g, r"node 'sum': value.min must be a number")
    g.nodes["sum"]["value"] = {"values": list(range(schema.FULL_VALUE_LIMIT + 1))}
    rejects(g, rf"node 'sum': value.values must be a list of at most {schema.FULL_VALUE_LIMIT}")


def test_rule_children():
    body = tiny()
    body.graph.clear()  # nested graphs carry no graph attributes
    g = tiny()
    g.nodes["mul"]["children"] = [{"name": "body", "graph": body}]
    assert validate(g) is g
    body.nodes["w"]["order"] = 4
    rejects(g, r"^graph/mul:body node 'w': order 4 on a source")
    g.nodes["mul"]["children"] = [body]
    rejects(g, r"node 'mul': children\[0\] must be")


def test_every_rule_has_a_test():
    tests = [name for name in globals() if name.startswith("test_rule_")]
    for rule in schema.RULES:
        assert any(t.startswith(f"test_rule_{rule.name.replace('-', '_')}") for t in tests), rule


# ---- the docs come from the schema --------------------------------------------------------

def test_docs_tables_match_the_schema():
    doc = DOC.read_text(encoding="utf-8")
    assert schema_doc.sections_in(doc) == list(schema_doc.SECTIONS)
    assert schema_doc.fill(doc) == doc, ("docs/contract.md is stale: run python -m "
                                         "graphstage.tracers.schema_doc --write docs/contract.md")
    assert schema_doc.main(["--check", str(DOC)]) == 0
    for spec in schema.NODE_ATTRS + schema.GRAPH_ATTRS + schema.EDGE_ATTRS:
        assert f"| `{spec.name}` | {'yes' if spec.required else 'no'} | {spec.type_text} |" in doc


def test_docs_check_catches_a_difference(tmp_path, capsys):
    doc = DOC.read_text(encoding="utf-8")
    stale = tmp_path / "contract.md"
    stale.write_text(doc.replace("| `requires_grad` |", "| `requires_gradient` |"),
                     encoding="utf-8")
    assert schema_doc.main(["--check", str(stale)]) == 1
    assert "differ from tracers/schema.py" in capsys.readouterr().err
    assert schema_doc.main(["--write", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == doc


# ---- real traces --------------------------------------------------------------------------

def _graphs(g: nx.DiGraph):
    yield g
    for _, a in g.nodes(data=True):
        for child in a.get("children", ()):
            yield from _graphs(child["graph"])


def _check_trace(session) -> None:
    """validate passes, every attribute the tracer wrote is declared, and the keys of
    gradients and updates name the same thing as the key of their parameter."""
    declared = {s.name for s in schema.NODE_ATTRS}
    for step in session.steps:
        assert validate(step) is step
        assert set(step.graph) >= {s.name for s in schema.GRAPH_ATTRS if s.required}
        assert set(step.graph) <= {s.name for s in schema.GRAPH_ATTRS}
        for g in _graphs(step):
            for _, a in g.nodes(data=True):
                assert set(a) <= declared, set(a) - declared
                if a["kind"] in ("input", "parameter", "constant"):
                    assert a["order"] == -1
                if a["kind"] in ("grad_acc", "update") and a.get("param") and a["order"] >= 0:
                    own = a["key"].split(":", 1)[1].split("#")[0]
                    assert own == g.nodes[a["param"]]["key"].split(":", 1)[1]


@pytest.fixture(scope="module")
def dyn(examples_dir):
    return trace_script(examples_dir / "dynamicnet_torch.py", steps=8, seed=3)


@pytest.mark.parametrize("example", TORCH_EXAMPLES)
def test_torch_examples_follow_the_contract(example, examples_dir):
    _check_trace(trace_script(examples_dir / f"{example}.py", steps=2, seed=0))


@pytest.mark.tf
@pytest.mark.parametrize("example", TF_EXAMPLES)
def test_tf_examples_follow_the_contract(example, examples_dir):
    session = trace_script(examples_dir / f"{example}.py", steps=2, seed=0)
    _check_trace(session)
    nodes = [a for g in _graphs(session.steps[-1]) for _, a in g.nodes(data=True)]
    kinds = {a["kind"] for a in nodes}
    assert {"input", "grad_acc"} <= kinds or {"parameter", "grad_acc"} <= kinds
    for a in nodes:  # the TF side uses the same key prefixes as the PyTorch tracer
        prefix = schema.KEY_PREFIX.get(a["kind"])
        assert prefix is None or a["key"].startswith(prefix)


@pytest.mark.tf
def test_tf1_graph_with_variables_follows_the_contract(models_dir):
    session = trace_script(models_dir / "tf1_variables_tf.py", steps=2)
    _check_trace(session)
    by_key = {a["key"]: a for _, a in session.steps[-1].nodes(data=True)}
    assert by_key["param:w"]["shape"] == [3, 1] and by_key["param:b"]["shape"] == [1]
    assert by_key["buffer:w/Adam"]["kind"] == by_key["buffer:beta1_power"]["kind"] == "constant"
    # the step's updates take the variables' keys; the initializers (not run) their op names
    assert by_key["update:w"]["op"] == "ApplyAdam" and by_key["update:w"]["order"] >= 0
    assert by_key["update:b"]["op"] == "ResourceApplyAdam" and by_key["update:b"]["order"] >= 0
    assert by_key["update:w/Assign"]["order"] == -1


@pytest.mark.tf
def test_tf_variables_are_sources_and_state_is_a_buffer(examples_dir):
    g = trace_script(examples_dir / "dynamicnet_tf.py", steps=1, seed=0).steps[0]
    variables = [a for _, a in g.nodes(data=True) if a["op"] == "Variable"]
    trainable = [a for a in variables if a["kind"] == "parameter"]
    state = [a for a in variables if a["kind"] == "constant"]
    assert trainable and state  # the layers' weights; the optimizer's slots and counters
    assert all(a["order"] == -1 for a in variables)
    assert all(a["key"] == f"param:{a['name']}" for a in trainable)
    assert all(a["key"] == f"buffer:{a['name']}" for a in state)
    updates = [a for _, a in g.nodes(data=True) if a["kind"] == "update"]
    assert {g.nodes[a["param"]]["key"].split(":", 1)[1] for a in updates} >= \
        {a["name"] for a in trainable}


def test_traced_graphs_validate(dyn):
    for g in dyn.steps:
        assert validate(g) is g
        assert nx.is_directed_acyclic_graph(g)
        # the quick check compiled from the schema accepts real nodes and edges by itself
        assert all(_node_ok(a) for _, a in g.nodes(data=True))
        assert all(_edge_ok(a) for *_, a in g.edges(data=True))


def test_validate_names_node_and_attribute(dyn):
    g = dyn.steps[0].copy()
    node = next(iter(g.nodes))
    del g.nodes[node]["phase"]
    with pytest.raises(ContractError, match=rf"node '{node}'.*'phase'"):
        validate(g)


def test_diff_by_key_matches_node_sets(dyn):
    for i in range(1, len(dyn)):
        before, after = dyn.steps[i - 1], dyn.steps[i]
        d = diff_steps(before, after)
        old = {a["key"] for _, a in before.nodes(data=True)}
        new = {a["key"] for _, a in after.nodes(data=True)}
        assert set(d.added) == new - old and set(d.removed) == old - new
        assert set(d.kept) == old & new
        assert d.empty == (structure_signature(before) == structure_signature(after))
        assert after.graph["same_as_previous"] == d.empty
