"""Convert a TensorFlow graph (a tf.function's FuncGraph or a TF1 tf.Graph) into a contract step
graph template: nodes, edges, phases, kinds, keys, folded variables and nested function bodies.

The template holds structure only; tracers/tf_values.py fills in the values of each step. Works on
TensorFlow objects by duck typing (op.type, op.name, op.inputs ...), so it imports nothing heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graphstage.tracers.schema import SOURCE_KINDS
from graphstage.tracers.tf_scopes import is_variable, tidy_scopes

# Op types that write a variable: the update phase's "update" nodes.
_UPDATE_PREFIXES = ("Assign", "ResourceApply", "ResourceSparseApply", "ResourceScatter",
                    "Apply", "SparseApply", "ScatterAdd", "ScatterSub", "ScatterUpdate")
_READ_TYPES = {"ReadVariableOp"}
_HANDLE_TYPES = {"Placeholder", "VarHandleOp"}
_FUNC_ATTRS = ("body", "cond", "then_branch", "else_branch", "f", "branches")
_GRAD_COMPONENT = re.compile(r"^(gradient_tape|gradients(_\d+)?)$")
_NUMERIC_SKIP = {"resource", "variant", "string"}
PHASE_RANK = {"forward": 0, "backward": 1, "update": 2}
OPTIMIZER_SCOPES = {"adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam",
                    "ftrl", "lion", "lamb", "adafactor", "loss_scale_optimizer"}


@dataclass
class VarInfo:
    """A variable a resource handle stands for: name, trainability, shape, dtype."""

    name: str
    trainable: bool = True
    shape: list[int] | None = None
    dtype: str | None = None


@dataclass
class GraphSpec:
    """What the tracer knows about a graph beyond its ops (all names are TF op/tensor names)."""

    variables: dict[str, VarInfo] = field(default_factory=dict)   # handle op name -> variable
    inputs: set[str] = field(default_factory=set)                 # op names fed as inputs
    loss_tensors: list[str] = field(default_factory=list)
    grad_tensors: dict[str, str | None] = field(default_factory=dict)  # handle op -> grad tensor
    input_grads: dict[str, str] = field(default_factory=dict)     # input op -> grad tensor
    output_tensors: list[str] = field(default_factory=list)
    optimizer_scopes: set[str] = field(default_factory=lambda: set(OPTIMIZER_SCOPES))
    executed: set[str] | None = None                              # TF1: ops Session.run runs
    exclude_prefix: str = "graphstage/"                           # ops the tracer itself added
    keras_scopes: Any = None             # tf_keras_scopes.KerasScopes: the layer of each scope


@dataclass
class ValueSlot:
    """One tensor whose summary goes into a node attribute ('value' or 'grad') each step."""

    node: str
    attr: str
    tensor: str
    shape: list[int] | None
    dtype: str
    device: str


@dataclass
class Template:
    """The converted structure of one graph plus the tensors to summarise per step."""

    graph: nx.DiGraph
    slots: list[ValueSlot]
    folded: dict[str, list[str]]
    op_count: int
    post_update: list[tuple[str, str]] = field(default_factory=list)  # (update node, handle op)


def shape_of(tensor: Any) -> list[int] | None:
    """Static shape as a list of ints (-1 for unknown dims), None when the rank is unknown."""
    try:
        dims = tensor.shape.as_list()
    except (ValueError, AttributeError):
        return None
    return [-1 if d is None else int(d) for d in dims]


def dtype_of(tensor: Any) -> str:
    """The tensor's dtype name, e.g. 'float32'."""
    return str(getattr(tensor.dtype, "name", tensor.dtype))


def is_numeric(tensor: Any) -> bool:
    """Whether a tensor can be summarised with min/max/mean (not a handle, string or variant)."""
    dt = tensor.dtype
    return dtype_of(tensor) not in _NUMERIC_SKIP and not getattr(dt, "is_complex", False)


