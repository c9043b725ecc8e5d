"""The words over each pane: what this step's graph is (rebuilt, reused, retraced), and, side
by side, how the two frameworks' structures differ this step. Pure Python (no Qt)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

FRAMEWORKS = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
_CALL = re.compile(r"#\d+$")


def step_banner(session: Any, step: int) -> str:
    """One sentence on where this step's graph came from."""
    g = session.steps[step]
    same = bool(g.graph.get("same_as_previous"))
    if session.framework == "torch":
        if step == 0:
            return "autograd records a new graph during every forward"
        if same:
            return ("autograd rebuilt the graph this step; its structure happens to match "
                    f"step {step}")
        before = session.steps[step - 1]
        added = len(set(g) - set(before))
        removed = len(set(before) - set(g))
        return f"autograd rebuilt the graph this step: +{added} / −{removed} nodes vs step {step}"
    return _tf_banner(session, step)


def _tf_banner(session: Any, step: int) -> str:
    g = session.steps[step]
    same = bool(g.graph.get("same_as_previous"))
    capture = g.graph.get("capture")
    if capture == "tf1 graph":
        return "a TF1 graph, built once; Session.run executes it every step"
    if capture == "tf eager":
        head = "eager TensorFlow: recorded op by op as it ran (no tf.function)"
        if step == 0:
            return head
        if same:
            return f"{head}; the same ops as step {step}"
        before = session.steps[step - 1]
        return (f"{head}: +{len(set(g) - set(before))} / −{len(set(before) - set(g))} "
                f"nodes vs step {step}")
    calls = [str(c.get("label")) for c in g.graph.get("calls") or ()]
    if len(calls) > 1:
        return f"{len(calls)} tf.function calls this step ({', '.join(calls)}): " + \
            _calls_banner(g, step, same)
    if g.graph.get("retraced"):
        why = g.graph.get("retrace_reason")
        return "retraced: tf.function built a new graph for this call" + (f" ({why})" if why
                                                                           else "")
    if step == 0:
        return "tf.function traced this graph once; every later call reuses it"
    if same:
        return "tf.function reused its traced graph: nothing was rebuilt"
    return ("tf.function switched to the graph it traced earlier for this input signature "
            "(no retrace)")


def _calls_banner(g: Any, step: int, same: bool) -> str:
    if g.graph.get("retraced"):
        why = g.graph.get("retrace_reason")
        return "retraced: tf.function built a new graph" + (f" ({why})" if why else "")
    if step == 0:
        return "each traced its graph once; later calls reuse them"
    if same:
        return "each reused its traced graph: nothing was rebuilt"
    return "tf.function switched to graphs it traced earlier (no retrace)"


def layer_calls(graph: Any) -> Counter:
    """How many times each layer (last scope segment, calls #k folded) ran forward ops."""
    scopes = {a.get("scope") or "" for a in graph.nodes.values()
              if a.get("phase") == "forward" and a.get("order", -1) >= 0}  # ops that ran
    calls: Counter = Counter()
    for scope in scopes:
        if scope:
            calls[_CALL.sub("", scope.rsplit("/", 1)[-1])] += 1
    return calls


def compare_banner(left: Any, right: Any, step: int) -> str:
    """The structural difference of the current step between two sessions, in words, for the
    layers both frameworks have; '' where they agree."""
    if not (0 <= step < len(left.steps) and 0 <= step < len(right.steps)):
        return ""
    shared = set().union(*(layer_calls(g) for g in left.steps)) & \
        set().union(*(layer_calls(g) for g in right.steps))
    a, b = layer_calls(left.steps[step]), layer_calls(right.steps[step])
    diffs = [name for name in sorted(shared) if a[name] != b[name]]
    if not diffs:
        return ""
    parts = []
    for session, calls in ((left, a), (right, b)):
        counts = ", ".join(f"{n} ×{calls[n]}" for n in diffs)
        why = "this step" if session.framework == "torch" or not \
            session.steps[step].graph.get("same_as_previous") else "frozen when traced"
        parts.append(f"{FRAMEWORKS.get(session.framework, session.framework)}: {counts} {why}")
    return " · ".join(parts)
