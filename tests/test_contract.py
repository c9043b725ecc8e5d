"""The contract: validate() on real traces, its error messages, and the step diff."""

import networkx as nx
import pytest

from graphstage.tracers import trace_script
from graphstage.tracers.contract import ContractError, diff_steps, structure_signature, validate


@pytest.fixture(scope="module")
def dyn(examples_dir):
    return trace_script(examples_dir / "dynamicnet_torch.py", steps=8, seed=3)


def test_traced_graphs_validate(dyn):
    for g in dyn.steps:
        assert validate(g) is g
        assert nx.is_directed_acyclic_graph(g)


def test_validate_names_node_and_attribute(dyn):
    g = dyn.steps[0].copy()
    node = next(iter(g.nodes))
    del g.nodes[node]["phase"]
    with pytest.raises(ContractError, match=rf"node '{node}'.*'phase'"):
        validate(g)


def test_validate_rejects_bad_values_and_cycles(dyn):
    g = dyn.steps[0].copy()
    n = next(n for n, a in g.nodes(data=True) if a["kind"] == "op")
    g.nodes[n]["kind"] = "banana"
    with pytest.raises(ContractError, match="kind 'banana'"):
        validate(g)
    g = dyn.steps[0].copy()
    u, v = next(iter(g.edges))
    g.add_edge(v, u, phase="forward", role="data")
    with pytest.raises(ContractError, match="not acyclic"):
        validate(g)
    g = dyn.steps[0].copy()
    a, b = list(g.nodes)[:2]
    g.nodes[b]["key"] = g.nodes[a]["key"]
    with pytest.raises(ContractError, match="key .* also used"):
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