def is_grad_name(name: str) -> bool:
    """Whether an op name lies under a gradient scope (gradient_tape/..., gradients/...)."""
    return any(_GRAD_COMPONENT.match(c) for c in name.split("/")[:-1])


def is_update_type(op_type: str) -> bool:
    """Whether an op type writes a variable (assignment or optimizer apply op)."""
    return op_type.startswith(_UPDATE_PREFIXES) and op_type not in ("AssertCardinalityDataset",)


def _numbered(key: str, used: dict[str, int]) -> str:
    """key the first time, then key#1, key#2 ... (a variable updated twice in one step)."""
    n = used.get(key, 0)
    used[key] = n + 1
    return key if n == 0 else f"{key}#{n}"


def _label(op_type: str, tensor: Any | None) -> str:
    if tensor is None:
        return op_type
    shp = shape_of(tensor)
    if shp is None:
        return f"{op_type}\n?"
    return f"{op_type}\n" + ("x".join("?" if d < 0 else str(d) for d in shp) if shp else "()")


def _scope(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


_FUNC_ATTRS_OF_TYPE: dict[str, tuple[str, ...]] = {}


def _func_attr_names(op: Any) -> tuple[str, ...]:
    """The function-valued attributes an op's type declares (looked up once per type: asking
    every op for each attribute raises and catches thousands of errors on a big graph)."""
    names = _FUNC_ATTRS_OF_TYPE.get(op.type)
    if names is None:
        try:
            names = tuple(a.name for a in op.op_def.attr
                          if a.name in _FUNC_ATTRS and "func" in a.type)
        except Exception:  # noqa: BLE001 - no OpDef (e.g. a library function): ask them all
            return _FUNC_ATTRS
        _FUNC_ATTRS_OF_TYPE[op.type] = names
    return names


def function_attrs(op: Any) -> list[tuple[str, str]]:
    """(attribute, function name) pairs of an op that calls functions (While, If, Call ...)."""
    out = []
    for attr in _func_attr_names(op):
        try:
            val = op.get_attr(attr)
        except (ValueError, KeyError, TypeError):
            continue
        vals = val if isinstance(val, list) else [val]
        for i, v in enumerate(vals):
            name = getattr(v, "name", None)
            if isinstance(name, bytes):
                name = name.decode()
            if name:
                out.append((attr if len(vals) == 1 else f"{attr}[{i}]", name))
    return out


def topo_ops(ops: list[Any]) -> list[Any]:
    """Ops in a real execution order: topological over data and control inputs, ties broken
    by creation order (control inputs added after creation can point forward)."""
    index = {op.name: i for i, op in enumerate(ops)}
    dag = nx.DiGraph()
    dag.add_nodes_from(index)
    for op in ops:
        for t in op.inputs:
            if t.op.name in index:
                dag.add_edge(t.op.name, op.name)
        for c in op.control_inputs:
            if c.name in index:
                dag.add_edge(c.name, op.name)
    by_name = {op.name: op for op in ops}
    try:
        order = nx.lexicographical_topological_sort(dag, key=index.__getitem__)
        return [by_name[n] for n in order]
    except nx.NetworkXUnfeasible:  # cyclic (TF1 while loops): keep creation order
        return list(ops)


def fold_map(ops: Iterable[Any], handles: Iterable[str]) -> dict[str, str]:
    """Map each foldable op name to its variable's handle op: the handle itself, resource
    Identity aliases of it, and the ReadVariableOps reading it."""
    roots = {h: h for h in handles}
    for op in ops:
        if op.name in roots or not op.inputs:
            continue
        src = op.inputs[0].op.name
        if src in roots and (op.type in _READ_TYPES or (
                op.type == "Identity" and op.outputs and dtype_of(op.outputs[0]) == "resource")):
            roots[op.name] = roots[src]
    return roots


def ancestors(starts: Iterable[str], preds: dict[str, list[str]]) -> set[str]:
    """Names reachable from starts through preds (the ops a fetch depends on)."""
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(preds.get(n, ()))
    return seen


def _forward_of(name: str, forward_names: set[str]) -> str | None:
    """The forward op a gradient op differentiates, by mirroring its name scope."""
    parts = name.split("/")
    idx = max((i for i, c in enumerate(parts[:-1]) if _GRAD_COMPONENT.match(c)), default=None)
    if idx is None:
        return None
    rest = [p[:-5] if p.endswith("_grad") else p for p in parts[idx + 1:]]
    for k in range(len(rest), 0, -1):
        cand = "/".join(rest[:k])
        if cand in forward_names:
            return cand
    return None


def _forward_by_type(g: nx.DiGraph, n: str, op_type: str) -> str | None:
    """For an `XGrad` op TensorFlow names outside X's scope (ReluGrad, MaxPoolGrad,
    FusedBatchNormGradV3, ...): the forward X op among the tensors it reads."""
    base = op_type.partition("Grad")[0]
    if not base or base == op_type:
        return None
    hits = [p for p in g.predecessors(n)
            if g.nodes[p]["phase"] == "forward" and g.nodes[p]["op"].startswith(base)]
    return hits[0] if len(hits) == 1 else None


class Converter:
    """Builds templates for a top-level graph and, recursively, the functions its ops call."""

    def __init__(self, *, fold: bool, device: str, resolve_function: Any) -> None:
        self.fold = fold
        self.device = device
        self.resolve_function = resolve_function  # name -> FuncGraph or None
        self._child_cache: dict[tuple, nx.DiGraph] = {}

    # ---- phases --------------------------------------------------------------------------

    def _phases(self, ops: list[Any], spec: GraphSpec, roots: dict[str, str],
                preds: dict[str, list[str]], cpreds: dict[str, list[str]]) -> dict[str, str]:
        names = {op.name for op in ops}
        loss_ops = [t.split(":")[0] for t in spec.loss_tensors if t.split(":")[0] in names]
        if not loss_ops:
            loss_ops = [t.split(":")[0] for t in spec.output_tensors if t.split(":")[0] in names]
        forward = ancestors(loss_ops, preds)
        forward = {n for n in forward if not is_grad_name(n) and n not in roots}
        grad_ops = [t.split(":")[0] for t in list(spec.grad_tensors.values())
                    + list(spec.input_grads.values()) if t]
        backward = {op.name for op in ops if is_grad_name(op.name)}
        if grad_ops:
            backward |= ancestors(grad_ops, preds) - forward - set(roots)
        phase: dict[str, str] = {}
        by_name = {op.name: op for op in ops}
        for op in ops:
            n = op.name
            if n in roots:
                continue
            scope0 = n.split("/", 1)[0].lower()
            if is_update_type(op.type):
                p = "update"
            elif n in backward:
                p = "backward"
            elif n in forward:
                p = "forward"
            elif "/" in n and scope0 in spec.optimizer_scopes:
                p = "update"
            elif any(phase.get(m) in ("backward", "update") for m in preds.get(n, ())):
                before = {phase.get(m) for m in preds.get(n, ())}
                p = "update" if "update" in before or grad_ops else "backward"
                if not grad_ops and op.type in ("AddN", "Identity", "IdentityN", "Reshape"):
                    p = "backward" if "update" not in before else "update"
            elif any(phase.get(m) == "update" for m in cpreds.get(n, ())):
                p = "update"
            else:
                p = "forward"
            phase[n] = p
        consumers: dict[str, list[str]] = {}
        for n, ps in preds.items():
            for m in ps:
                consumers.setdefault(m, []).append(n)
        # Ops that only feed the update (e.g. the optimizer's step counter) belong to it.
        for op in reversed(ops):
            n = op.name
            if phase.get(n) == "forward" and n not in forward:
                cs = [phase.get(c) for c in consumers.get(n, ()) if c in phase]
                if cs and all(c == "update" for c in cs):
                    phase[n] = "update"
        # Constants take the earliest phase of their consumers.
        for op in ops:
            if op.type == "Const" and op.name in phase:
                cs = [phase[c] for c in consumers.get(op.name, ()) if c in phase]
                if cs:
                    phase[op.name] = min(cs, key=PHASE_RANK.__getitem__)
        del by_name
        return phase

    # ---- conversion ----------------------------------------------------------------------

    def convert(self, graph: Any, spec: GraphSpec, *, forced_phase: str | None = None,
                path: str = "") -> Template:
        """The template of one graph; forced_phase puts every node of a child in one phase."""
        ops = topo_ops([op for op in graph.get_operations()
                        if not (spec.exclude_prefix and op.name.startswith(spec.exclude_prefix))])
        roots = fold_map(ops, spec.variables) if spec.variables else {}
        preds: dict[str, list[str]] = {}
        cpreds: dict[str, list[str]] = {}
        for op in ops:
            preds[op.name] = [t.op.name for t in op.inputs]
            cpreds[op.name] = [c.name for c in op.control_inputs]
        phase = self._phases(ops, spec, roots, preds, cpreds)
        if forced_phase:
            phase = {n: forced_phase for n in phase}

        g = nx.DiGraph()
        slots: list[ValueSlot] = []
        folded: dict[str, list[str]] = {}
        post_update: list[tuple[str, str]] = []

        def node_of(op_name: str) -> str:
            root = roots.get(op_name)
            if root is not None and self.fold:
                return f"param:{spec.variables[root].name}"
            return op_name

        loss_ops = {t.split(":")[0] for t in spec.loss_tensors}
        out_ops = {t.split(":")[0] for t in spec.output_tensors}
        grad_producer: dict[str, str] = {}
        for root, t in list(spec.grad_tensors.items()) + list(spec.input_grads.items()):
            if t:
                grad_producer.setdefault(t.split(":")[0], root)
        dup = [t.split(":")[0] for t in list(spec.grad_tensors.values())
               + list(spec.input_grads.values()) if t]
        shared = {n for n in dup if dup.count(n) > 1}
        param_first_read: dict[str, str] = {}
        param_used_phase: dict[str, str] = {}
        keys_used: dict[str, int] = {}

        # Nodes --------------------------------------------------------------------------
        for op in ops:
            n = op.name
            root = roots.get(n)
            if root is not None:
                pid = node_of(root)
                folded.setdefault(pid, []).append(n)
                if op.type in _READ_TYPES and root not in param_first_read:
                    param_first_read[root] = op.outputs[0].name
                if pid not in g:
                    var = spec.variables[root]
                    g.add_node(pid, label=var.name, op="VarHandleOp" if not self.fold
                               else "Variable", kind="parameter" if var.trainable else "constant",
                               phase="forward", scope=_scope(var.name), order=-1,
                               key=f"{'param' if var.trainable else 'buffer'}:{var.name}",
                               shape=var.shape, dtype=var.dtype,
                               device=op.device or self.device, name=var.name)
                    if var.trainable and root in spec.grad_tensors:
                        g.nodes[pid]["no_grad"] = spec.grad_tensors[root] is None
                if not self.fold and n != root:
                    self._add_op_node(g, op, "op", phase.get(n, "forward"), spec)
                    if op.outputs and is_numeric(op.outputs[0]) and not forced_phase:
                        t = op.outputs[0]
                        slots.append(ValueSlot(n, "value", t.name, shape_of(t), dtype_of(t),
                                               g.nodes[n]["device"]))
                continue
            kind = "op"
            if n in spec.inputs:
                kind = "input"
            elif op.type == "Const":
                kind = "constant"
            elif n in loss_ops:
                kind = "loss"
            elif is_update_type(op.type):
                kind = "update"
            elif n in grad_producer and n not in shared and phase.get(n) == "backward":
                kind = "grad_acc"
            elif n in out_ops:
                kind = "output"
            p = "forward" if kind == "input" and not forced_phase else phase.get(n, "forward")
            self._add_op_node(g, op, kind, p, spec)
            attrs = g.nodes[n]
            if kind == "input":
                attrs["key"] = f"input:{n}"
            if kind == "update":
                src = roots.get(op.inputs[0].op.name) if op.inputs else None
                if src is not None:
                    attrs["param"] = node_of(src)
                    post_update.append((n, src))
                ran = spec.executed is None or n in spec.executed  # TF1: not initializers
                name = spec.variables[src].name if src and ran else n
                attrs["key"] = _numbered(f"update:{name}", keys_used)
            if kind == "grad_acc":
                src = grad_producer[n]
                attrs["param"] = node_of(src) if src in roots else src
                name = spec.variables[roots[src]].name if src in roots else src
                attrs["key"] = _numbered(f"grad:{name}", keys_used)
            children = self._children(op, attrs["phase"], roots, spec, path)
            if children:
                attrs["children"] = children
            if op.outputs and is_numeric(op.outputs[0]) and not forced_phase:
                t = op.outputs[0]
                slots.append(ValueSlot(n, "value", t.name, shape_of(t), dtype_of(t),
                                       attrs["device"]))

        # Edges --------------------------------------------------------------------------
        for op in ops:
            if op.name in roots and (self.fold or roots[op.name] == op.name):
                continue
            v = op.name
            for t in op.inputs:
                u = node_of(t.op.name)
                if u == v or u not in g:
                    continue
                pu, pv = g.nodes[u]["phase"], g.nodes[v]["phase"]
                role = self._role(g.nodes[u], g.nodes[v], pu, pv)
                edge_phase = pv if role != "saved" else "backward"
                if not g.has_edge(u, v):
                    g.add_edge(u, v, role=role, phase=edge_phase, shape=shape_of(t),
                               dtype=dtype_of(t))
                    if is_variable(g.nodes[u]):
                        cur = param_used_phase.get(u)
                        if cur is None or PHASE_RANK[pv] < PHASE_RANK[cur]:
                            param_used_phase[u] = pv
            for c in op.control_inputs:
                u = node_of(c.name)
                if u == v or u not in g or g.has_edge(u, v):
                    continue
                if c.name in roots and self.fold and c.type in _READ_TYPES:
                    continue  # ordering on a folded read: part of the variable node now
                g.add_edge(u, v, role="control", phase=g.nodes[v]["phase"])

        for pid, ph in param_used_phase.items():
            g.nodes[pid]["phase"] = ph

        # Values of variables and gradients ----------------------------------------------
        for root, var in spec.variables.items():
            pid = node_of(root)
            if pid not in g:
                continue
            read = param_first_read.get(root)
            if read and not forced_phase:
                slots.append(ValueSlot(pid, "value", read, var.shape, var.dtype or "",
                                       g.nodes[pid]["device"]))
            gt = spec.grad_tensors.get(root)
            if gt and not forced_phase:
                slots.append(ValueSlot(pid, "grad", gt, var.shape, var.dtype or "",
                                       g.nodes[pid]["device"]))
        for inp, gt in spec.input_grads.items():
            if inp in g and not forced_phase:
                a = g.nodes[inp]
                slots.append(ValueSlot(inp, "grad", gt, a.get("shape"), a.get("dtype") or "",
                                       a["device"]))

        self._link_backward(g, phase, roots, node_of)
        tidy_scopes(g, _GRAD_COMPONENT, spec.keras_scopes, spec.optimizer_scopes)
        self._number(g, ops, node_of, spec.executed)
        return Template(graph=g, slots=slots, folded=folded if self.fold else {},
                        op_count=sum(1 for op in ops if not (self.fold and op.name in roots)),
                        post_update=post_update)

    def _add_op_node(self, g: nx.DiGraph, op: Any, kind: str, phase: str,
                     spec: GraphSpec) -> None:
        out = op.outputs[0] if op.outputs else None
        g.add_node(op.name, label=_label(op.type, out), op=op.type, kind=kind, phase=phase,
                   scope=_scope(op.name), order=0, key=op.name,
                   shape=shape_of(out) if out is not None else None,
                   dtype=dtype_of(out) if out is not None else None,
                   device=op.device or self.device, name=op.name)

    @staticmethod
    def _role(src: dict, dst: dict, pu: str, pv: str) -> str:
        if pv == "backward":
            return "gradient" if pu == "backward" else "saved"
        if pv == "update":
            if pu == "backward" or dst["kind"] == "update" and src["kind"] == "parameter":
                return "update"
            return "data"
        return "data"

    def _link_backward(self, g: nx.DiGraph, phase: dict[str, str], roots: dict[str, str],
                       node_of: Any) -> None:
        forward_names = {n for n, p in phase.items() if p == "forward"} | set(roots)
        for n, attrs in g.nodes(data=True):
            if attrs["phase"] != "backward" or attrs["kind"] in SOURCE_KINDS:
                continue
            f = _forward_of(n, forward_names)
            if f is None:
                f = _forward_by_type(g, n, attrs["op"])
            if f is None:
                continue
            fid = node_of(f) if f in roots else f
            if fid not in g or fid == n:
                continue
            attrs["forward"] = fid
            g.nodes[fid].setdefault("backward", []).append(n)

    @staticmethod
    def _number(g: nx.DiGraph, ops: list[Any], node_of: Any, executed: set[str] | None) -> None:
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
            counters[attrs["phase"]] += 1
        for nid in g.nodes:
            if nid not in seen:
                g.nodes[nid]["order"] = -1

    # ---- nested functions ----------------------------------------------------------------

    def _children(self, op: Any, phase: str, roots: dict[str, str], spec: GraphSpec,
                  path: str) -> list[dict]:
        attrs = function_attrs(op)
        if not attrs:
            return []
        out = []
        offset = 1 if op.type in ("If", "StatelessIf", "Case", "StatelessCase") else 0
        names: dict[int, VarInfo] = {}
        for i, t in enumerate(op.inputs):
            root = roots.get(t.op.name)
            if root is not None:
                names[i - offset] = spec.variables[root]
        for attr, fname in attrs:
            key = (fname, phase, tuple(sorted((i, v.name) for i, v in names.items())))
            child = self._child_cache.get(key)
            if child is None:
                fg = self.resolve_function(fname)
                if fg is None:
                    continue
                child = self._convert_child(fg, names, phase, f"{path}/{op.name}:{attr}")
                self._child_cache[key] = child
            out.append({"name": f"{attr}: {fname}", "graph": child})
        return out

    def _convert_child(self, fg: Any, names: dict[int, VarInfo], phase: str,
                       path: str) -> nx.DiGraph:
        inputs = list(getattr(fg, "inputs", []))
        spec = GraphSpec(exclude_prefix="")
        placeholders = [op for op in fg.get_operations() if op.type == "Placeholder"]
        by_tensor = {t.name: i for i, t in enumerate(inputs)}
        for op in placeholders:
            i = by_tensor.get(op.outputs[0].name)
            if dtype_of(op.outputs[0]) == "resource" and i is not None and i in names:
                spec.variables[op.name] = names[i]
            else:
                spec.inputs.add(op.name)
        spec.output_tensors = [t.name for t in getattr(fg, "outputs", [])]
        sub = Converter(fold=self.fold, device=self.device,
                        resolve_function=self.resolve_function)
        sub._child_cache = self._child_cache
        tmpl = sub.convert(fg, spec, forced_phase=phase, path=path)
        return tmpl.graph
