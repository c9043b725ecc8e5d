"""Measured op durations for TensorFlow step graphs, from the runtime profiler trace that
tracers/tf_order.py reads (each kernel's start and duration), attributed to the step graph's
nodes by op name.

Profiling a run costs more than the run on small steps (dynamicnet_tf: about 20 ms of
profiler start, export and parsing around a 1.5-2 ms step), so by default only the first three
runs of each concrete function are profiled (the first also gives the runtime order); each keeps
per op the shortest time measured so far, and later steps reuse the result (`timing_source`).
``timing="every"`` profiles every step; ``"off"`` keeps only the order.
See docs/tensorflow.md.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import networkx as nx

from graphstage.tracers.nx_compat import node_dicts
from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.script import ScriptError
from graphstage.tracers.tf_order import Span

# how durations are measured: "once" (the first ONCE_RUNS runs of each concrete function, per
# op the shortest), "every" (every step profiled), "off" (no durations; the order is still read)
TIMING_MODES = ("once", "every", "off")
DEFAULT_TIMING = "once"

# graph op types Grappler's remapper fuses into one kernel (_FusedMatMul, _FusedConv2D,
# _FusedBatchNormEx, oneDNN's _MklNative... variants), named after the pattern's last op
_FUSABLE = frozenset({"MatMul", "BatchMatMulV2", "Conv2D", "Conv3D", "DepthwiseConv2dNative",
                      "BiasAdd", "BiasAddV1", "Add", "AddV2", "FusedBatchNorm",
                      "FusedBatchNormV3", "Relu", "Relu6", "Elu", "LeakyRelu", "Tanh",
                      "Sigmoid", "Mul"})

ONCE_RUNS = 3  # "once": the first runs of a concrete function that are profiled
# template -> (best timing so far, the nodes measured, runs merged) until ONCE_RUNS runs
_EARLY_RUNS: weakref.WeakKeyDictionary[
    nx.DiGraph, tuple[dict[str, tuple[float, float]], set[str], int]] = \
    weakref.WeakKeyDictionary()

FIRST_RUN = "first_run"
BEST_OF_RUNS = "best_of_runs"
EVERY_STEP = "every_step"


def timing_mode(extras: Mapping[str, Any], where: str = "setup()") -> str:
    """The timing mode a script asks for (`"timing"` in the dict setup() returns)."""
    mode = extras.get("timing", DEFAULT_TIMING)
    if mode not in TIMING_MODES:
        raise ScriptError(f"{where}: 'timing' must be one of {', '.join(TIMING_MODES)}, "
                          f"not {mode!r}")
    return str(mode)


def wants_profile(attrs: Mapping[str, Any], mode: str) -> bool:
    """Whether this run of a concrete function (its template's graph attrs) is profiled: the
    first run always (for the order); the first ONCE_RUNS for "once" (while they measure
    something); every run for "every"."""
    if "order_source" not in attrs or mode == "every":
        return True
    return mode == "once" and 0 < attrs.get("timed_runs", 0) < ONCE_RUNS


def node_timing(spans: Mapping[str, Span], node_of: Mapping[str, str], g: nx.DiGraph,
                t0: int | None = None) -> tuple[dict[str, tuple[float, float]], set[str]]:
    """Node id -> (start_us, duration_us) for every executed op node of g, and the nodes the
    profiler measured. The TF ops folded into one node add up; a fused kernel's
    time is shared evenly by the graph ops it replaced; ops the runtime did not run (Grappler
    removed or constant-folded them) cost 0 and start when their last input was ready. Start
    counts from t0 (default: the first of the spans)."""
    if not spans:
        return {}, set()
    t0 = min(s.start_ps for s in spans.values()) if t0 is None else t0
    nodes = g.nodes
    merged: dict[str, tuple[int, int]] = {}
    fused: list[str] = []
    for name, span in spans.items():
        nid = node_of.get(name, name)
        if nid not in nodes or nodes[nid]["order"] < 0:
            continue
        first, total = merged.get(nid, (span.start_ps, 0))
        merged[nid] = (min(first, span.start_ps), total + span.duration_ps)
        if nid == name and "Fused" in span.kernel and "Fused" not in nodes[nid]["op"]:
            fused.append(nid)
    for nid in fused:
        _share_fused(g, nid, merged)
    measured = set(merged)
    out = {n: ((s - t0) / 1e6, d / 1e6) for n, (s, d) in merged.items()}
    for nid in nx.topological_sort(g):
        a = nodes[nid]
        if nid not in out and a["order"] >= 0 and a["kind"] not in SOURCE_KINDS:
            ready = [out[p][0] + out[p][1] for p in g.predecessors(nid) if p in out]
            out[nid] = (max(ready, default=0.0), 0.0)
    return {n: (round(s, 3), round(d, 3)) for n, (s, d) in out.items()}, measured


def _share_fused(g: nx.DiGraph, nid: str, merged: dict[str, tuple[int, int]]) -> None:
    """Share the fused kernel recorded under nid with the unrecorded ops it replaced (the
    fusable ops upstream whose every consumer is in the group)."""
    nodes = g.nodes
    group, todo = [nid], [nid]
    while todo:
        for p in g.predecessors(todo.pop()):
            a = nodes[p]
            if p in merged or p in group or a["order"] < 0 or a["op"] not in _FUSABLE or \
                    not all(s in group for s in g.successors(p)):
                continue
            group.append(p)
            todo.append(p)
    start, total = merged[nid]
    for n in group:
        merged[n] = (start, total // len(group))


def set_timing(g: nx.DiGraph, timing: Mapping[str, tuple[float, float]]) -> None:
    """Give g's nodes `start_us`/`duration_us` (and take them from nodes not timed now),
    replacing each changed node's attribute dict instead of changing it: step graphs made
    earlier from this template share the old dicts and keep their values."""
    nodes = node_dicts(g)  # replace dicts, never mutate shared ones
    for n, (start, duration) in timing.items():
        nodes[n] = {**nodes[n], "start_us": start, "duration_us": duration}
    for n, a in list(nodes.items()):
        if "duration_us" in a and n not in timing:
            nodes[n] = {k: v for k, v in a.items() if k not in ("start_us", "duration_us")}


_BRANCHES = {"body": "body", "cond": "cond", "then": "then_branch", "else": "else_branch"}


def child_timing(g: nx.DiGraph, raw: Mapping[str, Span], timing: Mapping[str, Any],
                 t0: int) -> None:
    """Give the nodes of g's nested graphs (`children`) their kernels' times where the trace
    names them: a lowered While/If runs its body's op X as `<caller>/body/_1/X` (`cond`,
    `then`, `else` alike; iterations add up), an inlined call as `<caller>/X`. Each timed
    caller's children become copies (child graphs are shared between callers and steps)."""
    callers = {n for n, a in g.nodes(data=True) if a.get("children") and n in timing}
    if not callers:
        return
    found: dict[str, dict[tuple[str, str], Span]] = {}
    for name, span in raw.items():
        caller, inner = _split_owner(name, callers)
        if caller is None:
            continue
        parts = inner.split("/", 2)
        attr = ""
        if len(parts) == 3 and parts[0] in _BRANCHES and parts[1][1:].isdigit():
            attr, inner = _BRANCHES[parts[0]], parts[2]
        got = found.setdefault(caller, {})
        old = got.get((attr, inner))
        got[(attr, inner)] = span if old is None else Span(
            min(old.start_ps, span.start_ps), old.duration_ps + span.duration_ps,
            old.kernel or span.kernel)
    nodes = node_dicts(g)  # replace dicts, never mutate shared ones
    for caller, got in found.items():
        children = [_timed_child(c, got, t0) for c in nodes[caller]["children"]]
        nodes[caller] = {**nodes[caller], "children": children}


