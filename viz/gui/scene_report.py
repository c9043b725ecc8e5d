"""What the window shows, as plain data: the `--scene-json` report tests read instead of pixels.

The report lists, per pane, every box inside the pane's viewport with its rectangle in window
pixels and the pixel height its label is drawn at, the pane's phase as its indicator says it and
the box under the mouse; and the step timeline's rows (one per framework) with their marks. It
reads the window, panes and canvases through their public attributes only and never changes
them. A window attribute `caption_text` and a pane attribute `banner_text` (strings), once
something sets them, become the report's "caption" and the pane's "banner"; until then the
banner is the pane title's "same graph as previous step" note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QRectF
from PySide6.QtGui import QTextDocumentFragment

from graphstage.viz.gui.items import NodeItem
from graphstage.viz.gui.theme import label_font

if TYPE_CHECKING:
    from graphstage.viz.gui.canvas import GraphCanvas
    from graphstage.viz.gui.main_window import MainWindow
    from graphstage.viz.gui.pane import StagePane

FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
SAME_GRAPH = "same graph as previous step"


def scene_report(win: MainWindow) -> dict[str, Any]:
    """The report of issue 10 item 6 for the window as it is drawn now."""
    return {
        "legend": legend_shown(win),
        "caption": str(getattr(win, "caption_text", "") or ""),
        "panes": [pane_report(p, win) for p in win.panes],
        "timeline": timeline_report(win),
    }


def write_scene_report(win: MainWindow, path: str | Path) -> Path:
    """Write scene_report(win) as indented JSON to path."""
    out = Path(path)
    out.write_text(json.dumps(scene_report(win), indent=1, ensure_ascii=False), encoding="utf-8")
    return out


def legend_shown(win: MainWindow) -> bool:
    """Whether the legend is on screen (its dock exists, is visible and not collapsed)."""
    dock = getattr(win, "legend_dock", None)
    return bool(dock is not None and dock.isVisible() and dock.width() > 20
                and dock.height() > 20)


def pane_report(pane: StagePane, win: MainWindow) -> dict[str, Any]:
    """One pane: which session and step it shows, its phase and banner, and its boxes."""
    c = pane.controller
    session, graph = c.session, c.graph
    schedule = pane.player.schedule
    return {
        "framework": FRAMEWORK_NAMES.get(session.framework, session.framework) if session else "",
        "step": c.step + 1 if session is not None else 0,
        "phase": schedule.phase_at(pane.player.t) if schedule is not None else "",
        "phase_shown": phase_shown(pane),
        "hovered": getattr(getattr(pane, "hover", None), "key", ""),
        "banner": pane_banner(pane),
        "items": visible_items(pane.canvas, win) if graph is not None else [],
    }


def phase_shown(pane: StagePane) -> str:
    """The words of the pane's own phase indicator ('' when it shows none)."""
    label = getattr(pane, "phase_label", None)
    if label is None or not label.isVisible():
        return ""
    return QTextDocumentFragment.fromHtml(label.text()).toPlainText().strip("● ").strip()


def timeline_report(win: MainWindow) -> list[dict[str, Any]]:
    """The step timeline's rows: per framework its steps and, as 1-based step numbers, the
    steps whose structure changed, that TensorFlow retraced (R) or first traced (T)."""
    timeline = getattr(win, "timeline", None)
    if timeline is None or not timeline.isVisible():
        return []
    out = []
    for i, row in enumerate(timeline.rows):
        r = timeline.row_rect(i)
        top_left = timeline.mapTo(win, r.topLeft().toPoint())
        out.append({
            "framework": row.name,
            "steps": len(row.counts),
            "changed": [k + 1 for k, v in enumerate(row.changed) if v],
            "retraced": [k + 1 for k, v in enumerate(row.retraced) if v],
            "traced": [k + 1 for k, v in enumerate(row.traced) if v],
            "rect": [top_left.x(), top_left.y(), round(r.width(), 1), round(r.height(), 1)],
        })
    return out


def pane_banner(pane: StagePane) -> str:
    """The pane's status line about this step ('' when it states none)."""
    banner = getattr(pane, "banner_text", None)
    if isinstance(banner, str):
        return banner
    g = pane.controller.graph
    return SAME_GRAPH if g is not None and g.graph.get("same_as_previous") else ""


def view_scale(canvas: GraphCanvas) -> float:
    """The canvas's current zoom (scene units to viewport pixels)."""
    return float(canvas.transform().m11())


def item_window_rect(canvas: GraphCanvas, item: NodeItem, win) -> QRectF:
    """A box's outline (not its glow margin) in window pixels."""
    scene_rect = item.mapRectToScene(QRectF(-item.w / 2, -item.h / 2, item.w, item.h))
    r = canvas.mapFromScene(scene_rect).boundingRect()
    top_left = canvas.viewport().mapTo(win, r.topLeft())
    return QRectF(top_left.x(), top_left.y(), r.width(), r.height())


def viewport_window_rect(canvas: GraphCanvas, win) -> QRectF:
    """The canvas's viewport in window pixels."""
    vp = canvas.viewport()
    top_left = vp.mapTo(win, QPoint(0, 0))
    return QRectF(top_left.x(), top_left.y(), vp.width(), vp.height())


def visible_items(canvas: GraphCanvas, win) -> list[dict[str, Any]]:
    """Every box (not fading out) that overlaps the viewport, top to bottom, left to right."""
    if not canvas.isVisible():
        return []
    view = viewport_window_rect(canvas, win)
    text_px = round(label_font().pixelSize() * view_scale(canvas), 2)
    out = []
    for key, it in canvas.nodes.items():
        if not it.isVisible() or it.opacity() < 0.5:
            continue
        r = item_window_rect(canvas, it, win)
        if not r.intersects(view):
            continue
        out.append({
            "key": key,
            "label": it.label,
            "kind": it.kind,
            "phase": it.phase,
            "group": it.is_group,
            "rect": [round(r.x(), 1), round(r.y(), 1), round(r.width(), 1),
                     round(r.height(), 1)],
            "text_px": text_px,
            "highlighted": bool(it.highlighted),
            "lit": it.state == "active",
        })
    out.sort(key=lambda d: (d["rect"][1], d["rect"][0]))
    return out
