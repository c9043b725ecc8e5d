"""PyTorch steps of any shape (issue 11): autocast, activation checkpointing, custom
autograd.Function, gradient accumulation, two optimizers, in-place ops. Each model is traced
once; every trace is checked by graphstage verify and against the test's own hooks and an
untraced run of the same script."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest
import torch
from torch.optim import optimizer as optim_hooks

from graphstage.tracers import torch_tracer, validate
from graphstage.tracers.script import load_script
from graphstage.tracers.verify import assert_verified


def named_params(ms) -> dict[str, torch.Tensor]:
    """The script's parameters under the names the trace gives them (main model, then the
    other modules of setup()'s result prefixed by their key)."""
    out = dict(ms.model.named_parameters())
    for key, val in ms.extras.items():
        if isinstance(val, torch.nn.Module):
            out.update({f"{key}.{n}": p for n, p in val.named_parameters()})
    return out


def run(path, traced: bool) -> dict:
    """One step of the script, traced or not, with the gradients each optimizer stepped with
    and how often each module ran (the test's own hooks)."""
    ms = load_script(path)
    params = named_params(ms)
    name_of = {id(p): n for n, p in params.items()}
    used, calls = {}, Counter()

    def pre_step(opt, args, kwargs):
        for group in opt.param_groups:
            for p in group["params"]:
                # via numpy: a torch op here would be recorded as the user's (an update)
                used[name_of[id(p)]] = (type(opt).__name__, torch.from_numpy(p.grad.numpy().copy()))

    modules = [ms.model, *(v for v in ms.extras.values() if isinstance(v, torch.nn.Module))]
    handles = [optim_hooks.register_optimizer_step_pre_hook(pre_step)]
    handles += [m.register_forward_hook(lambda mod, i, o, n=n: calls.update([n]))
                for model in modules for n, m in model.named_modules() if n]
    try:
        graph = torch_tracer.trace(ms, 1).graph(0) if traced else ms.step()
    finally:
        for h in handles:
            h.remove()
    return {"graph": graph if traced else None, "used": used, "calls": calls}


@pytest.fixture(scope="module")
def runs(models_dir):
    """name -> (traced run, untraced run); every script verified once as well."""
    out = {}
    for name in ("autocast", "checkpoint", "custom_function", "grad_accum", "two_optimizers",
                 "inplace_views"):
        path = models_dir / f"{name}_torch.py"
        checks = assert_verified(path, 1)
        assert checks[0].backward_nodes > 0 and checks[0].forward_ops > 0
        out[name] = (run(path, True), run(path, False))
        validate(out[name][0]["graph"])
    return out


def nodes(g, **match) -> list[tuple[str, dict]]:
    return [(n, a) for n, a in g.nodes(data=True)
            if all(a.get(k) == v for k, v in match.items())]


def grad_summary_matches(summary: dict, grad: torch.Tensor) -> bool:
    g = grad.double()
    if "values" in summary and summary["values"] != pytest.approx(g.reshape(-1).tolist(),
                                                                  rel=1e-6, abs=1e-9):
        return False
    return summary["norm"] == pytest.approx(g.norm().item(), rel=1e-6) and \
        summary["mean"] == pytest.approx(g.mean().item(), rel=1e-6, abs=1e-9)


def assert_gradients_as_used(traced: dict, untraced: dict) -> None:
    """Each parameter's gradient in the trace is the one its optimizer stepped with, and equal
    to the untraced run's."""
    g = traced["graph"]
    params = {a["name"]: a for _, a in nodes(g, kind="parameter")}
    assert untraced["used"] and untraced["used"].keys() == traced["used"].keys()
    for name, (opt, grad) in untraced["used"].items():
        assert torch.equal(grad, traced["used"][name][1]), name   # tracing changed nothing
        assert grad_summary_matches(params[name]["grad"], grad), name
        assert g.nodes[f"u:{name}"]["op"] == f"{opt}.step"


