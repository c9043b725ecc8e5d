"""Headless export of step graphs to SVG, PNG, PDF or DOT files through Graphviz.

Works with either engine that :func:`viz.graphviz.find_engine` finds. Graphs over
:data:`viz.dot.MAX_NODES` boxes are collapsed by scope automatically so they still lay out in one
piece; PDF comes from ``dot -Tpdf`` or, when the engine cannot write PDF (graphviz-pure), from
the SVG through Qt's SVG renderer. docs/export.md is the user-facing description.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from graphstage.viz import graphviz, qtrender
from graphstage.viz.dot import MAX_NODES, auto_collapse_depth, collapsed_size, to_dot
from graphstage.viz.graphviz import Engine, GraphvizError

FORMATS = ("svg", "png", "pdf", "dot")
PNG_DPI = 120
PNG_MAX_SIDE = 16000        # pixels; Graphviz shrinks the drawing to fit
PNG_MAX_PIXELS = 60_000_000  # about 240 MB of RGBA; larger drawings are re-rendered at lower dpi
PDF_MAX_SIDE_IN = 200       # the PDF page size limit most viewers accept
TIMEOUT_S = 300.0

Progress = Callable[[int, int, str], None]
"""progress(done, total, message): called before the first and after every written file."""

def _resolve_engine(engine: Engine | str | None) -> Engine:
    if isinstance(engine, Engine):
        return engine
    return graphviz.find_engine(engine)


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise GraphvizError("the engine wrote something that is not a PNG image")
    return struct.unpack(">II", data[16:24])


def _render(source: str, fmt: str, engine: Engine, timeout: float, hint: str) -> bytes:
    """Run the engine, adding what to do next to its one-line error."""
    try:
        return graphviz.run(source, fmt, engine=engine, timeout=timeout)
    except GraphvizError as exc:
        raise GraphvizError(f"{exc}; {hint}") from None


def _collapse_hint(graph: nx.DiGraph, depth: int | None) -> str:
    smaller = 0 if depth is None else max(0, depth - 1)
    now, then = collapsed_size(graph, depth), collapsed_size(graph, smaller)
    if then >= now:
        return ("the graph is too big to lay out even with its scopes collapsed: export a "
                "smaller part of the model or trace a smaller configuration")
    return (f"try collapse_depth={smaller} (CLI: --collapse-depth {smaller}) to draw {then:,} "
            f"boxes instead of {now:,}")


def step_source(
    graph: nx.DiGraph,
    *,
    diff: Any = None,
    collapse_depth: int | None = None,
    previous_step: int | None = None,
    graph_attrs: dict[str, str] | None = None,
) -> tuple[str, int | None]:
    """DOT source for a step, auto-collapsing graphs too big to lay out; returns (source, depth)."""
    notes = []
    if collapse_depth is None:
        collapse_depth = auto_collapse_depth(graph, MAX_NODES)
        if collapse_depth is not None:
            notes.append(f"{graph.number_of_nodes():,} nodes: scopes below depth "
                         f"{collapse_depth} collapsed automatically to "
                         f"{collapsed_size(graph, collapse_depth):,} boxes "
                         "(choose with collapse_depth / --collapse-depth)")
    elif collapsed_size(graph, collapse_depth) < graph.number_of_nodes():
        notes.append(f"scopes below depth {collapse_depth} collapsed: "
                     f"{graph.number_of_nodes():,} nodes in "
                     f"{collapsed_size(graph, collapse_depth):,} boxes")
    source = to_dot(graph, diff=diff, collapse_depth=collapse_depth, notes=notes,
                    previous_step=previous_step, graph_attrs=graph_attrs)
    return source, collapse_depth


def export_step(
    graph: nx.DiGraph,
    path: str | os.PathLike,
    fmt: str | None = None,
    *,
    diff: Any = None,
    collapse_depth: int | None = None,
    engine: Engine | str | None = None,
    previous_step: int | None = None,
    dpi: int = PNG_DPI,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Write one step graph as svg, png, pdf or dot (``fmt`` defaults to the path's suffix).

    ``engine`` is an Engine, 'dot' or 'graphviz-pure' (default: find_engine's choice). Raises
    GraphvizError with a one-line message when the engine is missing, fails or times out.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot export {fmt or 'a file without suffix'!r}; choose one of "
                         f"{', '.join(FORMATS)}")
    eng = None if fmt == "dot" else _resolve_engine(engine)
    # graphviz-pure's own PNG renderer lacks glyphs such as '∇'; Qt draws its SVG with the
    # system's fonts instead. Its PDF comes the same way, as it writes none.
    via_qt = eng is not None and qtrender.available() and (
        (fmt == "png" and eng.name == "graphviz-pure") or (fmt == "pdf" and "pdf" not in
                                                            eng.formats))
    attrs: dict[str, str] = {}
    if fmt == "png" and not via_qt:
        attrs = {"dpi": str(dpi), "size": f"{PNG_MAX_SIDE / dpi:.2f},{PNG_MAX_SIDE / dpi:.2f}"}
    elif fmt == "pdf":
        attrs = {"size": f"{PDF_MAX_SIDE_IN},{PDF_MAX_SIDE_IN}"}
    source, depth = step_source(graph, diff=diff, collapse_depth=collapse_depth,
                                previous_step=previous_step, graph_attrs=attrs)
    if eng is None:
        data = source.encode("utf-8")
    else:
        hint = _collapse_hint(graph, depth)
        if via_qt:
            svg = _render(source, "svg", eng, timeout, hint)
            data = (qtrender.svg_to_png(svg, dpi, PNG_MAX_SIDE, PNG_MAX_PIXELS) if fmt == "png"
                    else qtrender.svg_to_pdf(svg, PDF_MAX_SIDE_IN * 72))
        elif fmt == "png":
            data = _render(source, "png", eng, timeout, hint)
            width, height = _png_size(data)
            if width * height > PNG_MAX_PIXELS:
                attrs["dpi"] = str(max(24, int(dpi * math.sqrt(PNG_MAX_PIXELS
                                                                / (width * height)))))
                source, _ = step_source(graph, diff=diff, collapse_depth=depth,
                                        previous_step=previous_step, graph_attrs=attrs)
                data = _render(source, "png", eng, timeout, hint)
        else:
            data = _render(source, fmt, eng, timeout, hint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def export_session(
    session: Any,
    out_dir: str | os.PathLike,
    fmt: str,
    steps: Iterable[int] | None = None,
    progress: Progress | None = None,
    *,
    collapse_depth: int | None = None,
    engine: Engine | str | None = None,
) -> list[Path]:
    """Write one file per step (step_0003.svg...), each marked with its diff vs the step before.

    ``steps`` are indices into ``session.steps`` (default: all).
    """
    out = Path(out_dir)
    indices = list(range(len(session.steps))) if steps is None else list(steps)
    eng = None if fmt == "dot" else _resolve_engine(engine)
    written: list[Path] = []
    if progress:
        progress(0, len(indices), f"exporting {len(indices)} steps to {out}")
    for done, i in enumerate(indices, 1):
        graph = session.steps[i]
        step = graph.graph.get("step", i)
        previous = session.steps[i - 1].graph.get("step", i - 1) if i > 0 else None
        target = out / f"step_{step:04d}.{fmt}"
        written.append(export_step(graph, target, fmt,
                                   diff=session.diff(i) if i > 0 else None,
                                   previous_step=previous, collapse_depth=collapse_depth,
                                   engine=eng))
        if progress:
            progress(done, len(indices), f"wrote {target.name}")
    return written
