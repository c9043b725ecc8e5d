"""Playback that scales: a >1,000-op step plays in at most 20 s at 1x, '.' still reaches every
op, and a collapsed group lights for the span of its ops with its progress inside its box."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("torch")

from graphstage.tracers.run import trace_script  # noqa: E402
from graphstage.tracers.script import example_path  # noqa: E402
from graphstage.viz.gui.animation import AnimationClock, Player, Schedule  # noqa: E402
from graphstage.viz.gui.canvas import GraphCanvas, layout_spec  # noqa: E402
from graphstage.viz.gui.theme import make_theme  # noqa: E402
from graphstage.viz.gui.viewgraph import build_display, readable_collapse  # noqa: E402
from graphstage.viz.layout import compute_layout  # noqa: E402

PHASES = ("forward", "backward", "update")

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def gpt():
    """The 12-layer GPT example's step graph (1,405 nodes, 1,242 executed ops)."""
    return trace_script(example_path("gpt_torch"), 1, seed=0).steps[0]


def executed(graph) -> list[str]:
    """The graph's ops in execution order: phase, then the tracer's order."""
    ops = [(PHASES.index(a["phase"]), a["order"], n) for n, a in graph.nodes(data=True)
           if a["order"] >= 0]
    return [n for *_, n in sorted(ops)]


@pytest.fixture(scope="module")
def folded(gpt, qapp):
    """gpt_torch opened as the app opens it (collapsed groups), on a canvas with a player."""
    display = build_display(gpt, readable_collapse(gpt))
    canvas = GraphCanvas(AnimationClock(), make_theme("light"))
    canvas.resize(1200, 800)
    canvas.show_graph(display, compute_layout(layout_spec(display)))
    player = Player(canvas.clock, canvas)
    player.set_schedule(Schedule(gpt, display.rep))
    yield display, canvas, player
    player.pause()
    canvas.deleteLater()


def test_big_step_plays_in_at_most_20_seconds(gpt):
    ops = executed(gpt)
    assert len(ops) > 1000
    expanded = build_display(gpt)
    for rep in (expanded.rep, build_display(gpt, readable_collapse(gpt)).rep):
        s = Schedule(gpt, rep)
        assert s.total <= 20.0
        assert [e.node for e in s.events] == ops      # still one event per op, in order
        assert s.phase_start["forward"] < s.phase_start["backward"] < s.phase_start["update"]


def test_small_steps_keep_a_readable_beat(qapp):
    g = trace_script(example_path("mul_torch"), 1, seed=0).steps[0]
    s = Schedule(g, build_display(g).rep)
    assert s.beat == pytest.approx(0.3)   # a handful of ops: each lights long enough to follow
    assert s.total == pytest.approx(0.3 * (len(executed(g)) + 2))


def test_step_op_reaches_every_op(gpt, folded):
    display, canvas, player = folded
    s = player.schedule
    player.seek(0.0)
    visited = [s.events[0].node] if s.fired(0.0) else []   # the first op is lit at t = 0
    while player.t < s.total:
        player.step_op()
        n = s.fired(player.t)
        if n and (not visited or visited[-1] != s.events[n - 1].node):
            visited.append(s.events[n - 1].node)
    assert visited == executed(gpt)
    assert not player.playing


def test_group_lights_for_its_span_with_progress(gpt, folded):
    display, canvas, player = folded
    s = player.schedule
    order = executed(gpt)
    # the collapsed group with the most ops
    key = max((k for k, dn in display.nodes.items() if dn.is_group),
              key=lambda k: sum(1 for m in display.nodes[k].members if m in set(order)))
    members = {m for m in display.nodes[key].members if gpt.nodes[m]["order"] >= 0}
    pos = [i for i, n in enumerate(order) if n in members]
    first, last = pos[0], pos[-1]
    item = canvas.nodes[key]
    player.seek(0.0)
    assert item.progress is None and item.state in ("idle", "done")
    middle = (first + last) // 2
    player.seek((middle + 0.5) * s.beat)
    assert item.state == "active"
    ran = sum(1 for i in pos if i <= middle)
    assert item.progress == (ran, len(pos)) and 0 < ran < len(pos)
    canvas.viewport().grab()              # the box draws its fill bar / "ran/ops" text
    player.seek((last + 1.5) * s.beat)
    assert item.state == "done" and item.progress is None
    player.seek(max(0.0, (first - 0.5) * s.beat))   # scrubbing back replays from the start
    assert item.state != "active" and item.progress is None


def test_time_true_playback_shares_the_step_by_measured_duration():
    """Time-true: each op lights for its measured share (duration_us) of the same total; the
    slowest op gets the longest slot and '.' still reaches every op."""
    from graphstage.tracers.run import trace_script
    from graphstage.tracers.script import example_path
    from graphstage.viz.gui.schedule import Schedule
    from graphstage.viz.gui.viewgraph import build_display

    graph = trace_script(example_path("resnet18_torch"), 1, seed=0).graph(0)
    display = build_display(graph)
    even, true = Schedule(graph, display.rep), Schedule(graph, display.rep, time_true=True)
    assert true.time_true and len(true.events) == len(even.events)
    assert abs(true.total - even.total) < 1e-6
    slow = max(true.events, key=lambda e: graph.nodes[e.node]["duration_us"])
    fast = min(true.events, key=lambda e: graph.nodes[e.node]["duration_us"])
    ratio = (slow.end - slow.start) / (fast.end - fast.start)
    assert ratio > 10 and slow.end - slow.start == max(e.end - e.start for e in true.events)
    t, visited = 0.0, 0
    while t < true.total:
        t = true.next_event_time(t)
        visited += 1
    assert visited >= len(true.events)
