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


def test_collapsed_groups_show_their_total_time_and_memory():
    from graphstage.viz.gui.inspector import group_html
    from graphstage.viz.gui.summary import format_bytes, format_time, group_totals

    graph = trace_script(example_path("dynamicnet_torch"), 1).graph(0)
    display = build_display(graph, collapsed={"hidden_layer", "output_layer"})
    groups = [k for k, dn in display.nodes.items() if dn.is_group]
    notes = group_totals(magnitudes(graph, "time"), display, "time")
    assert set(notes) == {k for k in groups if any(
        "duration_us" in graph.nodes[m] for m in display.nodes[k].members)}
    for key in notes:      # the note is the members' summed measured time
        members = display.nodes[key].members
        assert notes[key] == format_time(sum(graph.nodes[m].get("duration_us", 0.0)
                                             for m in members))
    mem = group_totals(magnitudes(graph, "memory"), display, "memory")
    back = next(k for k in mem if k.startswith("group:backward"))
    saved = sum(graph.nodes[m].get("saved_bytes", 0) for m in display.nodes[back].members)
    assert saved > 0 and format_bytes(saved) in group_html(graph, display.nodes[back])
    assert group_totals(magnitudes(graph, "gradient"), display, "gradient") == {}
    assert format_time(1500.0) == "1.5 ms" and format_bytes(3 * 2**20) == "3 MiB"
