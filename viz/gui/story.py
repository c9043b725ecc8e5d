"""One claim per bundled example, proved on the step shown: a caption (the claim in a sentence
and the numbers of this step that prove it) and the boxes the camera frames (VIEW.md, 8).

Pure Python over the step graph; the window shows ``caption`` over the panes and frames
``focus``. Examples are recognised by their script's name (the trace's ``meta["script"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphstage.viz.gui.banner import layer_calls


@dataclass
class Story:
    """What the caption bar says and which graph nodes prove it."""

    claim: str
    numbers: str
    focus: list[str] = field(default_factory=list)

    @property
    def caption(self) -> str:
        return f"{self.claim} — {self.numbers}" if self.numbers else self.claim


def example_name(session: Any) -> str:
    """The example a session was traced from ('dynamicnet_torch'), or ''."""
    return Path(str(session.meta.get("script", ""))).stem


def story_for(session: Any, step: int) -> Story | None:
    """The example's story on this step, or None for a model that is not a bundled example."""
    name = example_name(session)
    family = next((f for f in _STORIES if name == f or name.startswith(f + "_")), None)
    if family is None or not (0 <= step < len(session.steps)):
        return None
    return _STORIES[family](session, step, name)


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _first_value(summary: Any) -> Any:
    if isinstance(summary, dict):
        values = summary.get("values")
        if values:
            return values[0]
        return summary.get("mean")
    return None


def _by_kind(g: Any, kind: str) -> dict[str, dict]:
    return {n: a for n, a in g.nodes(data=True) if a.get("kind") == kind}


def _grads(g: Any) -> dict[str, tuple[str, Any]]:
    """Per trained tensor's name: (the node showing its gradient, the gradient's first value)."""
    out = {}
    for n, a in _by_kind(g, "grad_acc").items():
        p = g.nodes.get(a.get("param"), {})
        name = str(p.get("name") or p.get("label") or a.get("param")).split("/")[-1]
        out[name] = (n, _first_value(a.get("value")) if a.get("value") else
                     _first_value(p.get("grad")))
    return out


def _mul(session: Any, step: int, name: str) -> Story:
    g = session.steps[step]
    grads = _grads(g)
    loss = next(iter(_by_kind(g, "loss")), None)
    sources = [n for n, a in g.nodes(data=True) if a.get("kind") in ("parameter", "input")
               and str(a.get("name") or a.get("label")).split("/")[-1] in ("a", "b")]
    how = {"mul_torch": "autograd's MulBackward0 gives", "mul_tf1": "tf.gradients adds graph "
           "ops that give", "mul_tf": "the GradientTape's gradient ops (∂, in the same graph) "
           "give"}.get(name, "gradients give")
    numbers = (f"c = {_num(g.graph.get('loss'))}, dc/da = {_num(grads.get('a', ('', '?'))[1])}, "
               f"dc/db = {_num(grads.get('b', ('', '?'))[1])}")
    focus = sources + ([loss] if loss else []) + [grads[k][0] for k in ("a", "b") if k in grads]
    return Story(f"c = a·b: {how} dc/da = b and dc/db = a", numbers, focus)


def _dynamicnet(session: Any, step: int, name: str) -> Story:
    g = session.steps[step]
    calls = layer_calls(g)["hidden_layer"]
    hidden = [n for n, a in g.nodes(data=True) if "hidden_layer" in (a.get("scope") or "")
              and a.get("phase") == "forward"]
    if name == "dynamicnet_while_tf":
        loops = [n for n, a in g.nodes(data=True) if a.get("op") == "While"]
        body = sum(c["graph"].number_of_nodes() for n in loops
                   for c in g.nodes[n].get("children", ()) if c["name"].startswith("body"))
        return Story("The depth is drawn inside the graph: a tf.while_loop whose body is the "
                     "shared hidden layer (double-click the While box to open it)",
                     f"{len(loops)} While op with a {body}-op body, loss {_num(g.graph['loss'])}",
                     loops)
    if session.framework == "torch":
        return Story("PyTorch builds a new graph during every forward; the hidden layer's one "
                     "weight is shared by all its calls",
                     f"hidden_layer ×{calls} this step, {g.number_of_nodes()} nodes, loss "
                     f"{_num(g.graph['loss'])}", hidden)
    same = "same graph as step 1" if step and g.graph.get("same_as_previous") else "traced now"
    return Story("tf.function traced its graph once: the random depth was frozen when traced "
                 "and every step runs that graph", f"hidden_layer ×{calls} in every step, "
                 f"{g.number_of_nodes()} nodes, {same}", hidden)


def _linreg(session: Any, step: int, name: str) -> Story:
    g = session.steps[step]
    params = {str(a.get("name") or a.get("label")).split("/")[-1]: (n, a)
              for n, a in _by_kind(g, "parameter").items()}
    grads = _grads(g)
    held = ("registered nn.Parameters: autograd fills their .grad" if session.framework ==
            "torch" else "tf.Variables the tf.function captured: the tape differentiates them")
    values = ", ".join(f"{k} = {_num(_first_value(params[k][1].get('value')))}"
                       for k in ("w", "b") if k in params)
    dw = grads.get("w", ("", "?"))[1]
    focus = [params[k][0] for k in ("w", "b") if k in params] + \
        [grads[k][0] for k in ("w", "b") if k in grads]
    return Story(f"y = w·x + b: w and b are {held}",
                 f"{values} (towards 0.1, 0.3), ∂loss/∂w = {_num(dw)}", focus)


def _mnist(session: Any, step: int, name: str) -> Story:
    g = session.steps[step]
    updates = _by_kind(g, "update")
    if session.framework == "torch":
        return Story("A hand-written loop: forward, loss, backward(), then optimizer.step()",
                     f"{len(updates)} parameters updated, loss {_num(g.graph['loss'])}",
                     list(_by_kind(g, "loss")))
    return Story("Keras fit(): the traced step is fit's own train function: forward, "
                 "gradients and the optimizer's update in one graph",
                 f"{len(updates)} variable updates, {g.number_of_nodes()} nodes, loss "
                 f"{_num(g.graph['loss'])}", list(_by_kind(g, "loss")))


_STORIES: dict[str, Callable[[Any, int, str], Story]] = {
    "mul": _mul, "dynamicnet": _dynamicnet, "linreg": _linreg, "mnist_mlp": _mnist,
}
