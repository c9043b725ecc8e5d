"""Trace files: JSON round trip, structure de-duplication, bad files."""

import json

import pytest

from graphstage.tracers import TraceFileError, TraceSession, trace_script
from graphstage.tracers.contract import structure_signature


@pytest.fixture(scope="module")
def dyn(examples_dir):
    return trace_script(examples_dir / "dynamicnet_torch.py", steps=12, seed=2)


def test_round_trip_keeps_every_attribute(dyn, tmp_path):
    back = TraceSession.load(dyn.save(tmp_path / "t.json"))
    assert len(back) == len(dyn) and back.metrics == dyn.metrics
    for a, b in zip(dyn.steps, back.steps, strict=True):
        assert dict(a.graph) == dict(b.graph)
        assert dict(a.nodes(data=True)) == dict(b.nodes(data=True))
        assert {(u, v): d for u, v, d in a.edges(data=True)} == \
               {(u, v): d for u, v, d in b.edges(data=True)}


def test_repeated_structures_stored_once(dyn, tmp_path):
    data = json.loads(dyn.save(tmp_path / "t.json").read_text())
    full = sum(1 for s in data["steps"] if "graph" in s)
    distinct = len({structure_signature(g) for g in dyn.steps})
    assert full == distinct < len(dyn)
    assert all("base" in s for s in data["steps"] if "graph" not in s)


def test_not_a_trace(tmp_path):
    p = tmp_path / "other.json"
    p.write_text('{"nodes": []}')
    with pytest.raises(TraceFileError, match="not a graphstage trace"):
        TraceSession.load(p)
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(TraceFileError, match="not a graphstage trace|not valid JSON"):
        TraceSession.load(p)


def test_truncated_trace(dyn, tmp_path):
    p = dyn.save(tmp_path / "t.json")
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(TraceFileError, match="truncated or corrupt"):
        TraceSession.load(p)


def test_malformed_step_names_the_step(dyn):
    data = dyn.to_dict()
    data["steps"][2] = {"metrics": {}, "graph": {"nodes": [{"id": "x"}], "edges": []}}
    with pytest.raises(TraceFileError, match=r"^t\.json: step 2 is malformed: graph: missing "
                       r"attribute 'schema'"):
        TraceSession.from_dict(data, "t.json")
    del data["steps"][1]["metrics"]
    with pytest.raises(TraceFileError, match=r"^t\.json: step 1 is malformed: 'metrics'"):
        TraceSession.from_dict(data, "t.json")
