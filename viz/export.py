"""Headless export of step graphs to SVG, PNG, PDF or DOT files through Graphviz.

Works with either engine that :func:`viz.graphviz.find_engine` finds. Graphs over
:data:`MAX_NODES` nodes are folded by scope to about :data:`viz.dot.FOLD_BOXES` boxes, like the
app's opening view (``collapse_depth`` picks a uniform depth, ``expand_all`` draws every op; SVG
suits full graphs); PNG images are at most :data:`PNG_MAX_SIDE` pixels on their long side. PDF
comes from ``dot -Tpdf`` or, when the engine cannot write PDF (graphviz-pure), from the SVG
through Qt's SVG renderer. docs/export.md is the user-facing description.
"""

from __future__ import annotations

import math
import os
import re
import struct
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from graphstage.viz import graphviz, qtrender
from graphstage.viz.dot import (
    FOLD_ABOVE,
    FOLD_BOXES,
    FONT_SIZE,
    SMALL_FONT_SIZE,
    TOP_MAX,
    WHOLE,
    collapsed_size,
    family_scopes,
    fold_scopes,
    folded_size,
    to_dot,
)
from graphstage.viz.graphviz import Engine, GraphvizError

FORMATS = ("svg", "png", "pdf", "dot")
MAX_NODES = FOLD_ABOVE  # more nodes than this: folded (unless collapse_depth or expand_all)
PNG_DPI = 120
PNG_MAX_SIDE = 8000         # pixels on the long side; Graphviz shrinks the drawing to fit
PNG_MAX_PIXELS = 40_000_000  # about 160 MB of RGBA; larger drawings are re-rendered at lower dpi
PNG_MIN_TEXT_PX = 9         # an auto-folded PNG folds further rather than shrink text below this
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


def _collapse_hint(graph: nx.DiGraph, depth: int | None, boxes: int) -> str:
    smaller = 0 if depth is None else max(0, depth - 1)
    then = collapsed_size(graph, smaller)
    if then >= boxes:
        return ("the graph is too big to lay out even with its scopes collapsed: export a "
                "smaller part of the model or trace a smaller configuration")
    return (f"try collapse_depth={smaller} (CLI: --collapse-depth {smaller}) to draw {then:,} "
            f"boxes instead of {boxes:,}")


def _auto_fold(graph: nx.DiGraph, limit: int) -> tuple[nx.DiGraph, set, bool]:
    """The graph to draw, its folded scopes, and whether flat scopes were grouped by name
    (one top-level scope per Keras layer cannot fold below one box per layer otherwise)."""
    folded = fold_scopes(graph, limit)
    if folded_size(graph, folded) <= limit:
        return graph, folded, False
    grouped = family_scopes(graph)
    drawn, folds = (graph, folded) if grouped is None else (grouped, fold_scopes(grouped, limit))
    if folded_size(drawn, folds) > TOP_MAX:   # no top-level structure: the passes, as the app
        return graph, {WHOLE}, False
    return drawn, folds, grouped is not None


