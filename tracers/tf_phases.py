"""Which phase each op of a TensorFlow graph belongs to: forward (what the loss depends on),
backward (gradient scopes and what the returned gradients depend on) or update (ops that write
variables, the optimizer's scope and what only feeds them)."""

from __future__ import annotations

from typing import Any

from graphstage.tracers.tf_ops import ancestors, is_grad_name, is_update_type
from graphstage.tracers.tf_spec import PHASE_RANK, GraphSpec

_PASS_THROUGH = ("AddN", "Identity", "IdentityN", "Reshape")


def classify_phases(ops: list[Any], spec: GraphSpec, roots: dict[str, str],
                    preds: dict[str, list[str]], cpreds: dict[str, list[str]]) -> dict[str, str]:
    """op name -> phase for every op that is not folded into a variable (ops in topological
    order; preds/cpreds: data and control inputs by op name)."""
    forward, backward = _seeds(ops, spec, roots, preds)
    has_grads = bool(spec.grad_ops())
    phase: dict[str, str] = {}
    for op in ops:
        if op.name not in roots:
            phase[op.name] = _phase_of(op, spec, forward, backward, has_grads, phase,
                                       preds, cpreds)
    consumers: dict[str, list[str]] = {}
    for n, ps in preds.items():
        for m in ps:
            consumers.setdefault(m, []).append(n)
    _absorb_update_feeders(ops, phase, forward, consumers)
    _constants_follow_consumers(ops, phase, consumers)
    return phase


def _seeds(ops: list[Any], spec: GraphSpec, roots: dict[str, str],
           preds: dict[str, list[str]]) -> tuple[set[str], set[str]]:
    """The ops the loss depends on (forward) and the gradient ops (backward)."""
    names = {op.name for op in ops}
    loss_ops = [t.split(":")[0] for t in spec.loss_tensors if t.split(":")[0] in names]
    if not loss_ops:
        loss_ops = [t.split(":")[0] for t in spec.output_tensors if t.split(":")[0] in names]
    forward = ancestors(loss_ops, preds)
    forward = {n for n in forward if not is_grad_name(n) and n not in roots}
    grad_ops = spec.grad_ops()
    backward = {op.name for op in ops if is_grad_name(op.name)}
    if grad_ops:
        backward |= ancestors(grad_ops, preds) - forward - set(roots)
    return forward, backward


def _phase_of(op: Any, spec: GraphSpec, forward: set[str], backward: set[str],
              has_grads: bool, phase: dict[str, str], preds: dict[str, list[str]],
              cpreds: dict[str, list[str]]) -> str:
    """One op's phase, given the phases of the ops before it."""
    n = op.name
    if is_update_type(op.type):
        return "update"
    if n in backward:
        return "backward"
    if n in forward:
        return "forward"
    if "/" in n and n.split("/", 1)[0].lower() in spec.optimizer_scopes:
        return "update"
    before = {phase.get(m) for m in preds.get(n, ())}
    if before & {"backward", "update"}:
        if not has_grads and op.type in _PASS_THROUGH:
            return "backward" if "update" not in before else "update"
        return "update" if "update" in before or has_grads else "backward"
    if any(phase.get(m) == "update" for m in cpreds.get(n, ())):
        return "update"
    return "forward"


def _absorb_update_feeders(ops: list[Any], phase: dict[str, str], forward: set[str],
                           consumers: dict[str, list[str]]) -> None:
    """Ops that only feed the update (e.g. the optimizer's step counter) belong to it."""
    for op in reversed(ops):
        n = op.name
        if phase.get(n) == "forward" and n not in forward:
            cs = [phase.get(c) for c in consumers.get(n, ()) if c in phase]
            if cs and all(c == "update" for c in cs):
                phase[n] = "update"


def _constants_follow_consumers(ops: list[Any], phase: dict[str, str],
                                consumers: dict[str, list[str]]) -> None:
    """Constants take the earliest phase of their consumers."""
    for op in ops:
        if op.type == "Const" and op.name in phase:
            cs = [phase[c] for c in consumers.get(op.name, ()) if c in phase]
            if cs:
                phase[op.name] = min(cs, key=PHASE_RANK.__getitem__)
