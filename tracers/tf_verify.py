"""Check a TensorFlow trace against an independent record of the same run (graphstage verify).

A step of tf.function calls is traced raw (resource placeholders and ReadVariableOps kept, as
TensorFlow has them) and each call's part of the step graph (its nodes under the call's label,
``train_d/...``, plus the variables they read) is compared with that call's
``ConcreteFunction.graph``, the graph TensorFlow itself runs: every op there must be a traced
node of the same type, every data input an edge, and the part must hold nothing the function
does not (besides the variables its placeholders stand for). An eager step (recorded op by op,
tracers/tf_eager.py) is compared with a second, independent op callback opened around the same
run: the ops of each type it saw must be the op nodes of that type recorded (reads of known
variables fold into variable nodes, so there may be fewer ReadVariableOp nodes than reads).
Mismatches are listed by key (the node key, or the op type for eager counts).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from graphstage.tracers import tf_compat
from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.script import ModelScript
from graphstage.tracers.torch_verify import StepCheck

_SOURCES = ("Placeholder", "VarHandleOp")


def check(ms: ModelScript, steps: int) -> list[StepCheck]:
    """Trace ``steps`` steps of a TensorFlow model script raw and compare each with its
    independent record (the concrete functions' graphs, or a second op log)."""
    from graphstage.tracers.tf_tracer import FunctionTracer

    if "graph" in ms.extras:
        return [StepCheck(i, 0, 0, 0, ["TF1 graphs are not verified yet"]) for i in range(steps)]
    tracer = FunctionTracer(ms, fold=False, values="none")
    out = []
    for i in range(steps):
        with EagerOpLog(tracer.tf) as log:
            graph, _loss, _wall = tracer.step(i)
        if graph.graph["capture"] == "tf eager":
            out.append(compare_eager(i, graph, log.counts))
        else:
            out.append(compare_calls(i, graph, [(r.label, r.captured.cf)
                                                for r in tracer.records]))
    return out


class EagerOpLog:
    """Context manager: counts the eager ops run while it is open, by type (its own op
    callback, independent of the eager recorder's)."""

    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self.counts: Counter[str] = Counter()

    def __enter__(self) -> EagerOpLog:
        tf_compat.add_op_callback(self._on_op)
        return self

    def __exit__(self, *exc: Any) -> None:
        tf_compat.remove_op_callback(self._on_op)

    def _on_op(self, op_type: Any, inputs: Any, attrs: Any, outputs: Any, op_name: Any = None,
               graph: Any = None) -> None:
        if graph is None and self.tf.executing_eagerly():
            self.counts[op_type.decode() if isinstance(op_type, bytes) else str(op_type)] += 1


def compare_eager(index: int, graph: nx.DiGraph, counts: Counter[str]) -> StepCheck:
    """An eager step graph's op nodes against the op types an independent callback saw run."""
    keys: dict[str, list[str]] = {}
    for a in graph.nodes.values():
        if a["kind"] not in SOURCE_KINDS:
            keys.setdefault(a["op"], []).append(a["key"])
    result = StepCheck(index, 0, sum(len(k) for k in keys.values()), sum(counts.values()))
    for op in sorted(set(keys) | set(counts)):
        ran, recorded = counts.get(op, 0), len(keys.get(op, ()))
        if ran == recorded or (op == "ReadVariableOp" and recorded <= ran):
            continue
        shown = ", ".join(sorted(keys.get(op, []))[:5]) or "none"
        result.mismatches.append(f"{op}: ran {ran} times, {recorded} recorded ({shown})")
    result.backward_nodes = sum(1 for a in graph.nodes.values() if a["phase"] == "backward")
    return result


def compare_calls(index: int, graph: nx.DiGraph, calls: list[tuple[str, Any]]) -> StepCheck:
    """A step graph of tf.function calls against each call's concrete function's graph
    (calls: (label, concrete function) in call order; one call: the whole graph)."""
    if len(calls) == 1:
        return _compare(index, graph, calls[0][1])
    result = StepCheck(index, 0, 0, 0)
    owned: set[str] = set()
    for label, cf in calls:
        part = call_part(graph, label)
        owned.update(part)
        c = _compare(index, part, cf, prefix=f"{label}/")
        result.forward_ops += c.forward_ops
        result.aten_ops += c.aten_ops
        result.mismatches += c.mismatches
    result.mismatches += [f"{graph.nodes[n]['key']}: traced node of no call"
                          for n in graph if n not in owned]
    result.backward_nodes = sum(1 for a in graph.nodes.values() if a["phase"] == "backward")
    return result


def call_part(graph: nx.DiGraph, label: str) -> nx.DiGraph:
    """One call's part of a composed step graph: its nodes (ids under ``label/``) and the
    shared variable nodes they read."""
    own = {n for n in graph if n.startswith(f"{label}/")}
    shared = {p for n in own for p in graph.predecessors(n)
              if p not in own and graph.nodes[p]["op"] in _SOURCES}
    return graph.subgraph(own | shared)


def _compare(index: int, graph: nx.DiGraph, cf: Any, prefix: str = "") -> StepCheck:
    ops = {op.name: op for op in cf.graph.get_operations()}
    by_name = {a.get("name", n): (n, a) for n, a in graph.nodes(data=True)}
    result = StepCheck(index, 0, len(ops), len(ops))
    placeholders = 0
    for name, op in ops.items():
        if op.type == "Placeholder":
            placeholders += 1
            continue
        hit = by_name.get(name)
        if hit is None:
            result.mismatches.append(f"{prefix}{name}: {op.type} in the function, not traced")
        elif hit[1]["op"] != op.type:
            result.mismatches.append(f"{hit[1]['key']}: traced as {hit[1]['op']}, "
                                     f"{op.type} in the function")
        else:
            for t in op.inputs:
                src = by_name.get(t.op.name)
                if src is not None and t.op.type != "Placeholder" and \
                        not graph.has_edge(src[0], hit[0]):
                    result.mismatches.append(f"{hit[1]['key']}: input {t.op.name} has no edge")
    extra = [a["key"] for name, (_n, a) in by_name.items()
             if name not in ops and a["kind"] == "op"]
    result.mismatches += [f"{k}: traced op not in the function" for k in extra]
    sources = sum(1 for a in graph.nodes.values() if a["op"] in _SOURCES)
    if sources != placeholders:
        result.mismatches.append(f"{prefix or 'the function'}: {placeholders} placeholders in "
                                 f"the function, {sources} source nodes traced")
    result.backward_nodes = sum(1 for a in graph.nodes.values() if a["phase"] == "backward")
    return result