def step_source(
    graph: nx.DiGraph,
    *,
    diff: Any = None,
    collapse_depth: int | None = None,
    expand_all: bool = False,
    previous_step: int | None = None,
    graph_attrs: dict[str, str] | None = None,
    fold_limit: int | None = None,
    note: str | None = None,
) -> tuple[str, int | None, int]:
    """DOT source for a step, folding graphs over MAX_NODES nodes (to about ``fold_limit``
    boxes, default FOLD_BOXES) unless a depth or expand_all is given; ``note`` is one more line
    under the title; returns (source, collapse depth, boxes drawn)."""
    notes = []
    n = graph.number_of_nodes()
    folded = None
    if expand_all:
        collapse_depth, boxes = None, n
    elif collapse_depth is None and n > MAX_NODES:
        graph, folded, grouped = _auto_fold(graph, fold_limit or min(FOLD_BOXES, MAX_NODES))
        boxes = folded_size(graph, folded)
        notes.append(f"{n:,} nodes: scopes collapsed automatically to {boxes:,} boxes like the "
                     "app's opening view (choose a depth with --collapse-depth, or draw every "
                     "op with --expand-all, best as SVG)")
        if grouped:
            notes.append("layer scopes grouped by their name's numbered prefix (block_1_expand "
                         "and block_1_project under block_1) so they fold")
    else:
        boxes = collapsed_size(graph, collapse_depth)
        if boxes < n:
            notes.append(f"scopes below depth {collapse_depth} collapsed: {n:,} nodes in "
                         f"{boxes:,} boxes")
    if note:
        notes.append(note)
    source = to_dot(graph, diff=diff, collapse_depth=collapse_depth, notes=notes,
                    previous_step=previous_step, graph_attrs=graph_attrs, folded=folded)
    return source, collapse_depth, boxes


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
    expand_all: bool = False,
    warn: Callable[[str], None] | None = None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write one step graph as svg, png, pdf or dot (``fmt`` defaults to the path's suffix).

    Graphs over MAX_NODES nodes are folded like the app's opening view unless
    ``collapse_depth`` or ``expand_all`` says otherwise; PNGs are at most PNG_MAX_SIDE px, and an
    auto-folded PNG folds further rather than shrink text below PNG_MIN_TEXT_PX, telling
    ``warn`` (default: stderr) and the image's notes; its figures (boxes, fold_limit, text_px of
    the labels, min_text_px of the smallest text) are put into ``info`` when given.

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
    src: dict[str, Any] = {"diff": diff, "collapse_depth": collapse_depth,
                           "expand_all": expand_all, "previous_step": previous_step}
    if fmt == "png" and eng is not None and collapse_depth is None and not expand_all \
            and graph.number_of_nodes() > MAX_NODES:
        data = _legible_png(graph, src, dpi, eng, via_qt, timeout, warn or _stderr,
                            {} if info is None else info)
    else:
        data = _draw(graph, fmt, eng, via_qt, dpi, timeout, src)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _stderr(message: str) -> None:
    print(f"graphstage: {message}", file=sys.stderr)


def _draw(graph: nx.DiGraph, fmt: str, eng: Engine | None, via_qt: bool, dpi: int,
          timeout: float, src: dict[str, Any]) -> bytes:
    """The file's bytes: DOT source, or the engine's (or Qt's) drawing of it."""
    attrs: dict[str, str] = {}
    if fmt == "png" and not via_qt:
        attrs = png_attrs(dpi)
    elif fmt == "pdf":
        attrs = {"size": f"{PDF_MAX_SIDE_IN},{PDF_MAX_SIDE_IN}"}
    source, depth, boxes = step_source(graph, graph_attrs=attrs, **src)
    if eng is None:
        return source.encode("utf-8")
    hint = _collapse_hint(graph, depth, boxes)
    if via_qt:
        svg = _render(source, "svg", eng, timeout, hint)
        return (qtrender.svg_to_png(svg, dpi, PNG_MAX_SIDE, PNG_MAX_PIXELS) if fmt == "png"
                else qtrender.svg_to_pdf(svg, PDF_MAX_SIDE_IN * 72))
    if fmt != "png":
        return _render(source, fmt, eng, timeout, hint)
    data = _render(source, "png", eng, timeout, hint)
    width, height = _png_size(data)
    if width * height > PNG_MAX_PIXELS:
        attrs["dpi"] = str(max(24, int(dpi * math.sqrt(PNG_MAX_PIXELS / (width * height)))))
        source, _, _ = step_source(graph, graph_attrs=attrs, **src)
        data = _render(source, "png", eng, timeout, hint)
    return data


def png_attrs(dpi: float) -> dict[str, str]:
    """Graph attributes that make dot write a PNG at ``dpi`` shrunk into PNG_MAX_SIDE."""
    return {"dpi": f"{dpi:g}", "size": f"{PNG_MAX_SIDE / dpi:.2f},{PNG_MAX_SIDE / dpi:.2f}"}


_BACKGROUND = re.compile(rb'id="graph0".*?<polygon[^>]*?points="([^"]+)"', re.S)


def natural_width_pt(svg: bytes) -> float:
    """The drawing's width in points before any ``size`` shrink: its background polygon's."""
    m = _BACKGROUND.search(svg)
    if m is None:
        raise GraphvizError("the engine wrote an SVG without a background polygon")
    xs = [float(p.split(b",")[0]) for p in m[1].split()]
    return max(xs) - min(xs)


