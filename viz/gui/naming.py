"""What a box says: the names people wrote first, framework op types second (VIEW.md, 7).

TF1 placeholders and tf.Variables read as their Python names (a, b, w), an op the user named
(``tf.multiply(a, b, name="c")``, a loss) by that name, TensorFlow's gradient ops as gradients
("∂ Mul") and the gradient reaching a variable as "∇ w", like PyTorch's AccumulateGrad. The
second line says what a box is: its op and shape, and for trainable state how the framework
holds it (a registered Parameter, or a variable captured by a tf.function).
"""

from __future__ import annotations

import re
from typing import Any

_SUFFIX = re.compile(r"_\d+$")


def _segment(name: str) -> str:
    return name.rsplit("/", 1)[-1].split(":")[0]


def user_named(name: str, op: str) -> bool:
    """Whether a TF op's last name segment is one a person chose, not TF's default for the op
    type ('MatMul', 'add_1' for AddV2, 'Relu_3')."""
    stem = _SUFFIX.sub("", name).replace("_", "").lower()
    return bool(stem) and not op.lower().startswith(stem) and not stem.startswith(op.lower())


def display_label(graph: Any, node: str, attrs: dict) -> str:
    """The first line of a box."""
    raw = attrs.get("label") or node
    if "\n" not in raw:  # PyTorch labels (and TF variables) are names already
        return " ".join(raw.split())
    op = raw.split("\n", 1)[0].strip()
    name = _segment(attrs.get("name") or node)
    kind, phase = attrs.get("kind"), attrs.get("phase")
    param = attrs.get("param")
    if kind in ("input", "parameter") and name:
        return name
    if kind == "grad_acc" and graph is not None and param in graph:
        return "∇ " + display_label(graph, param, graph.nodes[param])
    if kind == "update" and graph is not None and param in graph:
        return f"{op} → {display_label(graph, param, graph.nodes[param])}"
    if phase == "backward":
        return f"∂ {op}"
    if kind in ("loss", "output", "op") and user_named(name, op):
        return name
    return op


def node_detail(attrs: dict, capture: str = "") -> str:
    """The second line of a box: op and output shape; trainable state says how it is held."""
    shape = attrs.get("shape")
    op = attrs.get("op", "")
    if attrs.get("kind") == "parameter":
        if op == "Parameter":
            op = "registered Parameter"
        elif capture == "tf.function":
            op = "captured by tf.function"
        elif op in ("Variable", "VarHandleOp", "VariableV2"):
            op = "tf.Variable"
    if shape is not None:
        return f"{op}  [{'×'.join(str(s) for s in shape)}]" if shape else f"{op}  scalar"
    return op
