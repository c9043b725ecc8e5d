"""The networkx internals graphstage uses (tracers/nx_compat.py), on the installed networkx."""

from __future__ import annotations

import networkx as nx

from graphstage.tracers import nx_compat


def test_installed_networkx_is_checked():
    assert nx_compat.check_version()


def test_node_dicts_replace_attributes_of_a_frozen_graph():
    g = nx.DiGraph()
    g.add_edge("a", "b")
    g.nodes["a"]["x"] = 1
    shared = g.nodes["a"]
    nx.freeze(g)
    nx_compat.node_dicts(g)["a"] = {**shared, "x": 2}
    assert g.nodes["a"]["x"] == 2 and shared["x"] == 1


def test_share_structure_shares_adjacency_and_freezes():
    t = nx.DiGraph()
    t.add_edge("a", "b", role="data")
    nodes = {n: dict(a) for n, a in t.nodes(data=True)}
    nodes["b"]["value"] = 3
    g = nx_compat.share_structure(t, nodes)
    assert nx.is_frozen(g) and list(g.edges(data=True)) == [("a", "b", {"role": "data"})]
    assert g.nodes["b"]["value"] == 3 and list(g.predecessors("b")) == ["a"]
    assert g.edges["a", "b"] is t.edges["a", "b"]  # the edge dicts are shared, not copied
