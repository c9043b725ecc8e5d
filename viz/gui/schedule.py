"""The play schedule of one step: when each op lights, each box's span, and the edge pulses.

A step plays in at most :data:`STEP_BUDGET_S` seconds at 1x whatever its size: the beat (one op's
slot) is the budget over the op count, capped at :data:`MAX_BEAT_S` for small graphs. A box that
holds several ops (a collapsed group) is lit for the span from its first op's start to its last
op's end, and reports how many of its ops have run (its progress). Op events stay one per op, so
stepping op by op ('.') still reaches every op.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

PHASES = ("forward", "backward", "update")  # graphstage.tracers.contract.PHASES, without networkx
STEP_BUDGET_S = 16.0   # op slots of one step at 1x; the total adds two beats of tail
MAX_BEAT_S = 0.3       # a small graph's ops each light this long
PULSE_MIN_S = 0.25     # a pulse travels at least this long, so it stays visible on big graphs
MAX_PULSES = 48        # pulses drawn at once (the latest ones)


MIN_SHARE = 0.05       # time-true: an op's slot is at least this share of the mean slot


def _slots(graph: nx.DiGraph, nodes: list[str], beat: float, time_true: bool
           ) -> list[float] | None:
    """Time-true slots: the same total as the even beat, shared by measured duration_us (every
    op keeps a sliver so op-by-op stepping still shows it); None without measurements."""
    if not time_true or not nodes:
        return None
    durations = [graph.nodes[n].get("duration_us") for n in nodes]
    known = [d for d in durations if d is not None]
    if len(known) < 0.5 * len(nodes):
        return None
    mean = sum(known) / len(known) if known else 1.0
    weights = [max(d if d is not None else mean, MIN_SHARE * mean) for d in durations]
    total = beat * len(nodes)
    scale = total / sum(weights)
    return [w * scale for w in weights]


@dataclass(frozen=True)
class Event:
    """One op lighting up: [start, end) in schedule seconds, on display box `key`."""

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


@dataclass
class Span:
    """When a display box is lit: from its first op's start to its last op's end."""

    start: float
    end: float
    starts: list[float]   # its ops' start times, ascending (progress = how many have started)

    @property
    def count(self) -> int:
        return len(self.starts)

    def progress(self, t: float) -> int:
        """How many of the box's ops have started by time t."""
        return bisect_right(self.starts, t)


class Schedule:
    """When each op and box lights up and each pulse travels, for one step and collapse state."""

    def __init__(self, graph: nx.DiGraph, rep: dict[str, str], beat: float | None = None,
                 time_true: bool = False) -> None:
        executed = [(a["phase"], a["order"], n) for n, a in graph.nodes(data=True)
                    if a["order"] >= 0]
        executed.sort(key=lambda e: (PHASES.index(e[0]), e[1], e[2]))
        self.beat = beat or min(MAX_BEAT_S, STEP_BUDGET_S / max(len(executed), 1))
        slots = _slots(graph, [n for _, _, n in executed], self.beat, time_true)
        self.time_true = time_true and slots is not None
        self.phase_start: dict[str, float] = {}
        self.events: list[Event] = []
        fire: dict[str, float] = {}
        t = 0.0
        for i, (phase, _order, n) in enumerate(executed):
            slot = slots[i] if slots is not None else self.beat
            self.phase_start.setdefault(phase, t)
            fire[n] = t
            self.events.append(Event(t, t + slot, rep[n], n, phase))
            t += slot
        end = t
        self.total = end + self.beat * 2
        for phase in PHASES:
            self.phase_start.setdefault(phase, end)
        self.starts = [e.start for e in self.events]
        # Sources (inputs, parameters, constants) are lit from the start.
        self.sources = list(dict.fromkeys(rep[n] for n, a in graph.nodes(data=True)
                                          if a["order"] < 0))
        self.spans = self._spans()
        self.on = sorted(((s.start, k) for k, s in self.spans.items()))
        self.off = sorted(((s.end, k) for k, s in self.spans.items()))
        self.on_times = [t for t, _ in self.on]
        self.off_times = [t for t, _ in self.off]
        self.pulse_s = max(self.beat * 1.5, min(PULSE_MIN_S, self.beat * 12))
        self.pulses = self._pulses(graph, rep, fire)
        self.pulse_starts = [p.start for p in self.pulses]

    def _spans(self) -> dict[str, Span]:
        spans: dict[str, Span] = {}
        for ev in self.events:
            s = spans.get(ev.key)
            if s is None:
                spans[ev.key] = Span(ev.start, ev.end, [ev.start])
            else:
                s.end = max(s.end, ev.end)
                s.starts.append(ev.start)
        return spans

    def _pulses(self, graph: nx.DiGraph, rep: dict[str, str],
                fire: dict[str, float]) -> list[Pulse]:
        """One pulse per display edge and producing op, thinned so that pulses on the same
        display edge do not overlap."""
        raw = []
        for u, v, a in graph.edges(data=True):
            ku, kv = rep[u], rep[v]
            if ku == kv:
                continue
            if graph.nodes[u]["order"] < 0:
                if v not in fire:
                    continue
                start = max(0.0, fire[v] - self.beat)
            elif u in fire:
                start = fire[u]
            else:
                continue
            raw.append((start, (ku, kv), a.get("phase", "forward")))
        raw.sort(key=lambda p: p[0])
        last: dict[tuple[str, str], float] = {}
        out = []
        for start, edge, phase in raw:
            if start < last.get(edge, -1.0):
                continue
            last[edge] = start + self.pulse_s
            out.append(Pulse(start, start + self.pulse_s, edge, phase))
        return out

    def fired(self, t: float) -> int:
        """How many op events have started by time t."""
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
        """Start of the first op event after t (for 'step one op')."""
        n = self.fired(t)
        return self.events[n].start if n < len(self.events) else self.total

    def pulses_at(self, t: float) -> list[tuple[tuple[str, str], float, str]]:
        """The pulses travelling at t as (edge, fraction travelled, phase), latest last."""
        lo = bisect_right(self.pulse_starts, t - self.pulse_s)
        hi = bisect_right(self.pulse_starts, t)
        live = [p for p in self.pulses[lo:hi] if p.start <= t < p.end]
        return [(p.edge, (t - p.start) / (p.end - p.start), p.phase)
                for p in live[-MAX_PULSES:]]


def schedule_for(display: Any, time_true: bool) -> Schedule:
    """The playback schedule of a display (a DisplayGraph), made once and kept on it."""
    key = ("schedule", bool(time_true))
    sched = display.prepared.get(key)
    if sched is None:
        sched = display.prepared[key] = Schedule(display.graph, display.rep, time_true=time_true)
    return sched
