"""The one animation clock, the per-step play schedule, and the player that walks it.

Every moving thing (op highlights, edge pulses, step morphs, in both split panes) advances from
:class:`AnimationClock`'s single QTimer; nothing else in the app owns a timer for animation.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from graphstage.viz.gui.schedule import PHASES, Event, Pulse, Schedule, Span

__all__ = ["PHASES", "AnimationClock", "Event", "NodeView", "Player", "Pulse", "Schedule",
           "Span", "Tween"]

FRAME_MS = 16


class AnimationClock(QObject):
    """A single 60 Hz timer; clients get tick(dt) while they report they are still busy."""

    ticked = Signal(float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._tick)
        self._elapsed = QElapsedTimer()
        self._clients: list[Callable[[float], bool]] = []
        self.frame_times: list[float] | None = None  # set to a list to record frame costs (s)

    def add(self, client: Callable[[float], bool]) -> None:
        """Drive client(dt) every frame until it returns False."""
        if client not in self._clients:
            self._clients.append(client)
        if not self._timer.isActive():
            self._elapsed.start()
            self._timer.start()

    def remove(self, client: Callable[[float], bool]) -> None:
        if client in self._clients:
            self._clients.remove(client)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        dt = min(self._elapsed.restart() / 1000.0, 0.1)
        t0 = QElapsedTimer()
        t0.start()
        for client in list(self._clients):
            if not client(dt):
                self.remove(client)
        self.ticked.emit(dt)
        if not self._clients:
            self._timer.stop()
        if self.frame_times is not None:
            self.frame_times.append(t0.nsecsElapsed() / 1e9)


class NodeView:
    """What a player needs from a canvas (implemented by graphstage.viz.gui.canvas.GraphCanvas)."""

    def set_node_states(self, states: dict[str, str]) -> None: ...
    def set_pulses(self, pulses: list[tuple[tuple[str, str], float, str]]) -> None: ...
    def set_current(self, key: str | None, node: str | None) -> None: ...
    def set_progress(self, progress: dict[str, tuple[int, int] | None]) -> None: ...


class Player(QObject):
    """Walks one Schedule on the shared clock and tells the canvas what is lit."""

    positionChanged = Signal(float, float)  # t, total
    finished = Signal()
    stateChanged = Signal(bool)             # playing

    def __init__(self, clock: AnimationClock, view: NodeView, parent: QObject | None = None):
        super().__init__(parent)
        self.clock = clock
        self.view = view
        self.schedule: Schedule | None = None
        self.t = 0.0
        self.speed = 1.0
        self.playing = False
        self._on = self._off = 0
        self._lit: set[str] = set()
        self._states: dict[str, str] = {}

    def set_schedule(self, schedule: Schedule | None, keep_time: bool = False) -> None:
        """Swap the schedule (new step or collapse state) and redraw at the same or zero time."""
        self.schedule = schedule
        t = self.t if keep_time else 0.0
        if schedule is None:
            self._reset()
        self._states = {}   # seek() starts from a clean slate (one pass over the boxes)
        self.seek(t)

    def _reset(self) -> None:
        self._on = self._off = 0
        self._lit = set()
        self._states = {}
        self.view.set_node_states({})
        self.view.set_progress({})
        self.view.set_pulses([])
        self.view.set_current(None, None)

    def play(self) -> None:
        if self.schedule is None:
            return
        if self.t >= self.schedule.total:
            self.seek(0.0)
        self.playing = True
        self.clock.add(self._tick)
        self.stateChanged.emit(True)

    def pause(self) -> None:
        self.playing = False
        self.clock.remove(self._tick)
        self.stateChanged.emit(False)

    def step_op(self) -> None:
        """Advance to the next op and pause there."""
        if self.schedule is not None:
            self.pause()
            self.seek(self.schedule.next_event_time(self.t) + 1e-6)

    def _tick(self, dt: float) -> bool:
        if not self.playing or self.schedule is None:
            return False
        self.seek(self.t + dt * self.speed)
        if self.t >= self.schedule.total:
            self.playing = False
            self.stateChanged.emit(False)
            self.finished.emit()
            return False
        return True

    def seek(self, t: float) -> None:
        """Show the animation at time t (scrubbing backwards replays from the start)."""
        s = self.schedule
        if s is None:
            self.t = 0.0
            return
        t = max(0.0, min(t, s.total))
        changed: dict[str, str] = {}
        if t < self.t or not self._states:
            self._reset()
            for k in s.sources:
                self._states[k] = changed[k] = "done"
        self.t = t
        on = bisect_right(s.on_times, t)
        for _, key in s.on[self._on:on]:
            self._states[key] = changed[key] = "active"
            self._lit.add(key)
        off = bisect_right(s.off_times, t)
        for _, key in s.off[self._off:off]:
            self._states[key] = changed[key] = "done"
            self._lit.discard(key)
        self._on, self._off = on, off
        if changed:
            self.view.set_node_states(changed)
        self._show_progress(t, changed)
        self.view.set_pulses(s.pulses_at(t))
        n = s.fired(t)
        cur = s.events[n - 1] if n else None
        self.view.set_current(cur.key if cur else None, cur.node if cur else None)
        self.positionChanged.emit(t, s.total)

    def _show_progress(self, t: float, changed: dict[str, str]) -> None:
        """Tell the view how far each lit multi-op box (a collapsed group) has got."""
        s = self.schedule
        progress = {}
        for key in self._lit:
            span = s.spans[key]
            if span.count > 1:
                progress[key] = (span.progress(t), span.count)
        for key, state in changed.items():
            if state == "done" and key in s.spans and s.spans[key].count > 1:
                progress[key] = None
        if progress:
            self.view.set_progress(progress)


class Tween:
    """A 0..1 progress over `duration` seconds on the shared clock, calling update(p)."""

    def __init__(self, clock: AnimationClock, duration: float,
                 update: Callable[[float], None], done: Callable[[], None] | None = None) -> None:
        self.clock, self.duration, self.update, self.done = clock, duration, update, done
        self.p = 0.0
        self.started = False

    def start(self) -> None:
        self.clock.add(self._tick)

    def finish(self) -> None:
        """Jump to the end now (a newer morph replaces this one)."""
        self.clock.remove(self._tick)
        if self.p < 1.0:
            self.p = 1.0
            self.update(1.0)
            if self.done:
                self.done()

    def _tick(self, dt: float) -> bool:
        self.started = True
        self.p = min(1.0, self.p + dt / self.duration)
        e = self.p * self.p * (3 - 2 * self.p)
        self.update(e)
        if self.p >= 1.0:
            if self.done:
                self.done()
            return False
        return True
