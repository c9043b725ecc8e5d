"""The data the TensorFlow converter works with: what the tracer knows about a graph
(GraphSpec, VarInfo) and what conversion produces (Template, ValueSlot)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

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

    def grad_ops(self) -> list[str]:
        """Op names of the gradients the tape (or tf.gradients) returned, duplicates kept."""
        return [t.split(":")[0] for t in list(self.grad_tensors.values())
                + list(self.input_grads.values()) if t]


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
