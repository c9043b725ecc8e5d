"""Which Keras layer opened each TensorFlow name scope, recorded while TensorFlow traces a step.

Keras 3 enters ``keras.name_scope(layer.name, caller=layer)`` around every layer call, model
call, loss and optimizer step; TensorFlow makes the scope unique in the graph, so the ops of
MobileNetV2's ``bn_Conv1`` land in ``mobilenetv2_1.00_64_1/bn_Conv1_1`` while its variables
are ``bn_Conv1/gamma``, and Keras' own auto-names (``dense``, ``dense_1``) make a name-based
guess ambiguous (layer ``dense``'s call may be scope ``dense_1``). Wrapping ``__enter__`` of
Keras' TensorFlow name scope during tracing records, for every scope entered in a graph, the
Keras name and the layer that entered it: the ground truth the scope mapping uses
(tracers/tf_scopes.py). Nothing is recorded when Keras is not loaded or TensorFlow did not
trace (the function was traced before the tracer saw it); the mapping then learns scopes from
the variables the ops read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from graphstage.tracers import tf_compat
from graphstage.tracers.tf_layer_groups import layer_groups

log = logging.getLogger("graphstage.tracers.tf_keras_scopes")


@dataclass
class ScopeRecord:
    """One Keras name scope entered while a graph was built."""

    graph: Any
    raw: str                   # the graph's unique name scope, e.g. "resnet50_1/conv1_conv_1"
    names: tuple[str, ...]     # Keras names of the open scopes, outermost first
    callers: tuple[Any, ...]   # the objects that opened them (layers, models, optimizers, None)


class KerasScopeRecorder:
    """Context manager: records every Keras name scope entered in graph mode."""

    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self.records: list[ScopeRecord] = []
        self._cls: Any = None
        self._orig: Any = None

    def __enter__(self) -> KerasScopeRecorder:
        cls = tf_compat.keras_name_scope_class()
        if cls is None:
            return self
        tf, records, orig = self.tf, self.records, cls.__enter__
        self._cls, self._orig = cls, orig

        def enter(scope: Any) -> Any:
            out = orig(scope)
            if tf_compat.keras_scope_pushed(scope) and not tf.executing_eagerly():
                stack = tf_compat.keras_scope_stack()
                graph = tf.compat.v1.get_default_graph()
                records.append(ScopeRecord(graph, graph.get_name_scope(),
                                           tuple(s.name for s in stack),
                                           tuple(s.caller for s in stack)))
            return out

        cls.__enter__ = enter
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._cls is not None:
            self._cls.__enter__ = self._orig
            self._cls = None


@dataclass
class KerasScopes:
    """What the scope mapping needs from the records of one graph.

    ``names``: raw scope -> Keras name, or None for the traced model's own scope (the main
    model is not a scope level, as in the PyTorch tracer); ``params``: variable name (the
    ``param:`` key) -> the readable path of the layer that owns it; ``optimizers``: Keras
    names of the optimizers that ran in the graph; ``nest``: layer path -> the name groups to
    put it under (``block_1_expand`` -> ``block/block_1``, tracers/tf_layer_groups.py).
    """

    names: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    optimizers: set[str] = field(default_factory=set)
    nest: dict[str, str] = field(default_factory=dict)


def keras_scopes(records: list[ScopeRecord], graph: Any, model: Any,
                 var_names: dict[int, str]) -> KerasScopes | None:
    """The KerasScopes of graph from the records (None when nothing was recorded for it).

    model: the script's model (its scope is dropped; without one, the single top-level Keras
    model the graph called, if any); var_names: id(variable handle) -> variable name."""
    mine = [r for r in records if r.graph is graph and r.raw]
    if not mine:
        return None
    roots = _roots(mine, model)
    out = KerasScopes()
    owner: dict[int, tuple[int, str]] = {}  # id(handle) -> (depth, readable path)
    seen: set[int] = set()
    siblings = _Siblings()
    for r in mine:
        keep = [(n, c) for n, c in zip(r.names, r.callers, strict=False)
                if not (c is not None and id(c) in roots)]
        dropped = r.callers and r.callers[-1] is not None and id(r.callers[-1]) in roots
        out.names.setdefault(r.raw, None if dropped else r.names[-1] if r.names else None)
        caller = r.callers[-1] if r.callers else None
        if caller is None or id(caller) in seen or dropped:
            continue
        seen.add(id(caller))
        if _is_optimizer(caller):
            out.optimizers.add(r.names[-1])
            continue
        path = "/".join(n for n, _ in keep)
        siblings.add(keep)
        for v in _variables(caller):
            handle = getattr(getattr(v, "value", v), "handle", None)
            if handle is None or id(handle) not in var_names:
                continue
            prev = owner.get(id(handle))
            if prev is None or prev[0] < len(keep):
                owner[id(handle)] = (len(keep), path)
    out.params = {var_names[h]: path for h, (_, path) in owner.items()}
    out.nest = siblings.nest()
    return out


class _Siblings:
    """The layers under each parent layer path, in the order Keras first called them."""

    def __init__(self) -> None:
        self.children: dict[str, list[str]] = {}
        self.auto: set[str] = set()      # layer paths whose name Keras made from the class
        self.models: set[str] = {""}     # paths of models (the traced model's level is "")

    def add(self, keep: list[tuple[str, Any]]) -> None:
        """Record the layer that opened the innermost of the scopes keep (name, caller)."""
        name, caller = keep[-1] if keep else ("", None)
        if not name or not _is_layer(caller):
            return
        parent = "/".join(n for n, _ in keep[:-1])
        path = f"{parent}/{name}" if parent else name
        kids = self.children.setdefault(parent, [])
        if name not in kids:
            kids.append(name)
        if _is_model(caller):
            self.models.add(path)
        if re.fullmatch(rf"{re.escape(_snake(type(caller).__name__))}(_\d+)?", name):
            self.auto.add(path)

    def nest(self) -> dict[str, str]:
        """Layer path -> its name groups (tracers/tf_layer_groups.py), per parent."""
        out = {}
        for parent, kids in self.children.items():
            base = f"{parent}/" if parent else ""
            auto = {k for k in kids if base + k in self.auto}
            groups = layer_groups(kids, auto, model_level=parent in self.models)
            out.update({base + k: v for k, v in groups.items()})
        return out


def _snake(cls_name: str) -> str:
    """Keras' auto-name base of a class (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", cls_name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _roots(records: list[ScopeRecord], model: Any) -> set[int]:
    if model is not None:
        return {id(model)}
    tops = {id(r.callers[0]) for r in records
            if len(r.callers) == 1 and _is_model(r.callers[0])}
    return tops if len(tops) == 1 else set()


def _is_model(obj: Any) -> bool:
    return obj is not None and hasattr(obj, "layers") and hasattr(obj, "trainable_variables")


def _is_layer(obj: Any) -> bool:
    """A Keras layer or model (not a loss, metric or optimizer, which open scopes too)."""
    return obj is not None and hasattr(obj, "trainable_weights") and \
        hasattr(obj, "compute_output_shape")


def _is_optimizer(obj: Any) -> bool:
    return hasattr(obj, "apply_gradients") and not hasattr(obj, "layers")


def _variables(layer: Any) -> list[Any]:
    try:
        return list(getattr(layer, "variables", ()) or ())
    except Exception as exc:  # noqa: BLE001 - a layer whose variables cannot be listed owns none
        log.debug("cannot list the variables of %s (%s: %s): it owns none",
                  getattr(layer, "name", layer), type(exc).__name__, exc)
        return []