def passes(g) -> list[set[str]]:
    """Per loss node (one per backward call), the backward nodes its gradient edges reach."""
    back = nx.DiGraph((u, v) for u, v, e in g.edges(data=True) if e["role"] == "gradient")
    return [nx.descendants(back, n) for n, _ in nodes(g, kind="loss") if n in back]


def test_autocast_records_cast_dtypes(runs):
    traced, untraced = runs["autocast"]
    g = traced["graph"]
    forward = {(a["op"], a["scope"]): a for _, a in nodes(g, phase="forward") if a["order"] >= 0}
    assert forward[("linear", "0")]["dtype"] == forward[("linear", "2")]["dtype"] == "bfloat16"
    assert forward[("relu", "1")]["dtype"] == "bfloat16"
    assert forward[("mse_loss", "")]["dtype"] == "float32"
    assert forward[("mse_loss", "")]["kind"] == "loss"
    casts = nodes(g, op="ToCopyBackward0")
    assert len(casts) == 5    # the float() and a bfloat16 cast of each of the 4 parameters
    assert all(g.nodes[a["forward"]]["op"] in ("linear", "float") for _, a in casts)
    (reached,) = passes(g)
    assert {n for n, _ in casts} <= reached
    assert_gradients_as_used(traced, untraced)
    assert all(a["grad"]["dtype"] == "float32" for _, a in nodes(g, kind="parameter"))


def test_checkpointed_blocks_drawn_once_and_not_rerun_by_the_tracer(runs):
    traced, untraced = runs["checkpoint"]
    g = traced["graph"]
    forward = [a for _, a in nodes(g, phase="forward") if a["order"] >= 0]
    by_scope = Counter(a["scope"] for a in forward)
    for scope in ("a/0", "a/1", "a/2", "b/0", "b/1", "b/2", "head"):
        assert by_scope[scope] == 1, scope       # the real forward only, not the reruns
    assert all(a.get("checkpointed") is True for a in forward if a["scope"][:2] in ("a/", "b/"))
    assert not any(a.get("checkpointed") for a in forward if a["scope"][:2] not in ("a/", "b/"))
    # the blocks did run again in backward (the test's own hooks), as often as untraced: the
    # tracer reading saved tensors must not trigger extra reruns
    assert traced["calls"] == untraced["calls"]
    assert traced["calls"]["a.0"] == 2 and traced["calls"]["b.0"] == 2
    assert traced["calls"]["head"] == 1
    a_backward = [a for _, a in nodes(g, phase="backward") if a["scope"].startswith("a/")
                  and a["kind"] == "op"]
    assert {a["op"] for a in a_backward} >= {"AddmmBackward0", "TanhBackward0"}
    assert all(a["saved"] == [] and a["saved_bytes"] == 0 for a in a_backward)
    (reentrant,) = nodes(g, op="CheckpointFunctionBackward")
    assert g.nodes[reentrant[1]["forward"]]["scope"] == "b/2"
    (reached,) = passes(g)
    assert reentrant[0] in reached and {n for n, _ in nodes(g, phase="backward")} == reached
    assert_gradients_as_used(traced, untraced)


def test_custom_function_is_one_forward_op_owning_its_backward(runs):
    traced, untraced = runs["custom_function"]
    g = traced["graph"]
    ((fid, fwd),) = nodes(g, op="Square")
    ((_, bwd),) = nodes(g, op="SquareBackward")
    assert fwd["phase"] == "forward" and fwd["label"] == "Square" and fwd["requires_grad"]
    assert bwd["forward"] == fid and fwd["backward"] == [n for n, a in nodes(g, forward=fid)]
    assert not nodes(g, op="mul")                   # the ops inside its forward are not drawn
    assert [(g.nodes[u]["op"], g.nodes[u]["scope"]) for u, _ in g.in_edges(fid)] == \
        [("linear", "0")]                           # fed by the first linear
    assert torch.autograd.Function.__dict__["apply"].__func__.__module__ == \
        "torch.autograd.function"                   # the wrapper is gone after the trace
    assert untraced["used"] == {} and traced["used"] == {}       # no optimizer in this script