def _split_owner(name: str, callers: set[str]) -> tuple[str | None, str]:
    """(the caller that "/"-encloses name, the rest), or (None, name)."""
    head = name
    while "/" in head:
        head = head.rpartition("/")[0]
        if head in callers:
            return head, name[len(head) + 1:]
    return None, name


def _timed_child(child: dict, got: Mapping[tuple[str, str], Span], t0: int) -> dict:
    """A copy of one `children` entry whose graph's nodes carry their times (as node_timing
    gives them: fused kernels shared, ops that ran no kernel 0)."""
    attr = child["name"].partition(":")[0]
    spans = {inner: v for (a, inner), v in got.items() if a in (attr, "")}
    timing, measured = node_timing(spans, {}, child["graph"], t0)
    if not measured:
        return child
    graph = child["graph"].copy()
    for n, (start, duration) in timing.items():
        graph.nodes[n].update(start_us=start, duration_us=duration)
    return {**child, "graph": graph}


def record_timing(g: nx.DiGraph, spans: Mapping[str, Span], node_of: Mapping[str, str],
                  mode: str, raw: Mapping[str, Span] | None = None) -> int:
    """Put one profiled run's durations on the template g (every later step graph reuses
    them until the next profiled run) and mark their source; returns how many nodes the
    profiler measured. In "once" mode each of the first ONCE_RUNS runs keeps, per node, the
    shortest time measured so far (the first run's include warm-up, any may include waiting
    for a busy CPU). Given the run's unmapped spans (`raw`), nested graphs get this run's
    times (child_timing)."""
    if mode == "off":
        return 0
    timing, measured = node_timing(spans, node_of, g)
    if not measured:
        return 0
    runs, source = 1, EVERY_STEP if mode == "every" else FIRST_RUN
    earlier = _EARLY_RUNS.pop(g, None)
    if mode == "once" and earlier is not None:
        best, was_measured, runs = earlier
        runs += 1
        source = BEST_OF_RUNS
        for n in was_measured:
            if n not in measured or best[n][1] < timing[n][1]:
                timing[n] = best[n]
        measured |= was_measured
    if mode == "once" and runs < ONCE_RUNS:
        _EARLY_RUNS[g] = (timing, measured, runs)
    set_timing(g, timing)
    if raw:
        child_timing(g, raw, timing, min(s.start_ps for s in spans.values()))
    g.graph.update(timing_source=source, timed_ops=len(measured), timed_runs=runs)
    return len(measured)
