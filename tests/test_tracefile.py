"""Trace files: exact round trips of real traces, strict JSON, and one clean line for bad files."""

from __future__ import annotations

import json
import math
import re

import networkx as nx
import pytest

from graphstage.tracers import TraceFileError, TraceSession, trace_script, validate
from graphstage.tracers.tracefile import MAX_DEPTH
from graphstage.viz.cli import main as cli_main


def strict_loads(text: str):
    """json.loads that rejects NaN/Infinity tokens, like strict JSON readers do."""
    def reject(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=reject)


def same_float(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))


def same(a, b) -> bool:
    """Deep equality where NaN equals NaN and nested DiGraphs compare as graphs."""
    if isinstance(a, nx.DiGraph) or isinstance(b, nx.DiGraph):
        return isinstance(a, nx.DiGraph) and isinstance(b, nx.DiGraph) and same_graph(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):         # a str subclass (TorchVersion) is text
        return a == b
    return type(a) is type(b) and same_float(a, b)


def same_graph(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    """Equal graph attributes, nodes (in order) with attributes, edges (in order) with attrs."""
    return (same(dict(a.graph), dict(b.graph))
            and list(a.nodes) == list(b.nodes)
            and all(same(a.nodes[n], b.nodes[n]) for n in a)
            and list(a.edges) == list(b.edges)
            and all(same(d, b.edges[u, v]) for u, v, d in a.edges(data=True)))


def assert_round_trip(session: TraceSession, path) -> TraceSession:
    back = TraceSession.load(session.save(path))
    strict_loads(path.read_text())                       # the file itself is strict JSON
    assert (back.framework, back.model) == (session.framework, session.model)
    assert same(back.meta, session.meta) and same(back.metrics, session.metrics)
    assert len(back) == len(session)
    for i, (a, b) in enumerate(zip(session.steps, back.steps, strict=True)):
        assert same_graph(a, b), f"step {i} differs after save/load"
        validate(b)
    return back


@pytest.fixture(scope="module")
def dyn(examples_dir):
    return trace_script(examples_dir / "dynamicnet_torch.py", steps=8, seed=3)


@pytest.fixture(scope="module")
def tf_while(examples_dir):
    pytest.importorskip("tensorflow")
    return trace_script(examples_dir / "dynamicnet_while_tf.py", steps=3, seed=0)


def copy_session(s: TraceSession) -> TraceSession:
    return TraceSession(s.framework, s.model, [g.copy() for g in s.steps],
                        [dict(m) for m in s.metrics], dict(s.meta))


def test_torch_round_trip_is_exact(dyn, tmp_path):
    data = dyn.to_dict()
    assert any("base" in st for st in data["steps"])     # deltas are exercised
    assert_round_trip(dyn, tmp_path / "t.json")


@pytest.mark.tf
def test_tf_round_trip_is_exact_with_child_graphs(tf_while, tmp_path):
    assert any("children" in a for g in tf_while for _, a in g.nodes(data=True))
    assert any("base" in st for st in tf_while.to_dict()["steps"])
    assert_round_trip(tf_while, tmp_path / "t.json")


def test_removed_attributes_stay_removed(dyn, tmp_path):
    s = copy_session(dyn)
    data = s.to_dict()
    i = next(k for k, st in enumerate(data["steps"]) if "base" in st)
    base = s.steps[data["steps"][i]["base"]]
    g = s.steps[i]
    param = next(n for n, a in g.nodes(data=True) if a["kind"] == "parameter" and "grad" in a)
    op = next(n for n, a in g.nodes(data=True) if "shape" in a and a["kind"] == "op")
    del g.nodes[param]["grad"], g.nodes[op]["shape"]
    g.nodes[op]["dtype"] = None                # a value set to None is kept too
    del g.graph["losses"]
    assert "grad" in base.nodes[param] and "losses" in base.graph
    entry = s.to_dict()["steps"][i]
    assert "base" in entry and set(entry["removed_attrs"]) == {param, op}
    back = assert_round_trip(s, tmp_path / "t.json")
    assert "grad" not in back.steps[i].nodes[param]
    assert "shape" not in back.steps[i].nodes[op] and back.steps[i].nodes[op]["dtype"] is None
    assert "losses" not in back.steps[i].graph and "grad" in back.steps[0].nodes[param]


def test_non_finite_numbers_are_strict_json_and_restored(dyn, tmp_path):
    s = copy_session(dyn)
    last = s.steps[-1]
    param = next(n for n, a in last.nodes(data=True) if a["kind"] == "parameter")
    last.nodes[param]["grad"] = {**last.nodes[param]["grad"], "min": -math.inf,
                                 "max": math.inf, "mean": math.nan}
    last.graph["loss"] = math.nan
    s.steps[0].graph["losses"] = [math.inf, 1.0]
    s.metrics[-1]["loss"] = math.nan
    s.meta["lr"] = -math.inf
    path = tmp_path / "t.json"
    assert_round_trip(s, path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert '{"$float":"nan"}' in text and '{"$float":"-inf"}' in text
    back = TraceSession.load(path)
    assert math.isnan(back.metrics[-1]["loss"]) and back.meta["lr"] == -math.inf
    assert back.steps[-1].nodes[param]["grad"]["max"] == math.inf


def test_version_1_files_with_nan_tokens_still_load(dyn, tmp_path):
    data = json.loads(json.dumps(dyn.to_dict()))         # the v1 layout: no version, NaN tokens
    del data["version"]
    step = data["steps"][1]
    step["metrics"]["loss"] = math.nan
    (step["graph_attrs"] if "base" in step else step["graph"]["graph"])["loss"] = math.inf
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data, allow_nan=True))
    assert "NaN" in path.read_text() and "Infinity" in path.read_text()
    back = TraceSession.load(path)
    assert math.isnan(back.metrics[1]["loss"]) and back.steps[1].graph["loss"] == math.inf
    assert same_graph(back.steps[2], dyn.steps[2])


