"""Box sizes measured in any thread: :func:`items.measure`'s rule with this thread's metrics.

The layout worker measures boxes off the GUI thread; Qt's font metrics are reentrant, not
thread-safe, so each thread keeps its own QFontMetricsF instead of sharing the painter's.
"""

from __future__ import annotations

import math
import threading

from PySide6.QtGui import QFontMetricsF

from graphstage.viz.gui.items import GROUP_H, MAX_W, MIN_W, NODE_H, PAD
from graphstage.viz.gui.theme import detail_font, label_font

_LOCAL = threading.local()


def measure_box(label: str, detail: str, group: bool = False) -> tuple[float, float]:
    """Box size for a label and detail line (the same rule as items.measure)."""
    fm = getattr(_LOCAL, "fm", None)
    if fm is None:
        fm = _LOCAL.fm = (QFontMetricsF(label_font()), QFontMetricsF(detail_font()))
    lf, df = fm
    w = max(lf.horizontalAdvance(label) + (16 if group else 0), df.horizontalAdvance(detail))
    return float(min(MAX_W, max(MIN_W, math.ceil(w) + PAD))), float(GROUP_H if group else NODE_H)


class Sizer:
    """Measures display graphs' boxes with a memo by text; one lock, so any thread may call."""

    def __init__(self) -> None:
        self._memo: dict = {}
        self._lock = threading.Lock()

    def __call__(self, display) -> dict[str, tuple[float, float]]:
        from graphstage.viz.hlayout import display_sizes
        with self._lock:
            return display_sizes(display, measure_box, self._memo)
