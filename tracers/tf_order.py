"""The order in which TensorFlow's runtime started the ops of a function call, read from its
profiler's host trace (tf.profiler.experimental.start/stop) rather than from an extra run."""

from __future__ import annotations

import heapq
import logging
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any, NamedTuple

import networkx as nx

from graphstage.tracers import tf_compat

log = logging.getLogger("graphstage.tracers.tf_order")


class Kernel(NamedTuple):
    """One kernel run as the profiler recorded it: start and duration in picoseconds, the
    node name (function-runner prefix included) and the op type."""

    start_ps: int
    duration_ps: int
    node: str
    op_type: str


class Span(NamedTuple):
    """What the runtime ran for one op of the graph: first start and summed duration in
    picoseconds, and the kernel type that ran under the op's own name ("" when only ops
    nested under it ran, e.g. an inlined call's)."""

    start_ps: int
    duration_ps: int
    kernel: str


# ops the runtime adds around a function body; they are no nodes of the traced graph
_INTERNAL = frozenset({"_Arg", "_Retval", "_DeviceArg", "_DeviceRetval", "_Send", "_Recv",
                       "_HostSend", "_HostRecv"})
_PROCESS = "ExecutorState::Process"
_ASYNC_START = "ExecutorState::ProcessAsync::Start"


class OrderRecorder:
    """Context manager: while active, the runtime's executed-op timeline of function calls is
    recorded (with TensorFlow's profiler, host trace only; nothing runs twice)."""

    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self._dir: str | None = None
        self._started = False
        # each kernel the top-level executors started, by start time
        self._starts: list[Kernel] | None = None

    def __enter__(self) -> OrderRecorder:
        prof = self.tf.profiler.experimental
        self._starts = None
        self._dir = tempfile.mkdtemp(prefix="graphstage-order-")
        busy = tf_compat.profiler_running()  # someone else's: keep it
        try:
            prof.start(self._dir, options=prof.ProfilerOptions(
                host_tracer_level=2, python_tracer_level=0, device_tracer_level=0))
            self._started = True
        except Exception as exc:  # another profiler (server or session) runs: record nothing
            log.info("TensorFlow profiler busy, no runtime op order or durations: %s", exc)
            if not busy and tf_compat.profiler_running():
                # start() keeps its half-made session when the C++ side refuses; drop it
                try:
                    prof.stop(save=False)
                except Exception as stop_exc:  # noqa: BLE001 - nothing left to stop
                    log.debug("dropping the half-made profiler session: %s", stop_exc)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._started:
                self._started = False
                self.tf.profiler.experimental.stop()  # writes the XSpace, ends the session
                self._starts = _read_starts(Path(self._dir or "."))
        except Exception as exc:  # a failed export only loses the order
            log.info("TensorFlow profiler trace unreadable, topological order kept: %s", exc)
            self._starts = None
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def order(self, prefix: str = "",
              names: Collection[str] | None = None) -> list[str] | None:
        """Op names (node names of the function's graph, with `prefix` stripped, e.g. "gs/") in
        the order the runtime started them; None when nothing could be recorded.

        Given ``names`` (node names, prefix stripped), each op maps to its nearest "/"-enclosing
        name there (an inlined call's or lowered cond/while's ops map to that node) or is dropped.
        """
        if not self._starts:
            return None
        return list(self.spans(prefix, names))

    def spans(self, prefix: str = "",
              names: Collection[str] | None = None) -> dict[str, Span]:
        """Op name (mapped as in order()) -> its kernels' first start and summed duration, in
        the order the runtime started them; empty when nothing was recorded."""
        known = set(names) if names is not None else None
        out: dict[str, Span] = {}
        for start, duration, node, op_type in self._starts or ():
            if op_type in _INTERNAL or not node.startswith(prefix):
                continue
            raw = node[len(prefix):]
            name = _owner(raw, known) if known is not None else raw
            if not name:
                continue
            kernel = op_type if raw == name else ""
            old = out.get(name)
            out[name] = Span(start, duration, kernel) if old is None else \
                Span(old.start_ps, old.duration_ps + duration, old.kernel or kernel)
        return out


def _owner(name: str, known: set[str]) -> str | None:
    """name itself, or its longest "/"-prefix, that is in known (None when neither is)."""
    while name and name not in known:
        name = name.rpartition("/")[0]
    return name or None