# ---- every way a file can be wrong: one line naming the file --------------------------------

def _nested(depth: int) -> str:
    return '{"format":"graphstage-trace","meta":' + "[" * depth + "]" * depth + "}"


def _doc(dyn, change) -> bytes:
    data = json.loads(json.dumps(dyn.to_dict()))
    change(data)
    return json.dumps(data).encode()


def _set(path, value):
    def change(data):
        *head, last = path
        for k in head:
            data = data[k]
        data[last] = value
    return change


def _delete(path):
    def change(data):
        *head, last = path
        for k in head:
            data = data[k]
        del data[last]
    return change


def _base_step(data) -> dict:
    return next(st for st in data["steps"] if "base" in st)


BAD_FILES = {
    "not utf-8": (lambda dyn: b'{"format": "graphstage-trace\xff\xfe"}', "not UTF-8"),
    "binary": (lambda dyn: b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8|not valid JSON"),
    "empty": (lambda dyn: b"", "not valid JSON"),
    "truncated": (lambda dyn: json.dumps(dyn.to_dict()).encode()[:5000], "truncated"),
    "a list": (lambda dyn: b"[1, 2]", "not a graphstage trace"),
    "nested 5000 deep": (lambda dyn: _nested(5000).encode(), "nested too deeply"),
    "nested 500 deep": (lambda dyn: _nested(500).encode(), f"more than {MAX_DEPTH} levels"),
    "huge integer": (lambda dyn: _doc(dyn, _set(["steps", 0, "metrics", "nodes"], 10**30)),
                     "does not fit in 64 bits"),
    "5000-digit integer": (lambda dyn: b'{"format":"graphstage-trace","x":' + b"9" * 5000 + b"}",
                           "too many digits"),
    "huge float": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "nodes", 0, "order"], 1e300)),
                   "order"),
    "bad $float": (lambda dyn: _doc(dyn, _set(["steps", 0, "metrics", "loss"], {"$float": "x"})),
                   "not one of 'nan'"),
    "lone surrogate": (lambda dyn: _doc(dyn, _set(["model"], "\ud800")), "surrogate"),
    "newer version": (lambda dyn: _doc(dyn, _set(["version"], 99)), "newer graphstage"),
    "other schema": (lambda dyn: _doc(dyn, _set(["schema"], 7)), "schema 7"),
    "schema true": (lambda dyn: _doc(dyn, _set(["schema"], True)), "schema True"),
    "model a number": (lambda dyn: _doc(dyn, _set(["model"], 3)), "'model' must be a JSON str"),
    "no steps": (lambda dyn: _doc(dyn, _delete(["steps"])), "'steps' must be a JSON array"),
    "meta a list": (lambda dyn: _doc(dyn, _set(["meta"], [])), "'meta' must be a JSON object"),
    "step a string": (lambda dyn: _doc(dyn, _set(["steps", 1], "x")), "step 1 is malformed"),
    "no metrics": (lambda dyn: _doc(dyn, _delete(["steps", 0, "metrics"])), "'metrics' must"),
    "loss a string": (lambda dyn: _doc(dyn, _set(["steps", 0, "metrics", "loss"], "low")),
                      "'loss'"),
    "nodes an object": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "nodes"], {})),
                        "graph.nodes must be a JSON array"),
    "node id a number": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "nodes", 0, "id"], 7)),
                         "'id' must be a string"),
    "duplicate node id": (lambda dyn: _doc(dyn, lambda d: d["steps"][0]["graph"]["nodes"].append(
        d["steps"][0]["graph"]["nodes"][0])), "appears twice"),
    "edge to unknown node": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "edges", 0,
                                                         "target"], "nowhere")),
                             "target 'nowhere' is not a node"),
    "undirected": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "directed"], False)),
                   "must be directed"),
    "kind unknown": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "nodes", 0, "kind"], "?")),
                     "kind"),
    "role a list": (lambda dyn: _doc(dyn, _set(["steps", 0, "graph", "edges", 0, "role"], [])),
                    "role|breaks the contract"),
    "forward base": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(base=10**6)),
                     "is not an earlier step"),
    "self base": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(
        base=d["steps"].index(_base_step(d)))), "is not an earlier step"),
    "negative base": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(base=-1)),
                      "is not an earlier step"),
    "base a bool": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(base=False)),
                    "is not an earlier step"),
    "base on step 0": (lambda dyn: _doc(dyn, lambda d: d["steps"][0].update(
        base=0, graph_attrs={}, node_attrs={}) or d["steps"][0].pop("graph")), "first step"),
    "graph and base": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(graph={})), "both"),
    "delta of unknown node": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(
        node_attrs={"ghost": {}})), "does not have"),
    "removal of a missing attr": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(
        removed_attrs={"in:inputs": ["nope"]})), "has no attribute 'nope'"),
    "removal of a required attr": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(
        removed_attrs={"in:inputs": ["kind"]})), "kind"),
    "bad node order": (lambda dyn: _doc(dyn, lambda d: _base_step(d).update(node_order=["a"])),
                       "node_order"),
    "cycle": (lambda dyn: _doc(dyn, lambda d: d["steps"][0]["graph"]["edges"].append(
        {"source": "f1", "target": "f0", "role": "data", "phase": "forward"})),
     "acyclic|cycle|not forward in execution order"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_one_line(case, dyn, tmp_path, capsys):
    make, expected = BAD_FILES[case]
    path = tmp_path / "bad.json"
    path.write_bytes(make(dyn))
    with pytest.raises(TraceFileError) as info:
        TraceSession.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and len(message.splitlines()) == 1
    assert re.search(expected, message), message
    assert cli_main(["export", str(path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == f"graphstage: error: {message}\n"


def test_missing_file_and_directory(tmp_path, capsys):
    for path, expected in ((tmp_path / "none.json", "no such file"), (tmp_path, "directory")):
        with pytest.raises(TraceFileError, match=f"^{re.escape(str(path))}: .*{expected}"):
            TraceSession.load(path)
    d = tmp_path / "dir.json"
    d.mkdir()
    assert cli_main(["export", str(d), "-o", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith(f"graphstage: error: {d}: is a directory")


def test_message_is_one_line_even_for_multiline_ids(dyn):
    data = json.loads(json.dumps(dyn.to_dict()))
    data["steps"][0]["graph"]["nodes"][0]["kind"] = "a\nb\u2028c" * 200
    with pytest.raises(TraceFileError) as info:
        TraceSession.from_dict(data, "x.json")
    assert len(str(info.value).splitlines()) == 1 and len(str(info.value)) <= 400


@pytest.mark.gui
def test_app_open_path_reports_bad_file(dyn, tmp_path, qapp):
    from graphstage.viz.gui.workers import TraceWorker

    path = tmp_path / "deep.json"
    path.write_text(_nested(5000))
    worker = TraceWorker(str(path), 1)
    failed, loaded = [], []
    worker.failed.connect(lambda message, details: failed.append(message))
    worker.loaded.connect(lambda *a: loaded.append(a))
    worker.run()                                           # in this thread: the signals are direct
    assert not loaded and len(failed) == 1
    assert failed[0] == f"TraceFileError: {path}: JSON nested too deeply (a trace file has at " \
                        f"most {MAX_DEPTH} levels)"
