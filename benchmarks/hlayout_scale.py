"""Hierarchical vs whole-graph layout on real traces: opening view, expand all, one toggle.

Usage: .venv/bin/python benchmarks/hlayout_scale.py [TRACE.json | EXAMPLE ...] [--flat-timeout S]
           [--no-gui]
Default traces: the gpt_torch and resnet18_torch examples (one step each). A Keras model such as
MobileNetV2 is measured from a saved trace (see --help). Prints one JSON line per trace:
  nodes, before (whole graph to one Graphviz run, as the app did): open_s, expand_all_s and their
  largest run; after (group by group): open_s, expand_all_s, toggle_s (collapse one group),
  reexpand_s (expand it again: cached), largest_run, runs; gui: load -> opening view drawn,
  expand all drawn, one toggle drawn (offscreen MainWindow, event loop timed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _session(src: str):
    from graphstage.api import load, trace_script
    return load(src) if src.endswith(".json") else trace_script(src, 1)


def _flat(display, timeout: float) -> tuple[float | None, int]:
    """Seconds for the whole display in one Graphviz run (None: not done within timeout)."""
    from graphstage.viz import graphviz
    from graphstage.viz.gui.canvas import layout_spec
    from graphstage.viz.layout import parse_json, to_dot
    spec = layout_spec(display)
    t = time.perf_counter()
    try:
        src, names = to_dot(spec)
        parse_json(graphviz.run(src, "json", timeout=timeout, fallback=False), names)
    except graphviz.GraphvizError:
        return None, len(spec.nodes)
    return time.perf_counter() - t, len(spec.nodes)


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _toggle_target(graph, collapsed: set[str]) -> str:
    """A mid-depth scope with the most boxes: what a person would open or close."""
    from graphstage.viz.gui.viewgraph import all_scopes, scope_prefixes
    size: dict[str, int] = {}
    for _, a in graph.nodes(data=True):
        for p in scope_prefixes(a.get("scope", "")):
            size[p] = size.get(p, 0) + 1
    cands = [s for s in all_scopes(graph) if 2 <= len(scope_prefixes(s)) <= 3] or \
        list(all_scopes(graph))
    return max(cands, key=lambda s: (size[s] < 200, size[s]))


def measure_layout(graph, flat_timeout: float) -> dict:
    """Layout-only figures (no drawing), before and after."""
    from graphstage.viz.gui.items import measure
    from graphstage.viz.gui.viewgraph import build_display, readable_collapse
    from graphstage.viz.hlayout import HierLayout, display_sizes

    hier = HierLayout()
    memo: dict = {}

    def hl(collapsed):
        d = build_display(graph, collapsed)
        return hier.layout(d, display_sizes(d, measure, memo))

    open_s, opening = _timed(lambda: readable_collapse(graph))
    s, _ = _timed(lambda: hl(opening))
    after = {"open_s": round(open_s + s, 3)}
    after["expand_all_s"] = round(_timed(lambda: hl(set()))[0], 3)
    target = _toggle_target(graph, set())
    after["toggle_group"] = target
    after["toggle_s"] = round(_timed(lambda: hl({target}))[0], 3)
    after["reexpand_s"] = round(_timed(lambda: hl(set()))[0], 3)
    after["largest_run"] = max(hier.runs)
    after["runs"] = len(hier.runs)
    before: dict = {}
    for name, collapsed in (("open", opening), ("expand_all", set())):
        t, n = _flat(build_display(graph, collapsed), flat_timeout)
        before[f"{name}_s"] = round(t, 3) if t is not None else f">{flat_timeout:.0f}"
        before[f"{name}_run"] = n
    return {"before": before, "after": after}


def measure_gui(session) -> dict:
    """Offscreen app: load -> opening view shown, expand all shown, one toggle shown."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from graphstage.viz.gui.main_window import MainWindow
    app = QApplication.instance() or QApplication([])
    win = MainWindow(theme="light", steps=1)
    win.resize(1440, 900)
    win.show()
    pane = win.pane

    def wait(signal, action) -> float:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(600000, loop.quit)
        t = time.perf_counter()
        action()
        loop.exec()
        signal.disconnect(loop.quit)
        pane.canvas.finish_morph()
        app.processEvents()
        return round(time.perf_counter() - t, 3)

    out = {"open_s": wait(win.loadFinished, lambda: pane.controller.set_session(session, "b"))}
    out["open_boxes"] = len(pane.canvas.nodes)
    out["expand_all_s"] = wait(pane.shown, pane.controller.expand_all)
    target = _toggle_target(pane.controller.graph, set())
    out["toggle_s"] = wait(pane.shown, lambda: pane.controller.toggle_scope(target))
    out["reexpand_s"] = wait(pane.shown, lambda: pane.controller.toggle_scope(target))
    win.shutdown()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="*", default=["gpt_torch", "resnet18_torch"],
                    help="saved traces (.json) or bundled example names")
    ap.add_argument("--flat-timeout", type=float, default=120.0,
                    help="seconds allowed to one whole-graph Graphviz run (before)")
    ap.add_argument("--no-gui", action="store_true", help="layout figures only")
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])   # Qt's font metrics measure the boxes
    for src in args.traces:
        session = _session(src)
        graph = session.steps[0]
        row = {"trace": src, "nodes": graph.number_of_nodes()}
        row.update(measure_layout(graph, args.flat_timeout))
        if not args.no_gui:
            row["gui"] = measure_gui(session)
        print(json.dumps(row), flush=True)
    del app
    sys.exit(0)


if __name__ == "__main__":
    main()
