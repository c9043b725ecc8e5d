"""Playback and steps in the main window: play/pause, op steps, speed, the timeline.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create.
"""

from __future__ import annotations

from graphstage.viz.gui.pane_texts import PHASE_NAMES
from graphstage.viz.gui.timeline import timeline_row

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class PlayingMixin:
    """Playback and steps in the main window."""

    def _update_timeline(self) -> None:
        """One timeline row per pane with a session: each framework's own steps."""
        rows = [timeline_row(p.controller.session) for p in self.panes
                if p.controller.session is not None]
        self.timeline.set_rows(rows)
        self.timeline.set_step(self.pane.controller.step)

    def _diff_text(self, text: str) -> None:
        c = self.pane.controller
        self.diff_label.setText(f"<b>Step {c.step + 1}</b>: {text}" if c.step > 0
                                else f"<b>Step 1</b>: {text}")

    def set_step(self, step: int) -> None:
        """Go to a training step in every pane (morphing the graphs)."""
        for p in self.panes:
            if p.controller.session is not None:
                p.controller.set_step(min(step, p.controller.step_count - 1))

    def toggle_play(self) -> None:
        if any(p.player.playing for p in self.panes) or self._resume:
            self._resume = False
            for p in self.panes:
                p.player.pause()
        else:
            for p in self.panes:
                p.player.play()

    def step_op(self) -> None:
        self._resume = False
        for p in self.panes:
            p.player.step_op()

    def _player_finished(self) -> None:
        if any(p.player.playing for p in self.panes):
            return
        c = self.pane.controller
        if self._autoadvance and c.step + 1 < c.step_count:
            self._resume = True
            self.set_step(c.step + 1)
            if not any(p.canvas.morphing for p in self.panes):
                self._morph_finished()

    def _morph_finished(self) -> None:
        if self._resume and not any(p.canvas.morphing for p in self.panes):
            self._resume = False
            for p in self.panes:
                p.player.play()

    def _position(self, t: float, total: float) -> None:
        self.scrub.blockSignals(True)
        self.scrub.setValue(int(1000 * t / total) if total else 0)
        self.scrub.blockSignals(False)
        phases = {p.phase_text for p in self.panes if p.player.schedule is not None}
        if len(phases) == 1:   # one pane, or both in the same phase: say it here too
            phase = phases.pop()
            color = self.theme.phase.get(phase, self.theme.muted).name()
            self.phase_label.setText(f"<b style='color:{color}'>{PHASE_NAMES.get(phase, '')}"
                                     f"</b>  {t:.1f}/{total:.1f} s")
        else:                  # each pane names its own phase over its graph
            self.phase_label.setText(f"{t:.1f}/{total:.1f} s")

    def _play_state(self, playing: bool) -> None:
        self.act_play.setText("⏸ Pause" if playing else "▶ Play")

    def _scrubbed(self, value: int) -> None:
        self._resume = False
        for p in self.panes:
            p.player.pause()
            if p.player.schedule is not None:
                p.player.seek(p.player.schedule.total * value / 1000)

    def _speed(self, index: int) -> None:
        for p in self.panes:
            p.player.speed = SPEEDS[index]

    def _time_true(self, on: bool | None = None) -> None:
        on = self.act_time_true.isChecked() if on is None else on
        self.layouts.time_true = on     # the layout worker prepares schedules of this mode
        for p in self.panes:
            p.set_time_true(on)
