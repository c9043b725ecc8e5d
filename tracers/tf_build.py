"""The nodes, edges and value slots of one converted TensorFlow graph: variables folded into
``param:`` nodes, each other op a node with its kind and key, each tensor an edge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from graphstage.tracers.nx_compat import node_dicts
from graphstage.tracers.tf_links import edge_role
from graphstage.tracers.tf_ops import (
    READ_TYPES,
    is_update_type,
    label,
    numbered,
    scope_of,
    tensor_facts,
)
from graphstage.tracers.tf_scopes import is_variable
from graphstage.tracers.tf_spec import PHASE_RANK, GraphSpec, ValueSlot

Children = Callable[[Any, str], list[dict]]  # (op, its phase) -> the bodies of the functions


class TemplateBuilder:
    """Builds the graph of one template from ops whose phases are known."""

    def __init__(self, spec: GraphSpec, roots: dict[str, str], phase: dict[str, str], *,
                 fold: bool, device: str, values: bool, forced: bool,
                 children: Children) -> None:
        self.spec, self.roots, self.phase = spec, roots, phase
        self.fold, self.device, self.values = fold, device, values
        self.forced = forced  # every op of a nested body put in its caller's phase
        self.children = children
        self.g = nx.DiGraph()
        self._nodes = node_dicts(self.g)
        self.slots: list[ValueSlot] = []
        self.folded: dict[str, list[str]] = {}
        self.post_update: list[tuple[str, str]] = []
        self._first_read: dict[str, str] = {}      # handle op -> first read tensor
        self._keys_used: dict[str, int] = {}
        # id(tensor) -> (tensor, static shape, dtype name, numeric): each tensor is asked for
        # by its op's node, its value slot and every edge it feeds
        self._facts: dict[int, tuple[Any, list[int] | None, str, bool]] = {}
        param_id = {r: f"param:{spec.variables[r].name}" for r in set(roots.values())} \
            if fold else {}
        self._folded_id = {n: param_id[r] for n, r in roots.items()} if fold else {}
        pairs = list(spec.grad_tensors.items()) + list(spec.input_grads.items())
        self._grad_producer: dict[str, str] = {}   # grad op -> variable handle or input op
        for root, t in pairs:
            if t:
                self._grad_producer.setdefault(t.split(":")[0], root)
        dup = spec.grad_ops()
        self._shared = {n for n in dup if dup.count(n) > 1}
        self._loss_ops = {t.split(":")[0] for t in spec.loss_tensors}
        self._out_ops = {t.split(":")[0] for t in spec.output_tensors}

    def node_of(self, op_name: str) -> str:
        """The node id an op becomes: its variable's ``param:`` node when folded."""
        return self._folded_id.get(op_name, op_name)

    # ---- nodes ---------------------------------------------------------------------------

    def add_nodes(self, ops: list[Any]) -> None:
        """One node per op (variables and their reads folded into one node when folding)."""
        for op in ops:
            root = self.roots.get(op.name)
            if root is not None:
                self._add_variable_op(op, root)
            else:
                self._add_plain_op(op)

    def _add_variable_op(self, op: Any, root: str) -> None:
        n, spec, g = op.name, self.spec, self.g
        pid = self.node_of(root)
        self.folded.setdefault(pid, []).append(n)
        if op.type in READ_TYPES and root not in self._first_read:
            self._first_read[root] = op.outputs[0].name
        if pid not in g:
            var = spec.variables[root]
            g.add_node(pid, label=var.name, op="VarHandleOp" if not self.fold else "Variable",
                       kind="parameter" if var.trainable else "constant", phase="forward",
                       scope=scope_of(var.name), order=-1,
                       key=f"{'param' if var.trainable else 'buffer'}:{var.name}",
                       shape=var.shape, dtype=var.dtype, device=op.device or self.device,
                       name=var.name)
            if var.trainable and root in spec.grad_tensors:
                g.nodes[pid]["no_grad"] = spec.grad_tensors[root] is None
        if not self.fold and n != root:
            attrs = self._add_op_node(op, "op", self.phase.get(n, "forward"))
            self._value_slot(op, attrs["device"])

    def _kind_of(self, op: Any) -> str:
        n, spec = op.name, self.spec
        if n in spec.inputs:
            return "input"
        if op.type == "Const":
            return "constant"
        if n in self._loss_ops:
            return "loss"
        if is_update_type(op.type):
            return "update"
        if n in self._grad_producer and n not in self._shared and \
                self.phase.get(n) == "backward":
            return "grad_acc"
        if n in self._out_ops:
            return "output"
        return "op"

    def _add_plain_op(self, op: Any) -> None:
        n = op.name
        kind = self._kind_of(op)
        p = "forward" if kind == "input" and not self.forced else self.phase.get(n, "forward")
        attrs = self._add_op_node(op, kind, p)
        if kind == "input":
            attrs["key"] = f"input:{n}"
        elif kind == "update":
            self._key_update(op, attrs)
        elif kind == "grad_acc":
            src = self._grad_producer[n]
            roots = self.roots
            attrs["param"] = self.node_of(src) if src in roots else src
            name = self.spec.variables[roots[src]].name if src in roots else src
            attrs["key"] = numbered(f"grad:{name}", self._keys_used)
        children = self.children(op, attrs["phase"])
        if children:
            attrs["children"] = children
        self._value_slot(op, attrs["device"])

    def _key_update(self, op: Any, attrs: dict) -> None:
        """An update's ``param`` and ``update:<variable>`` key (``update:<op>`` when it writes
        no known variable, or is a TF1 initialiser the step does not run)."""
        n, spec = op.name, self.spec
        src = self.roots.get(op.inputs[0].op.name) if op.inputs else None
        if src is not None:
            attrs["param"] = self.node_of(src)
            self.post_update.append((n, src))
        ran = spec.executed is None or n in spec.executed
        name = spec.variables[src].name if src and ran else n
        attrs["key"] = numbered(f"update:{name}", self._keys_used)

    def _facts_of(self, t: Any) -> tuple[Any, list[int] | None, str, bool]:
        """(t, static shape, dtype name, numeric) of a tensor, worked out once."""
        f = self._facts.get(id(t))
        if f is None:
            f = self._facts[id(t)] = (t, *tensor_facts(t))
        return f

    def _add_op_node(self, op: Any, kind: str, phase: str) -> dict:
        """Add op's node; its attribute dict."""
        n, op_type, outs = op.name, op.type, op.outputs
        shape, dtype = self._facts_of(outs[0])[1:3] if outs else (None, None)
        self.g.add_node(n, label=label(op_type, shape, output=bool(outs)), op=op_type,
                        kind=kind, phase=phase, scope=scope_of(n), order=0, key=n,
                        shape=_copy(shape), dtype=dtype, device=op.device or self.device,
                        name=n)
        return self._nodes[n]

    def _value_slot(self, op: Any, device: str) -> None:
        if self.values and op.outputs:
            t, shape, dtype, numeric = self._facts_of(op.outputs[0])
            if numeric:
                self.slots.append(ValueSlot(op.name, "value", t.name, _copy(shape), dtype,
                                            device))

    # ---- edges ---------------------------------------------------------------------------

    def add_edges(self, ops: list[Any]) -> None:
        """Data edges along op inputs, control edges along control inputs; a variable node
        takes the earliest phase that uses it."""
        g, roots = self.g, self.roots
        nodes = node_dicts(g)
        succ = g.succ
        used_phase: dict[str, str] = {}
        for op in ops:
            if op.name in roots and (self.fold or roots[op.name] == op.name):
                continue
            v = op.name
            av = nodes[v]
            for t in op.inputs:
                u = self.node_of(t.op.name)
                au = nodes.get(u)
                if u == v or au is None or v in succ[u]:
                    continue
                role = edge_role(au, av)
                pv = av["phase"]
                _, shape, dtype, _ = self._facts_of(t)
                g.add_edge(u, v, role=role, phase=pv if role != "saved" else "backward",
                           shape=_copy(shape), dtype=dtype)
                if is_variable(au):
                    cur = used_phase.get(u)
                    if cur is None or PHASE_RANK[pv] < PHASE_RANK[cur]:
                        used_phase[u] = pv
            for c in op.control_inputs:
                u = self.node_of(c.name)
                if u == v or u not in nodes or v in succ[u]:
                    continue
                if c.name in roots and self.fold and c.type in READ_TYPES:
                    continue  # ordering on a folded read: part of the variable node now
                g.add_edge(u, v, role="control", phase=av["phase"])
        for pid, ph in used_phase.items():
            nodes[pid]["phase"] = ph

    # ---- values of variables and gradients -----------------------------------------------

    def add_variable_slots(self) -> None:
        """Value and gradient slots of the variables and of inputs with a gradient."""
        if not self.values:
            return
        g = self.g
        for root, var in self.spec.variables.items():
            pid = self.node_of(root)
            if pid not in g:
                continue
            read = self._first_read.get(root)
            if read:
                self.slots.append(ValueSlot(pid, "value", read, var.shape, var.dtype or "",
                                            g.nodes[pid]["device"]))
            gt = self.spec.grad_tensors.get(root)
            if gt:
                self.slots.append(ValueSlot(pid, "grad", gt, var.shape, var.dtype or "",
                                            g.nodes[pid]["device"]))
        for inp, gt in self.spec.input_grads.items():
            if inp in g:
                a = g.nodes[inp]
                self.slots.append(ValueSlot(inp, "grad", gt, a.get("shape"),
                                            a.get("dtype") or "", a["device"]))


def _copy(shape: list[int] | None) -> list[int] | None:
    """A node's or edge's own copy of a cached shape (attributes never share lists)."""
    return None if shape is None else list(shape)
