"""Time and memory overlays: per-op measured time and bytes, totals on collapsed groups."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.summary import OVERLAYS, magnitudes, overlay_colors  # noqa: E402
from graphstage.viz.gui.viewgraph import build_display  # noqa: E402


def test_time_and_memory_overlays_total_collapsed_groups():
    graph = trace_script(example_path("dynamicnet_torch"), 1).graph(0)
    times = magnitudes(graph, "time")
    assert times == {n: a["duration_us"] for n, a in graph.nodes(data=True)
                     if "duration_us" in a}
    memory = magnitudes(graph, "memory")
    saved = {n: a["saved_bytes"] for n, a in graph.nodes(data=True) if "saved_bytes" in a}
    assert all(memory[n] == v for n, v in saved.items())
    scope = "hidden_layer"
    display = build_display(graph, collapsed={scope})
    groups = {k for n, k in display.rep.items() if n != k and graph.nodes[n].get("scope") == scope}
    assert groups
    for mode in ("time", "memory"):
        title, combine = OVERLAYS[mode]
        colors, lo, hi = overlay_colors(magnitudes(graph, mode), display.rep, combine)
        # memory is what forward ops return and backward nodes save; updates carry none
        expected = {g for g in groups if mode == "time" or not g.startswith("group:update")}
        assert expected <= set(colors) and 0 < lo <= hi
        for group in expected:
            members = [n for n, k in display.rep.items() if k == group]
            total = sum(magnitudes(graph, mode).get(n, 0.0) for n in members)
            assert total <= hi * (1 + 1e-9)


def test_inspector_lists_the_slowest_ops():
    from graphstage.viz.gui.inspector import slowest_html

    graph = trace_script(example_path("dynamicnet_torch"), 1).graph(0)
    timed = sorted(((a["duration_us"], a["label"]) for _, a in graph.nodes(data=True)
                    if "duration_us" in a), reverse=True)
    text = slowest_html(graph, limit=3)
    assert "Slowest ops this step" in text
    positions = [text.index(f">{label}<") for _, label in timed[:3]]
    assert positions == sorted(positions)  # slowest first
    assert slowest_html(None) == ""
