"""Every bundled example traces and exports to SVG and PNG through the CLI, as a user runs it."""

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from graphstage.tracers import TraceSession
from graphstage.tracers.script import list_examples
from graphstage.viz.dot import collapsed_size, svg_id
from tests.conftest import ROOT

SVG = "{http://www.w3.org/2000/svg}"
TORCH = [n for n in list_examples() if n.endswith("_torch")]


def graphstage(*args):
    res = subprocess.run([sys.executable, "-m", "graphstage", *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


@pytest.mark.parametrize("name", TORCH)
def test_example_exports_svg_and_png(name, tmp_path):
    trace = tmp_path / f"{name}.json"
    graphstage("trace", name, "--steps", 1, "-o", trace)
    graph = TraceSession.load(trace).steps[0]
    graphstage("export", trace, "--format", "svg", "-o", tmp_path / "svg")
    graphstage("export", trace, "--format", "png", "-o", tmp_path / "png")
    svg = tmp_path / "svg" / "step_0000.svg"
    png = (tmp_path / "png" / "step_0000.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 200 and height > 200
    groups = {g.get("id") for g in ET.parse(svg).getroot().iter(f"{SVG}g")
              if g.get("class") == "node"}
    if collapsed_size(graph, None) == graph.number_of_nodes() and len(groups) >= len(graph):
        for _, attrs in graph.nodes(data=True):
            assert svg_id(attrs["key"]) in groups, attrs["key"]
    else:  # auto-collapsed big graph: fewer boxes, but never empty
        assert 0 < len(groups) < graph.number_of_nodes()