def _read_starts(logdir: Path) -> list[Kernel] | None:
    """The kernels of top-level function runs found in the XSpace files under logdir."""
    xspace = tf_compat.xspace_class()
    if xspace is None:
        return None
    starts: list[Kernel] = []
    for path in sorted(logdir.rglob("*.xplane.pb")):
        space = xspace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            if plane.name.startswith("/host:"):
                starts.extend(_plane_starts(plane))
    starts.sort(key=lambda s: s[0])
    return starts or None


def _plane_starts(plane: Any) -> list[Kernel]:
    """Kernels (start, duration, node, op type) of one host plane, each attributed to the
    executor run (step id) whose ExecutorState::Process scope it ran in; runs nested in another
    run's kernels are dropped."""
    stat_names = {k: m.name for k, m in plane.stat_metadata.items()}

    def stats(event: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in event.stats:
            kind = s.WhichOneof("value")
            value = getattr(s, kind) if kind else None
            if kind == "ref_value":
                value = stat_names.get(value, "")
            elif kind == "uint64_value" and value >= 1 << 63:
                value -= 1 << 64  # ids are written signed or unsigned
            out[stat_names.get(s.metadata_id, "")] = value
        return out

    found: list[tuple[Kernel, Any]] = []  # (kernel, run id)
    top: set[Any] = set()
    nested: set[Any] = set()
    for line in plane.lines:
        base = line.timestamp_ns * 1000
        scopes: list[tuple[int, Any]] = []  # (end, run id) of the open executor scopes
        for event in sorted(line.events, key=lambda e: e.offset_ps):
            start = base + event.offset_ps
            while scopes and scopes[-1][0] <= start:
                scopes.pop()
            meta = plane.event_metadata[event.metadata_id]
            name = meta.name
            if name == _PROCESS:
                scopes.append((start + event.duration_ps, stats(event).get("id")))
            elif name == _ASYNC_START:  # an async kernel (a call op) starting
                st = stats(event)
                found.append((Kernel(start, event.duration_ps, str(st.get("name", "")),
                                     str(st.get("kernel_type", ""))), st.get("step_id")))
                scopes.append((start + event.duration_ps, st.get("step_id")))
            elif name == "FunctionRun":
                (nested if scopes else top).add(stats(event).get("id"))
            elif scopes and meta.display_name:
                node, _, op_type = name.partition("#")[0].rpartition(":")
                if node and op_type == meta.display_name:
                    found.append((Kernel(start, event.duration_ps, node, op_type),
                                  scopes[-1][1]))
    return [k for k, run in found
            if run is not None and (run in top or (not top and run not in nested))]


def apply_order(g: nx.DiGraph, recorded: list[str], node_of: dict[str, str]) -> int:
    """Renumber the per-phase `order` of g's executed op nodes to follow the recorded runtime
    order; ops the runtime did not report (constants, ops Grappler removed or folded) come as
    late as the dependencies allow, a folded variable at its first read. Unexecuted ops
    (order -1) keep theirs. Returns how many nodes the record placed."""
    rank: dict[str, int] = {}
    for i, name in enumerate(recorded):
        nid = node_of.get(name, name)
        if nid in g and nid not in rank:
            rank[nid] = i
    if not rank:
        return 0
    last = len(recorded)
    nodes = g.nodes
    counters: dict[str, int] = {}
    for nid in _ranked_topological(g, [(rank.get(n, last), a["order"])
                                       for n, a in nodes(data=True)]):
        a = nodes[nid]
        if a["order"] < 0:
            continue
        a["order"] = counters.get(a["phase"], 0)
        counters[a["phase"]] = a["order"] + 1
    return len(rank)


def _ranked_topological(g: nx.DiGraph, keys: list[tuple[int, int]]) -> list[str]:
    """g's nodes in topological order, among the ready ones the smallest key first (keys in
    node order; ties in node order): networkx's lexicographical_topological_sort with that
    key, over node indices instead of building key tuples and edge views per node."""
    ids = list(g)
    index = {n: i for i, n in enumerate(ids)}
    succ = [[index[c] for c in g.succ[n]] for n in ids]
    indegree = [len(g.pred[n]) for n in ids]
    ready = [(keys[i], i) for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, j = heapq.heappop(ready)
        out.append(ids[j])
        for i in succ[j]:
            indegree[i] -= 1
            if indegree[i] == 0:
                heapq.heappush(ready, (keys[i], i))
    if len(out) < len(ids):
        raise nx.NetworkXUnfeasible("Graph contains a cycle")
    return out
