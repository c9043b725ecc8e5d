"""Export time and image size of big traces: default (folded) PNG and SVG vs --expand-all SVG.

    .venv/bin/python benchmarks/export_scale.py TRACE.json [...] [--expand-all-timeout S]

Prints one JSON line per trace and format: nodes, boxes drawn, the fold's box limit, format,
seconds, image size (px for PNG, pt for SVG), file size and, for PNGs, the pixel height of the
box labels (text_px: FONT_SIZE × the scale the exporter used, PNG width / natural drawing width)
and of the smallest text, the legend's keys (min_text_px: SMALL_FONT_SIZE × that scale).
The last step of each trace is exported (the one with the most optimizer state).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from graphstage.tracers.session import TraceSession
from graphstage.viz.export import export_step, step_source
from graphstage.viz.graphviz import GraphvizError

_SVG_SIZE = re.compile(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def _size(path: Path, fmt: str) -> str:
    data = path.read_bytes()
    if fmt == "png":
        return f"{int.from_bytes(data[16:20], 'big')}x{int.from_bytes(data[20:24], 'big')}px"
    m = _SVG_SIZE.search(data[:2000])
    return f"{float(m[1]):.0f}x{float(m[2]):.0f}pt" if m else "?"


def measure(trace: Path, fmt: str, out: Path, *, expand_all: bool = False,
            timeout: float = 300.0) -> dict:
    """Export the trace's last step once; the figures as one dict."""
    graph = TraceSession.load(trace).steps[-1]
    info: dict = {}
    row = {"trace": trace.stem, "nodes": graph.number_of_nodes(), "format": fmt,
           "expand_all": expand_all}
    target = out / f"{trace.stem}{'-all' if expand_all else ''}.{fmt}"
    start = time.perf_counter()
    try:
        export_step(graph, target, fmt, expand_all=expand_all, timeout=timeout, info=info,
                    warn=lambda m: print(m, file=sys.stderr))
    except GraphvizError as exc:
        row.update(seconds=round(time.perf_counter() - start, 2), error=str(exc)[:120])
        return row
    row["seconds"] = round(time.perf_counter() - start, 2)
    if "boxes" not in info:
        info["boxes"] = step_source(graph, expand_all=expand_all)[2]
    row.update(boxes=info["boxes"], fold_limit=info.get("fold_limit"),
               size=_size(target, fmt), bytes=target.stat().st_size,
               text_px=info.get("text_px"), min_text_px=info.get("min_text_px"),
               folded_further=info.get("further", False),
               file=str(target))
    return row


def main(argv: list[str] | None = None) -> int:
    """Measure each trace: default PNG and SVG, and --expand-all SVG."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=None, help="keep the images here")
    ap.add_argument("--expand-all-timeout", type=float, default=120.0,
                    help="Graphviz limit for the --expand-all SVG (seconds)")
    args = ap.parse_args(argv)
    out = args.output or Path(tempfile.mkdtemp(prefix="export-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    for trace in args.traces:
        for fmt, expand_all in (("png", False), ("svg", False), ("svg", True)):
            row = measure(trace, fmt, out, expand_all=expand_all,
                          timeout=args.expand_all_timeout if expand_all else 300.0)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
