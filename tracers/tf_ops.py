"""Questions about TensorFlow ops and tensors, answered by duck typing (op.type, op.name,
op.inputs ...) so that nothing heavy is imported: names, shapes, dtypes, gradient scopes,
update ops, called functions, execution order and variable folding."""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("graphstage.tracers.tf_ops")

# Op types that write a variable: the update phase's "update" nodes.
_UPDATE_PREFIXES = ("Assign", "ResourceApply", "ResourceSparseApply", "ResourceScatter",
                    "Apply", "SparseApply", "ScatterAdd", "ScatterSub", "ScatterUpdate")
READ_TYPES = {"ReadVariableOp"}
_FUNC_ATTRS = ("body", "cond", "then_branch", "else_branch", "f", "branches")
GRAD_COMPONENT = re.compile(r"^(gradient_tape|gradients(_\d+)?)$")
_NUMERIC_SKIP = {"resource", "variant", "string"}


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


def tensor_facts(tensor: Any) -> tuple[list[int] | None, str, bool]:
    """shape_of, dtype_of and is_numeric of a tensor at once (its dtype looked up once)."""
    dt = tensor.dtype
    name = str(getattr(dt, "name", dt))
    return (shape_of(tensor), name,
            name not in _NUMERIC_SKIP and not getattr(dt, "is_complex", False))


def is_grad_name(name: str) -> bool:
    """Whether an op name lies under a gradient scope (gradient_tape/..., gradients/...)."""
    # every GRAD_COMPONENT match contains "gradient": most names need no split
    return "gradient" in name and any(GRAD_COMPONENT.match(c) for c in name.split("/")[:-1])


def is_update_type(op_type: str) -> bool:
    """Whether an op type writes a variable (assignment or optimizer apply op)."""
    return op_type.startswith(_UPDATE_PREFIXES) and op_type not in ("AssertCardinalityDataset",)


def numbered(key: str, used: dict[str, int]) -> str:
    """key the first time, then key#1, key#2 ... (a variable updated twice in one step)."""
    n = used.get(key, 0)
    used[key] = n + 1
    return key if n == 0 else f"{key}#{n}"


def label(op_type: str, shape: list[int] | None, output: bool = True) -> str:
    """A node label: the op type over its first output's static shape (output: the op has
    one; shape None: its rank is unknown)."""
    if not output:
        return op_type
    if shape is None:
        return f"{op_type}\n?"
    return f"{op_type}\n" + ("x".join("?" if d < 0 else str(d) for d in shape) if shape else "()")


def scope_of(name: str) -> str:
    """The TF name scope of an op name (everything before the last '/')."""
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
        except Exception as exc:  # noqa: BLE001 - no OpDef (e.g. a library function)
            log.debug("no OpDef for %s (%s: %s): asking it for every function attribute",
                      op.type, type(exc).__name__, exc)
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


def topo_ops(ops: list[Any], preds: dict[str, list[str]] | None = None,
             cpreds: dict[str, list[str]] | None = None) -> list[Any]:
    """Ops in a real execution order: topological over data and control inputs, ties broken
    by creation order (control inputs added after creation can point forward). preds/cpreds:
    the data and control input op names of each op, when the caller has them already."""
    index = {op.name: i for i, op in enumerate(ops)}
    if preds is None:
        preds = {op.name: [t.op.name for t in op.inputs] for op in ops}
    if cpreds is None:
        cpreds = {op.name: [c.name for c in op.control_inputs] for op in ops}
    succ: list[set[int]] = [set() for _ in ops]
    for op in ops:
        i = index[op.name]
        for m in preds[op.name]:
            j = index.get(m)
            if j is not None:
                succ[j].add(i)
        for m in cpreds[op.name]:
            j = index.get(m)
            if j is not None:
                succ[j].add(i)
    indegree = [0] * len(ops)
    for children in succ:
        for i in children:
            indegree[i] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]  # sorted: a valid heap already
    order: list[Any] = []
    while ready:
        j = heapq.heappop(ready)
        order.append(ops[j])
        for i in succ[j]:
            indegree[i] -= 1
            if indegree[i] == 0:
                heapq.heappush(ready, i)
    if len(order) < len(ops):  # cyclic (TF1 while loops): keep creation order
        return list(ops)
    return order


def fold_map(ops: Iterable[Any], handles: Iterable[str]) -> dict[str, str]:
    """Map each foldable op name to its variable's handle op: the handle itself, resource
    Identity aliases of it, and the ReadVariableOps reading it."""
    roots = {h: h for h in handles}
    for op in ops:
        if op.name in roots or not op.inputs:
            continue
        src = op.inputs[0].op.name
        if src in roots and (op.type in READ_TYPES or (
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
