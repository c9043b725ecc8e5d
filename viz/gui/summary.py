"""Short text for values and gradients, and overlay colours by magnitude (no Qt widgets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

import math

from PySide6.QtGui import QColor

# A perceptual dark-blue -> teal -> yellow ramp (viridis stops) for the magnitude overlay.
_RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]


def fmt(x: float) -> str:
    """A number in at most 4 significant digits."""
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:.4g}"


def short_summary(s: dict | None) -> str:
    """'= 300' for tiny tensors, else 'μ 0.12  σ 0.3  ‖·‖ 4.1'."""
    if not s:
        return ""
    vals = s.get("values")
    if vals is not None and len(vals) <= 4:
        inner = ", ".join(fmt(v) for v in vals)
        return f"= {inner}" if len(vals) == 1 else f"= [{inner}]"
    parts = []
    if s.get("mean") is not None:
        parts.append(f"μ {fmt(s['mean'])}")
    if s.get("std") is not None:
        parts.append(f"σ {fmt(s['std'])}")
    if s.get("norm") is not None:
        parts.append(f"‖·‖ {fmt(s['norm'])}")
    return "  ".join(parts)


def node_value_text(graph: nx.DiGraph, node: str) -> str:
    """What the callout next to the executing node says."""
    a = graph.nodes[node]
    if a.get("value"):
        return short_summary(a["value"])
    p = a.get("param")
    if p and p in graph and graph.nodes[p].get("grad"):
        return "∇ " + short_summary(graph.nodes[p]["grad"])
    return ""


def _rms(s: dict | None) -> float | None:
    if not s or s.get("norm") is None:
        return None
    n = 1
    for d in s.get("shape") or []:
        n *= max(int(d), 1)
    return float(s["norm"]) / math.sqrt(n)


OVERLAYS = {  # mode -> (legend title, how a collapsed group combines its ops)
    "gradient": ("gradient RMS", "max"),
    "activation": ("activation RMS", "max"),
    "time": ("time µs", "sum"),
    "memory": ("memory bytes", "sum"),
}


def magnitudes(graph: nx.DiGraph, mode: str) -> dict[str, float]:
    """Per node id: RMS of the gradient ('gradient') or of the output value ('activation'),
    measured duration ('time'), or memory ('memory': bytes a backward node saved, bytes a
    forward op returned)."""
    if mode == "time":
        return {n: float(a["duration_us"]) for n, a in graph.nodes(data=True)
                if a.get("duration_us") is not None}
    if mode == "memory":
        return {n: float(a.get("saved_bytes", a.get("output_bytes", 0)))
                for n, a in graph.nodes(data=True)
                if a.get("saved_bytes") is not None or a.get("output_bytes") is not None}
    out: dict[str, float] = {}
    for n, a in graph.nodes(data=True):
        if mode == "gradient":
            src = a.get("grad")
            if src is None and a.get("param") in graph:
                src = graph.nodes[a["param"]].get("grad")
        else:
            src = a.get("value") if a["phase"] == "forward" else None
        v = _rms(src)
        if v is not None and math.isfinite(v):
            out[n] = v
    return out


def ramp(t: float) -> QColor:
    """Colour at t in [0, 1] on the overlay ramp."""
    t = min(1.0, max(0.0, t)) * (len(_RAMP) - 1)
    i = min(int(t), len(_RAMP) - 2)
    a, b = QColor(_RAMP[i]), QColor(_RAMP[i + 1])
    f = t - i
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * f,
                           a.greenF() + (b.greenF() - a.greenF()) * f,
                           a.blueF() + (b.blueF() - a.blueF()) * f)


def overlay_colors(mags: dict[str, float], rep: dict[str, str], combine: str = "max",
                   ) -> tuple[dict[str, QColor], float, float]:
    """Display key -> colour on a log scale, plus the (low, high) the legend shows. A collapsed
    group takes its ops' largest value (``max``) or their total (``sum``: time, memory)."""
    per_key: dict[str, float] = {}
    for n, v in mags.items():
        k = rep.get(n)
        if k is not None:
            per_key[k] = per_key.get(k, 0.0) + v if combine == "sum" else \
                max(per_key.get(k, 0.0), v)
    pos = [v for v in per_key.values() if v > 0]
    if not pos:
        return {}, 0.0, 0.0
    lo, hi = min(pos), max(pos)
    llo, lhi = math.log10(lo), math.log10(hi)
    span = (lhi - llo) or 1.0
    return ({k: ramp((math.log10(v) - llo) / span) if v > 0 else ramp(0.0)
             for k, v in per_key.items()}, lo, hi)


def group_totals(values: dict[str, float], display: Any, mode: str) -> dict[str, str]:
    """Per collapsed group box: its ops' total time ('2.1 ms') or memory ('3.4 MiB'), for the
    'time' and 'memory' overlays (other overlays have no meaningful total)."""
    if mode not in ("time", "memory"):
        return {}
    sums: dict[str, float] = {}
    for n, v in values.items():
        key = display.rep.get(n)
        if key is not None and display.nodes[key].is_group:
            sums[key] = sums.get(key, 0.0) + v
    return {k: format_time(v) if mode == "time" else format_bytes(v) for k, v in sums.items()}


def format_time(us: float) -> str:
    """Microseconds as µs, ms or s with three significant digits."""
    if us < 1e3:
        return f"{us:.3g} µs"
    return f"{us / 1e3:.3g} ms" if us < 1e6 else f"{us / 1e6:.3g} s"


def format_bytes(n: float) -> str:
    """Bytes as B, KiB, MiB or GiB with three significant digits."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} GiB"
