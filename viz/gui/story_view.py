"""The caption bar and the story camera: each example's claim over the panes, with the numbers
of the step shown, and, when a graph opens, the camera on the boxes that prove it."""

from __future__ import annotations

from typing import Any

from graphstage.viz.gui.opening import frame_nodes
from graphstage.viz.gui.story import story_for


def show_story(win: Any, index: int, reason: str) -> None:
    """Update the caption (first pane; both claims side by side) and frame the proof on load."""
    pane = win.panes[index]
    c = pane.controller
    if c.session is None:
        return
    story = story_for(c.session, c.step)
    if story is not None and reason == "load" and pane.canvas.display is not None:
        frame_nodes(pane.canvas, pane.canvas.display, story.focus)
    parts = []
    for p in win.panes:
        s = story_for(p.controller.session, p.controller.step) \
            if p.controller.session is not None else None
        if s is not None:
            parts.append(s.caption)
    win.caption_text = "\n".join(parts)
    win.caption.setText(win.caption_text)
    win.caption.setStyleSheet("background: #fff8e1; color: #3b2f00; font-size: 13px;")
    win.caption.setVisible(bool(parts))
