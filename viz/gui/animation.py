"""The one animation clock, the per-step play schedule, and the player that walks it.

Every moving thing (op highlights, edge pulses, step morphs, in both split panes) advances from
:class:`AnimationClock`'s single QTimer; nothing else in the app owns a timer for animation.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

if TYPE_CHECKING:
    import networkx as nx

FRAME_MS = 16
PHASES = ("forward", "backward", "update")  # graphstage.tracers.contract.PHASES, without networkx


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


@dataclass(frozen=True)
class Event:
    """One display box lighting up: [start, end) in schedule seconds."""

    start: float
    end: float
    key: str
    node: str
    phase: str


@dataclass(frozen=True)
class Pulse:
    """A dot travelling along one display edge while its tensor (or gradient) is produced."""

    start: float
    end: float
    edge: tuple[str, str]
    phase: str


class Schedule:
    """When each box lights up and each pulse travels, for one step and one collapse state."""

    def __init__(self, graph: nx.DiGraph, rep: dict[str, str], beat: float | None = None) -> None:
        executed = [(a["phase"], a["order"], n) for n, a in graph.nodes(data=True)
                    if a["order"] >= 0]
        executed.sort(key=lambda e: (PHASES.index(e[0]), e[1], e[2]))
        self.beat = beat or max(0.02, min(0.3, 14.0 / max(len(executed), 1)))
        events: list[Event] = []
        fire: dict[str, float] = {}
        t = 0.0
        self.phase_start: dict[str, float] = {}
        for phase, _order, n in executed:
            self.phase_start.setdefault(phase, t)
            fire[n] = t
            events.append(Event(t, t + self.beat, rep[n], n, phase))
            t += self.beat
        self.total = t + self.beat * 2
        for phase in PHASES:
            self.phase_start.setdefault(phase, t)
        # Sources (inputs, parameters, constants) are lit from the start.
        self.sources = [rep[n] for n, a in graph.nodes(data=True) if a["order"] < 0]
        pulses = []
        for u, v, a in graph.edges(data=True):
            ku, kv = rep[u], rep[v]
            if ku == kv:
                continue
            start = fire.get(u, 0.0 if graph.nodes[u]["order"] < 0 else None)
            if start is None:
                continue
            if graph.nodes[u]["order"] < 0:
                start = max(0.0, fire.get(v, 0.0) - self.beat)
            pulses.append(Pulse(start, start + self.beat * 1.5, (ku, kv),
                                a.get("phase", "forward")))
        self.events = events
        self.starts = [e.start for e in events]
        pulses.sort(key=lambda p: p.start)
        self.pulses = pulses
        self.pulse_starts = [p.start for p in pulses]

    def fired(self, t: float) -> int:
        """How many events have started by time t."""
        return bisect_right(self.starts, t)

    def phase_at(self, t: float) -> str:
        """The phase playing at time t ('done' after the update)."""
        n = self.fired(t)
        if n == 0:
            return "forward"
        if n >= len(self.events) and t >= self.total - self.beat:
            return "done"
        return self.events[n - 1].phase

    def next_event_time(self, t: float) -> float:
        """Start of the first event after t (for 'step one op')."""
        n = self.fired(t)
        return self.events[n].start if n < len(self.events) else self.total


class NodeView:
    """What a player needs from a canvas (implemented by graphstage.viz.gui.canvas.GraphCanvas)."""

    def set_node_states(self, states: dict[str, str]) -> None: ...
    def set_pulses(self, pulses: list[tuple[tuple[str, str], float, str]]) -> None: ...
    def set_current(self, key: str | None, node: str | None) -> None: ...


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
        self._applied = 0
        self._active: list[Event] = []
        self._states: dict[str, str] = {}

    def set_schedule(self, schedule: Schedule | None, keep_time: bool = False) -> None:
        """Swap the schedule (new step or collapse state) and redraw at the same or zero time."""
        self.schedule = schedule
        t = self.t if keep_time else 0.0
        self._reset()
        self.seek(t)

    def _reset(self) -> None:
        self._applied = 0
        self._active = []
        self._states = {}
        self.view.set_node_states({})
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
        if t < self.t or not self._states:
            self._reset()
            for k in s.sources:
                self._states[k] = "done"
            changed = dict(self._states)
        else:
            changed = {}
        self.t = t
        n = s.fired(t)
        for ev in s.events[self._applied:n]:
            self._active.append(ev)
        self._applied = max(self._applied, n)
        still = []
        for ev in self._active:
            state = "active" if ev.end > t else "done"
            if self._states.get(ev.key) != state:
                # a group stays active while any of its members is
                if state == "done" and any(o.key == ev.key and o.end > t for o in self._active):
                    continue
                self._states[ev.key] = state
                changed[ev.key] = state
            if ev.end > t:
                still.append(ev)
        self._active = still
        if changed:
            self.view.set_node_states(changed)
        lo = bisect_right(s.pulse_starts, t - s.beat * 1.5 - 1e-9)
        hi = bisect_right(s.pulse_starts, t)
        pulses = [(p.edge, (t - p.start) / (p.end - p.start), p.phase)
                  for p in s.pulses[max(0, lo - 64):hi] if p.start <= t < p.end]
        self.view.set_pulses(pulses)
        cur = s.events[n - 1] if n else None
        self.view.set_current(cur.key if cur else None, cur.node if cur else None)
        self.positionChanged.emit(t, s.total)


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