def text_px(png: bytes, svg: bytes) -> float:
    """Height in pixels of FONT_SIZE text in a PNG rendered from the same layout as ``svg``."""
    return FONT_SIZE * _png_size(png)[0] / natural_width_pt(svg)


def _png_once(source: str, eng: Engine, via_qt: bool, dpi: int, timeout: float,
              hint: str) -> tuple[bytes, bytes]:
    """(svg, png) of one layout: dot writes both in one run, else Qt draws the SVG."""
    if via_qt:
        svg = _render(source, "svg", eng, timeout, hint)
        return svg, qtrender.svg_to_png(svg, dpi, PNG_MAX_SIDE, PNG_MAX_PIXELS)
    try:
        out = graphviz.run_both(source, ("svg", "png"), engine=eng, timeout=timeout)
    except GraphvizError as exc:
        raise GraphvizError(f"{exc}; {hint}") from None
    return out["svg"], out["png"]


def _legible_png(graph: nx.DiGraph, src: dict[str, Any], dpi: int, eng: Engine, via_qt: bool,
                 timeout: float, warn: Callable[[str], None],
                 info: dict[str, Any]) -> bytes:
    """An auto-folded PNG whose smallest text is at least PNG_MIN_TEXT_PX at its own size: each try
    lays out once (SVG to measure, PNG to keep) and, while the text would be smaller, folds
    further than the app's opening view, saying so in the image and through ``warn``; ``info``
    gets the boxes drawn, the box limit and the text's pixel height."""
    limit, note, first = min(FOLD_BOXES, MAX_NODES), None, 0
    attrs = {} if via_qt else png_attrs(dpi)
    for _ in range(4):
        source, depth, boxes = step_source(graph, fold_limit=limit, graph_attrs=attrs,
                                           note=note, **src)
        svg, png = _png_once(source, eng, via_qt, dpi, timeout,
                             _collapse_hint(graph, depth, boxes))
        width, height = _png_size(png)
        px = text_px(png, svg) * min(1.0, math.sqrt(PNG_MAX_PIXELS / (width * height)))
        px *= SMALL_FONT_SIZE / FONT_SIZE   # the smallest text: the legend's keys
        fewer = int(boxes * px / PNG_MIN_TEXT_PX)
        if px >= PNG_MIN_TEXT_PX or fewer < 1 or folded_size(*_auto_fold(graph, fewer)[:2]) \
                >= boxes:
            break
        first = first or boxes
        limit = fewer
        note = (f"folded further than the app's opening view ({first:,} boxes) so text stays "
                f"at least {PNG_MIN_TEXT_PX} px in an {PNG_MAX_SIDE:,} px PNG; export SVG or "
                "choose --collapse-depth for more detail")
    model = f"{graph.graph.get('model', 'graph')} step {graph.graph.get('step', '?')}"
    if note:
        warn(f"{model}: {note}")
    small = px < PNG_MIN_TEXT_PX
    if small:
        note = ((note + "; ") if note else "") + (
            f"its smallest text is {px:.1f} px as the scopes cannot fold further: export SVG")
        warn(f"{model}: {note}")
    if small or width * height > PNG_MAX_PIXELS:  # redraw with the note, under the pixel cap
        scale = min(1.0, math.sqrt(PNG_MAX_PIXELS / (width * height)))
        if attrs:
            attrs["dpi"] = str(max(24, int(dpi * scale)))
        source, _, _ = step_source(graph, fold_limit=limit, graph_attrs=attrs, note=note, **src)
        svg, png = _png_once(source, eng, via_qt, dpi, timeout, "export SVG instead")
        px = text_px(png, svg) * SMALL_FONT_SIZE / FONT_SIZE
    info.update(boxes=boxes, fold_limit=limit, min_text_px=round(px, 2),
                text_px=round(px * FONT_SIZE / SMALL_FONT_SIZE, 2), further=note is not None)
    return png


def export_session(
    session: Any,
    out_dir: str | os.PathLike,
    fmt: str,
    steps: Iterable[int] | None = None,
    progress: Progress | None = None,
    *,
    collapse_depth: int | None = None,
    engine: Engine | str | None = None,
    expand_all: bool = False,
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
                                   engine=eng, expand_all=expand_all))
        if progress:
            progress(done, len(indices), f"wrote {target.name}")
    return written
