"""Convert a TensorFlow graph (a tf.function's FuncGraph or a TF1 tf.Graph) into a contract step
graph template: nodes, edges, phases, kinds, keys, folded variables and nested function bodies.

The template holds structure only; tracers/tf_values.py fills in the values of each step. Works on
TensorFlow objects by duck typing (op.type, op.name, op.inputs ...), so it imports nothing heavy.
The work is split by concern: tf_phases (phase of each op), tf_build (nodes, edges, value
slots), tf_links (edge roles, backward -> forward links), tf_nested (function bodies), tf_ops and
tf_spec (op helpers and data types, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.tf_build import TemplateBuilder
from graphstage.tracers.tf_links import link_backward
from graphstage.tracers.tf_nested import body_spec, call_variables, has_own_phases
from graphstage.tracers.tf_ops import (
    GRAD_COMPONENT,
    ancestors,
    dtype_of,
    fold_map,
    function_attrs,
    is_grad_name,
    is_numeric,
    is_update_type,
    shape_of,
    topo_ops,
)
from graphstage.tracers.tf_phases import classify_phases
from graphstage.tracers.tf_scopes import tidy_scopes
from graphstage.tracers.tf_spec import (
    OPTIMIZER_SCOPES,
    PHASE_RANK,
    GraphSpec,
    Template,
    ValueSlot,
    VarInfo,
)

__all__ = ["OPTIMIZER_SCOPES", "PHASE_RANK", "Converter", "GraphSpec", "Template", "ValueSlot",
           "VarInfo", "ancestors", "dtype_of", "fold_map", "function_attrs", "is_grad_name",
           "is_numeric", "is_update_type", "number_ops", "shape_of", "topo_ops"]


class Converter:
    """Builds templates for a top-level graph and, recursively, the functions its ops call."""

    def __init__(self, *, fold: bool, device: str,
                 resolve_function: Callable[[str], Any]) -> None:
        self.fold = fold
        self.device = device
        self.resolve_function = resolve_function  # name -> FuncGraph or None
        self._child_cache: dict[tuple, nx.DiGraph] = {}

    def convert(self, graph: Any, spec: GraphSpec, *, forced_phase: str | None = None,
                nested: bool = False, path: str = "") -> Template:
        """The template of one graph; nested: a function body (no value slots, its inputs are
        the caller's); forced_phase puts every node of a body in its caller's phase."""
        ops = [op for op in graph.get_operations()
               if not (spec.exclude_prefix and op.name.startswith(spec.exclude_prefix))]
        preds = {op.name: [t.op.name for t in op.inputs] for op in ops}
        cpreds = {op.name: [c.name for c in op.control_inputs] for op in ops}
        ops = topo_ops(ops, preds, cpreds)
        preds = {op.name: preds[op.name] for op in ops}    # in op order, as the passes
        cpreds = {op.name: cpreds[op.name] for op in ops}  # below walk them
        roots = fold_map(ops, spec.variables) if spec.variables else {}
        phase = classify_phases(ops, spec, roots, preds, cpreds)
        if forced_phase:
            phase = dict.fromkeys(phase, forced_phase)
        b = TemplateBuilder(spec, roots, phase, fold=self.fold, device=self.device,
                            values=not nested, forced=bool(forced_phase),
                            children=lambda op, p: self._children(op, p, roots, spec, path))
        b.add_nodes(ops)
        b.add_edges(ops)
        b.add_variable_slots()
        g = b.g
        link_backward(g, phase, roots, b.node_of)
        tidy_scopes(g, GRAD_COMPONENT, spec.keras_scopes, spec.optimizer_scopes)
        number_ops(g, ops, b.node_of, spec.executed)
        return Template(graph=g, slots=b.slots, folded=b.folded if self.fold else {},
                        op_count=sum(1 for op in ops if not (self.fold and op.name in roots)),
                        post_update=b.post_update)

    def _children(self, op: Any, phase: str, roots: dict[str, str], spec: GraphSpec,
                  path: str) -> list[dict]:
        """The converted bodies of the functions op calls (cached per function, phase and the
        variables passed in), as the contract's ``children`` entries. A body called in the
        forward phase that computes gradients or writes variables (a train step called as a
        function, e.g. Keras' one_step_on_data) gets phases of its own, as a top-level graph;
        every other body is in its caller's phase."""
        attrs = function_attrs(op)
        if not attrs:
            return []
        out = []
        names = call_variables(op, roots, spec)
        for attr, fname in attrs:
            key = (fname, phase, tuple(sorted((i, v.name) for i, v in names.items())))
            child = self._child_cache.get(key)
            if child is None:
                fg = self.resolve_function(fname)
                if fg is None:
                    continue
                forced = None if phase == "forward" and has_own_phases(fg) else phase
                child = self.convert(fg, body_spec(fg, names, spec.optimizer_scopes),
                                     forced_phase=forced, nested=True,
                                     path=f"{path}/{op.name}:{attr}").graph
                self._child_cache[key] = child
            out.append({"name": f"{attr}: {fname}", "graph": child})
        return out


def number_ops(g: nx.DiGraph, ops: list[Any], node_of: Callable[[str], str],
               executed: set[str] | None) -> None:
    """Number the nodes per phase in op order (``order``); sources and ops that did not run
    get -1."""
    counters = dict.fromkeys(PHASE_RANK, 0)
    seen: set[str] = set()
    for op in ops:
        nid = node_of(op.name)
        if nid in seen or nid not in g:
            continue
        seen.add(nid)
        attrs = g.nodes[nid]
        if attrs["kind"] in SOURCE_KINDS or (executed is not None and nid not in executed):
            attrs["order"] = -1  # sources are never numbered; unexecuted ops did not run
            continue
        attrs["order"] = counters[attrs["phase"]]
        counters[attrs["phase"]] = attrs["order"] + 1
    for nid in g.nodes:
        if nid not in seen:
            g.nodes[nid]["order"] = -1
