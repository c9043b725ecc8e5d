"""The bodies of the functions an op calls (While/If bodies, tf.function calls): which
variables the call passes in, and the GraphSpec a body is converted with."""

from __future__ import annotations

from typing import Any

from graphstage.tracers.tf_links import forward_of
from graphstage.tracers.tf_ops import dtype_of, is_grad_name, is_update_type
from graphstage.tracers.tf_spec import GraphSpec, VarInfo

_BRANCH_TYPES = ("If", "StatelessIf", "Case", "StatelessCase")


def call_variables(op: Any, roots: dict[str, str], spec: GraphSpec) -> dict[int, VarInfo]:
    """Body argument index -> variable, for the calling op's inputs that are variables (an If
    or Case's first input is its condition or branch index, not a body argument)."""
    offset = 1 if op.type in _BRANCH_TYPES else 0
    names: dict[int, VarInfo] = {}
    for i, t in enumerate(op.inputs):
        root = roots.get(t.op.name)
        if root is not None:
            names[i - offset] = spec.variables[root]
    return names


def has_own_phases(fg: Any) -> bool:
    """Whether a function body computes gradients or writes variables itself (ops under a
    gradient scope, assignments, optimizer apply ops): it is a training step of its own."""
    return any(is_grad_name(op.name) or is_update_type(op.type) for op in fg.get_operations())


def body_spec(fg: Any, names: dict[int, VarInfo], optimizer_scopes: set[str]) -> GraphSpec:
    """The spec of a function body: resource arguments the caller passes variables to are
    those variables, every other argument an input; its outputs are its outputs; its
    optimizer scopes are its caller's."""
    inputs = list(getattr(fg, "inputs", []))
    spec = GraphSpec(exclude_prefix="", optimizer_scopes=set(optimizer_scopes))
    by_tensor = {t.name: i for i, t in enumerate(inputs)}
    for op in fg.get_operations():
        if op.type != "Placeholder":
            continue
        i = by_tensor.get(op.outputs[0].name)
        if dtype_of(op.outputs[0]) == "resource" and i is not None and i in names:
            spec.variables[op.name] = names[i]
        else:
            spec.inputs.add(op.name)
    spec.output_tensors = [t.name for t in getattr(fg, "outputs", [])]
    spec.loss_tensors = tape_target(fg.get_operations())
    return spec


def tape_target(ops: list[Any]) -> list[str]:
    """The tensor a body's gradient ops differentiate, [] when it has none: the forward op whose
    name the first gradient op (in creation order) mirrors, as TensorFlow differentiates the
    tape's target first (``gradient_tape/compile_loss/mse/div_no_nan/...``). A body has no
    tape record of its own: this is its loss, as the tape target is at top level."""
    names = {op.name for op in ops if not is_grad_name(op.name)}
    for op in ops:
        if is_grad_name(op.name):
            f = forward_of(op.name, names)
            if f is not None:
                return [f"{f}:0"]
    return []
