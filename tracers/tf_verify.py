"""Check a TensorFlow trace against the concrete function's own graph (graphstage verify).

The step is traced raw (resource placeholders and ReadVariableOps kept, as TensorFlow has them)
and compared with ``ConcreteFunction.graph``, the graph TensorFlow itself runs: every op there
must be a traced node of the same type, every data input an edge, and the trace must hold
nothing the function does not (besides the variables its placeholders stand for).
"""

from __future__ import annotations

from typing import Any

from graphstage.tracers.script import ModelScript
from graphstage.tracers.torch_verify import StepCheck


def check(ms: ModelScript, steps: int) -> list[StepCheck]:
    """Trace ``steps`` steps of a TensorFlow model script raw and compare each with its
    concrete function's graph."""
    from graphstage.tracers.tf_tracer import FunctionTracer

    if "graph" in ms.extras:
        return [StepCheck(i, 0, 0, 0, ["TF1 graphs are not verified yet"]) for i in range(steps)]
    tracer = FunctionTracer(ms, fold=False, values="none")
    out = []
    for i in range(steps):
        graph, _loss, _wall = tracer.step(i)
        if graph.graph["capture"] == "tf eager" or len(graph.graph.get("calls", ())) > 1:
            out.append(StepCheck(i, 0, 0, 0, ["eager steps and steps of several tf.function "
                                              "calls are not verified yet"]))
            continue
        out.append(_compare(i, graph, tracer.last.cf))
    return out


def _compare(index: int, graph: Any, cf: Any) -> StepCheck:
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
            result.mismatches.append(f"{name}: {op.type} in the function, not traced")
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
    sources = sum(1 for a in graph.nodes.values() if a["op"] in ("Placeholder", "VarHandleOp"))
    if sources != placeholders:
        result.mismatches.append(f"{placeholders} placeholders in the function, {sources} "
                                 "source nodes traced")
    result.backward_nodes = sum(1 for a in graph.nodes.values() if a["phase"] == "backward")
    return result
