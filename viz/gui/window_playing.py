"""Playback and steps in the main window: play/pause, op steps, speed, the timeline.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create.
"""

from __future__ import annotations

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class PlayingMixin:
    """Playback and steps in the main window."""

    def _update_timeline(self) -> None:
        s = self.pane.controller.session
        if s is None:
            return
        self.timeline.set_data([m.get("loss") for m in s.metrics],
                               [g.number_of_nodes() for g in s.steps],
                               [not g.graph.get("same_as_previous", False) for g in s.steps],
                               [bool(g.graph.get("retraced")) for g in s.steps])
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
        s = self.pane.player.schedule
        phase = s.phase_at(t) if s else ""
        names = {"forward": "forward pass", "backward": "backward pass", "update": "update",
                 "done": "step done"}
        color = self.theme.phase.get(phase, self.theme.muted).name()
        self.phase_label.setText(f"<b style='color:{color}'>{names.get(phase, '')}</b>"
                                 f"  {t:.1f}/{total:.1f} s")

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
        for p in self.panes:
            p.set_time_true(on)