def test_gradient_accumulation_two_passes_one_update(runs, models_dir):
    traced, untraced = runs["grad_accum"]
    g = traced["graph"]
    assert g.graph["backward_calls"] == 2 and len(g.graph["losses"]) == 2
    forward = Counter(a["op"] for _, a in nodes(g, phase="forward") if a["order"] >= 0)
    assert forward["linear"] == traced["calls"]["0"] + traced["calls"]["2"] == 4
    assert forward["relu"] == 2 and forward["mse_loss"] == 2
    losses = sorted((a["order"], n) for n, a in nodes(g, kind="loss"))
    assert len(losses) == 2
    first_pass_end = losses[0][0]
    reached = passes(g)
    assert len(reached) == 2
    for i, bids in enumerate(reached):             # each pass's nodes link to its own forward
        orders = [g.nodes[g.nodes[b]["forward"]]["order"] for b in bids
                  if g.nodes[b].get("forward")]
        assert orders and all((o <= first_pass_end) == (i == 0) for o in orders), i
    assert_gradients_as_used(traced, untraced)
    # the gradient shown is the accumulated one, not the last micro-batch's alone
    ms = load_script(models_dir / "grad_accum_torch.py")
    xb, yb = ms.extras["batches"][1]
    last = torch.autograd.grad(torch.nn.functional.mse_loss(ms.model(xb), yb) / 2,
                               ms.model[0].weight)[0]
    shown = {a["name"]: a["grad"] for _, a in nodes(g, kind="parameter")}["0.weight"]
    assert shown["norm"] != pytest.approx(last.norm().item(), rel=1e-3)


def test_two_optimizers_one_step(runs):
    traced, untraced = runs["two_optimizers"]
    g = traced["graph"]
    ops = {a["param"]: a["op"] for _, a in nodes(g, kind="update")}
    assert ops == {"p:weight": "SGD.step", "p:bias": "SGD.step",
                   "p:head.weight": "Adam.step", "p:head.bias": "Adam.step"}
    assert_gradients_as_used(traced, untraced)


def test_inplace_ops_own_their_backward_nodes(runs):
    traced, untraced = runs["inplace_views"]
    g = traced["graph"]
    for op, backward in (("mul_", "MulBackward0"), ("add_", "AddBackward0"),
                         ("relu_", "ReluBackward0")):
        ((fid, fwd),) = nodes(g, op=op)
        assert fwd["inplace"] and fwd["requires_grad"]
        assert [g.nodes[b]["op"] for b in fwd["backward"]] == [backward], op
    assert_gradients_as_used(traced, untraced)


def test_hf_gradient_checkpointing_not_rerun_by_the_tracer(models_dir):
    """transformers' gradient checkpointing (GPT-2): verified; each block ran twice, as
    untraced (the tracer never reads the dropped tensors); its ops drawn once, checkpointed."""
    pytest.importorskip("transformers")
    path = models_dir / "hf_gpt2_checkpoint_torch.py"
    assert_verified(path, 1)
    traced, untraced = run(path, True), run(path, False)
    assert traced["calls"] == untraced["calls"]
    assert traced["calls"]["transformer.h.0.attn"] == 2 == traced["calls"]["transformer.h.1.attn"]

    def block_ops(g) -> Counter:
        return Counter((a["scope"], a["op"]) for _, a in nodes(g, phase="forward")
                       if a["order"] >= 0 and a["scope"].startswith("transformer/h/"))

    g = traced["graph"]
    plain = torch_tracer.trace(load_script(models_dir.parent / "zoo" / "hf_gpt2_torch.py"), 1)
    # drawn once, as without checkpoints (which also keeps a KV cache: a few ops more)
    ckpt, base = block_ops(g), block_ops(plain.graph(0))
    assert ckpt and all(base[k] == n for k, n in ckpt.items())
    assert all(a.get("checkpointed") for _, a in nodes(g, phase="forward")
               if a["order"] >= 0 and a["scope"].startswith("transformer/h/"))
    assert_gradients_as_used(traced, untraced)
