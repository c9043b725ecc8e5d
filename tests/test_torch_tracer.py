"""The PyTorch tracer on the bundled examples and on the awkward parts of real models."""

import random
from collections import Counter

import pytest
import torch

from graphstage.tracers import ScriptError, TraceSession, torch_tracer, trace_script, validate
from graphstage.tracers.script import list_examples, load_script

TORCH_EXAMPLES = [n for n in list_examples() if n.endswith("_torch")]


def autograd_walk(root: torch.Tensor) -> Counter:
    """Independent walk of root.grad_fn.next_functions: op name -> count."""
    seen, todo = set(), [root.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        todo.extend(f for f, _ in fn.next_functions)
    return Counter(fn.name().replace("torch::autograd::", "") for fn in seen)


def trace_keeping_loss(path, steps=1):
    """Trace while keeping the loss tensors step() returned, to walk them afterwards."""
    ms = load_script(path)
    losses, step = [], ms.step
    ms.step = lambda: losses.append(step()) or losses[-1]
    return torch_tracer.trace(ms, steps), losses


def backward_ops(g) -> Counter:
    return Counter(a["op"] for _, a in g.nodes(data=True) if a["phase"] == "backward")


def test_mul_values_from_trace_file(examples_dir, tmp_path):
    session = trace_script(examples_dir / "mul_torch.py", steps=2)
    path = session.save(tmp_path / "mul.json")
    g = TraceSession.load(path).steps[-1]
    c = [a for _, a in g.nodes(data=True) if a["kind"] == "loss"]
    assert len(c) == 1 and c[0]["op"] == "mul" and c[0]["value"]["values"] == [300.0]
    params = {a["name"]: a for _, a in g.nodes(data=True) if a["kind"] == "parameter"}
    assert params["a"]["value"]["values"] == [15.0] and params["a"]["grad"]["values"] == [20.0]
    assert params["b"]["value"]["values"] == [20.0] and params["b"]["grad"]["values"] == [15.0]
    assert g.graph["loss"] == 300.0


@pytest.mark.parametrize("name", TORCH_EXAMPLES)
def test_autograd_nodes_equal_independent_walk(examples_dir, name):
    session, losses = trace_keeping_loss(examples_dir / f"{name}.py")
    g = session.steps[0]
    validate(g)
    expected = autograd_walk(losses[0])
    assert backward_ops(g) == expected
    assert sum(expected.values()) == sum(1 for _, a in g.nodes(data=True)
                                         if a["phase"] == "backward")
    fired = sorted(a["order"] for _, a in g.nodes(data=True) if a["phase"] == "backward")
    assert fired == list(range(len(fired))), "every backward node fired exactly once, in order"


def test_dynamicnet_depth_follows_random(examples_dir, monkeypatch):
    draws = []
    real = random.randint

    def spy(a, b):
        draws.append(real(a, b))
        return draws[-1]

    monkeypatch.setattr(random, "randint", spy)
    session = trace_script(examples_dir / "dynamicnet_torch.py", steps=20, seed=11)
    assert len(draws) == 20
    calls = []
    for g in session.steps:
        validate(g)
        calls.append(sum(1 for _, a in g.nodes(data=True) if a["phase"] == "forward"
                         and a["op"] == "linear" and a["scope"].startswith("hidden_layer")))
    assert calls == draws
    assert set(calls) <= {0, 1, 2, 3} and len(set(calls)) > 1
    for i in range(1, 20):
        d = session.diff(i)
        grew = calls[i] - calls[i - 1]
        added_calls = {k.split("/")[0] for k in d.added if k.startswith("hidden_layer")}
        removed_calls = {k.split("/")[0] for k in d.removed if k.startswith("hidden_layer")}
        if grew > 0:
            assert len(added_calls) == grew and not removed_calls
        elif grew < 0:
            assert len(removed_calls) == -grew and not added_calls
        else:
            assert d.empty and session.steps[i].graph["same_as_previous"]


def test_shared_layer_calls_share_parameters(examples_dir, monkeypatch):
    monkeypatch.setattr(random, "randint", lambda a, b: 3)
    g = trace_script(examples_dir / "dynamicnet_torch.py", steps=1).steps[0]
    hidden = [n for n, a in g.nodes(data=True)
              if a["op"] == "linear" and a["scope"].startswith("hidden_layer")]
    assert sorted(g.nodes[n]["scope"] for n in hidden) == [
        "hidden_layer", "hidden_layer#1", "hidden_layer#2"]
    for n in hidden:
        assert "p:hidden_layer.weight" in g.predecessors(n)
    acc = [n for n, a in g.nodes(data=True) if a["key"] == "grad:hidden_layer.weight"]
    assert len(acc) == 1 and g.nodes[acc[0]]["param"] == "p:hidden_layer.weight"
    assert g.nodes["p:hidden_layer.weight"]["grad"]["norm"] > 0


def test_backward_nodes_link_to_forward_ops(examples_dir):
    g = trace_script(examples_dir / "dynamicnet_torch.py", steps=1).steps[0]
    for n, a in g.nodes(data=True):
        if a["phase"] == "backward" and a["kind"] == "op":
            fwd = a["forward"]
            assert fwd is not None and n in g.nodes[fwd]["backward"]
            assert a["scope"] == g.nodes[fwd]["scope"]
    addmm = [a for _, a in g.nodes(data=True) if a["op"] == "AddmmBackward0"]
    assert addmm and all(any(s["shape"] for s in a["saved"]) for a in addmm)


@pytest.mark.parametrize("name", ["dynamicnet_torch", "mnist_mlp_torch", "cnn_torch"])
def test_tracing_does_not_change_results(examples_dir, name):
    def run(traced: bool):
        ms = load_script(examples_dir / f"{name}.py", seed=5)
        out = []
        step = ms.step
        ms.step = lambda: out.append(step()) or out[-1]
        for _ in range(2):
            torch_tracer.trace(ms, 1) if traced else ms.step()
        params = {n: p.detach().clone() for n, p in ms.model.named_parameters()}
        grads = {n: p.grad.clone() for n, p in ms.model.named_parameters() if p.grad is not None}
        return [o.detach() for o in out], params, grads

    loss_a, params_a, grads_a = run(False)
    loss_b, params_b, grads_b = run(True)
    assert all(torch.equal(a, b) for a, b in zip(loss_a, loss_b, strict=True))
    assert grads_a.keys() == grads_b.keys() and grads_a
    assert all(torch.equal(grads_a[k], grads_b[k]) for k in grads_a)
    assert all(torch.equal(params_a[k], params_b[k]) for k in params_a)


def hooks_state():
    from torch.nn.modules import module
    from torch.optim import optimizer
    from torch.utils.data import dataloader

    return (
        len(module._global_forward_hooks), len(module._global_forward_pre_hooks),
        len(optimizer._global_optimizer_pre_hooks), len(optimizer._global_optimizer_post_hooks),
        torch.autograd.backward, torch.autograd.grad, torch._C._len_torch_function_stack(),
        dataloader._BaseDataLoaderIter.__next__, torch.autograd.Function.__dict__["apply"],
    )


def test_everything_restored_after_success_and_failure(examples_dir, models_dir):
    before = hooks_state()
    trace_script(examples_dir / "mnist_mlp_torch.py", steps=1)
    assert hooks_state() == before
    with pytest.raises(ScriptError, match="step\\(\\) raised RuntimeError"):
        trace_script(models_dir / "bad_step_raises_torch.py", steps=1)
    assert hooks_state() == before


def test_inplace_views_detach_no_grad(models_dir):
    session, losses = trace_keeping_loss(models_dir / "inplace_views_torch.py")
    g = session.steps[0]
    ops = {a["op"]: a for _, a in g.nodes(data=True) if a["phase"] == "forward"}
    for op in ("reshape", "view", "transpose", "flatten", "mul_", "relu_", "detach", "abs"):
        assert op in ops, op
    assert ops["mul_"]["inplace"] and ops["relu_"]["inplace"]
    assert ops["detach"]["requires_grad"] is False
    assert ops["abs"]["requires_grad"] is False          # computed under no_grad
    assert backward_ops(g) == autograd_walk(losses[0])
    assert "MulBackward0" in backward_ops(g)              # the in-place mul_ is differentiated
    updates = [a for _, a in g.nodes(data=True) if a["kind"] == "update"]
    assert {a["param"] for a in updates} == {"p:weight", "p:bias"}


def test_custom_autograd_function(models_dir):
    session, losses = trace_keeping_loss(models_dir / "custom_function_torch.py")
    g = session.steps[0]
    assert backward_ops(g) == autograd_walk(losses[0])
    sq = [a for _, a in g.nodes(data=True) if a["op"] == "SquareBackward"]
    assert len(sq) == 1 and sq[0]["forward"] is not None
    assert g.nodes[sq[0]["forward"]]["scope"] == ""          # credited to the op it wraps


def test_lstm_gru_attention_multiple_outputs(models_dir):
    session, losses = trace_keeping_loss(models_dir / "recurrent_attention_torch.py")
    g = session.steps[0]
    assert backward_ops(g) == autograd_walk(losses[0])
    ops = {a["op"] for _, a in g.nodes(data=True) if a["phase"] == "forward"}
    assert {"lstm", "gru", "multi_head_attention_forward"} <= ops
    outputs = [a for _, a in g.nodes(data=True) if a["kind"] == "output"]
    assert len(outputs) == 2
    params = [a for _, a in g.nodes(data=True) if a["kind"] == "parameter"]
    assert all(not a["no_grad"] for a in params)
    assert {a["scope"] for _, a in g.nodes(data=True)} >= {"lstm", "gru", "attn", "head", "aux"}


def test_two_backward_calls_and_parameter_without_gradient(models_dir):
    g = trace_script(models_dir / "two_backward_torch.py", steps=1).steps[0]
    validate(g)
    assert g.graph["backward_calls"] == 2 and len(g.graph["losses"]) == 2
    assert sum(1 for _, a in g.nodes(data=True) if a["kind"] == "loss") == 2
    params = {a["name"]: a for _, a in g.nodes(data=True) if a["kind"] == "parameter"}
    assert params["unused.weight"]["no_grad"] and params["unused.bias"]["no_grad"]
    assert "grad" not in params["unused.weight"]
    assert not params["body.weight"]["no_grad"]
    # the shared body gets gradient from both backward calls: its AccumulateGrad fired once each
    fired = [a["order"] for _, a in g.nodes(data=True) if a["phase"] == "backward"]
    assert min(fired) == 0 and all(o >= 0 for o in fired)


def test_device_recorded_from_tensors(examples_dir):
    g = trace_script(examples_dir / "mul_torch.py", steps=1).steps[0]
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    for _, a in g.nodes(data=True):
        if "device" in a:
            assert a["device"] == device


@pytest.mark.parametrize("script, message", [
    ("bad_no_grad_torch.py", "does not require grad"),
    ("bad_no_backward_torch.py", "ran no backward pass"),
    ("bad_no_setup_torch.py", "has no setup\\(\\)"),
    ("bad_import_raises_torch.py", "raised RuntimeError while being imported"),
    ("bad_step_raises_torch.py", "step\\(\\) raised RuntimeError at step 0"),
])
def test_bad_scripts_give_clear_errors(models_dir, script, message):
    with pytest.raises(ScriptError, match=message) as info:
        trace_script(models_dir / script, steps=1)
    assert "\n" not in info.value.message


def test_user_traceback_shows_only_user_frames(models_dir):
    with pytest.raises(ScriptError) as info:
        trace_script(models_dir / "bad_step_raises_torch.py", steps=1)
    details = info.value.details
    assert "bad_step_raises_torch.py" in details and "torch_tracer.py" not in details


def test_linreg_converges_from_trace_file(examples_dir, tmp_path):
    session = trace_script(examples_dir / "linreg_torch.py", steps=200)
    g = TraceSession.load(session.save(tmp_path / "linreg.json")).steps[-1]
    params = {a["name"]: a for _, a in g.nodes(data=True) if a["kind"] == "parameter"}
    w, b = params["w"]["value"]["values"][0], params["b"]["value"]["values"][0]
    assert abs(w - 0.1) < 0.02 and abs(b - 0.3) < 0.05
    updates = {a["param"]: a for _, a in g.nodes(data=True) if a["kind"] == "update"}
    assert set(updates) == {"p:w", "p:b"}                    # the hand-written update
    assert all(a["op"] == "update" and a["ops"] for a in updates.values())


def test_gradient_shown_is_the_one_the_update_used(examples_dir):
    """linreg_torch zeroes .grad inside its step after the update: the trace still shows the
    gradient the update used, as an independent autograd.grad on a fresh copy computes it."""
    session = trace_script(examples_dir / "linreg_torch.py", steps=1, seed=0)
    ms = load_script(examples_dir / "linreg_torch.py", seed=0)
    model = ms.model
    cells = dict(zip(ms.step.__code__.co_freevars, ms.step.__closure__, strict=True))
    x, y = cells["x"].cell_contents, cells["y"].cell_contents
    assert x.shape == y.shape == (200, 1)
    loss = torch.mean((model(x) - y) ** 2)
    dw, db = torch.autograd.grad(loss, [model.w, model.b])
    params = {a["label"]: a for _, a in session.graph(0).nodes(data=True)
              if a["kind"] == "parameter"}
    assert params["w"]["grad"]["values"] == pytest.approx(dw.reshape(-1).tolist(), rel=1e-5)
    assert params["b"]["grad"]["values"] == pytest.approx(db.reshape(-1).tolist(), rel=1e-5)
    assert params["w"]["grad"]["values"][0] == pytest.approx(params["w"]["grad"]["mean"])
    assert params["w"]["value"]["values"] == pytest.approx([model.w.item()], rel=1e-6)


def test_gan_step_keeps_every_forward_op_of_both_passes(models_dir):
    """Discriminator update, then generator update through a second discriminator call: the
    second call's ops are forward ops (not updates), counted against the test's own hooks."""
    ms = load_script(models_dir / "gan_torch.py")
    calls = Counter()
    handles = [m.register_forward_hook(lambda mod, i, o: calls.update([type(mod).__name__]))
               for model in (ms.model, ms.extras["disc"]) for m in model.modules()]
    session = torch_tracer.trace(ms, 1)
    for h in handles:
        h.remove()
    g = session.graph(0)
    forward = Counter(a["op"] for _, a in g.nodes(data=True) if a["phase"] == "forward")
    assert forward["linear"] == calls["Linear"] == 8
    assert forward["leaky_relu"] == calls["LeakyReLU"] == 3
    inputs = {a["label"] for _, a in g.nodes(data=True) if a["kind"] == "input"}
    assert inputs == {"real"}
    updates = [a for _, a in g.nodes(data=True) if a["kind"] == "update"]
    assert len(updates) == sum(1 for m in (ms.model, ms.extras["disc"])
                               for _ in m.parameters())
    assert g.graph["backward_calls"] == 2 and len(g.graph["losses"]) == 2


def test_saved_bytes_match_saved_tensors_hooks(examples_dir):
    """resnet18_torch: the bytes the trace says each backward node saved add up to what
    torch.autograd.graph.saved_tensors_hooks sees packed during the same step."""
    ms = load_script(examples_dir / "resnet18_torch.py")
    packed = []

    def pack(t):
        packed.append(t.numel() * t.element_size())
        return t

    step = ms.step

    def hooked_step():
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            return step()

    ms.step = hooked_step
    graph = torch_tracer.trace(ms, 1).graph(0)
    traced = sum(a.get("saved_bytes", 0) for a in graph.nodes.values()
                 if a["phase"] == "backward")
    assert traced == sum(packed) and traced > 10_000_000
    per_node = [a for a in graph.nodes.values() if a.get("saved_bytes")]
    assert all(a["saved_bytes"] == sum(s["bytes"] for s in a["saved"]) for a in per_node)
    outs = [a for a in graph.nodes.values() if a["phase"] == "forward" and a["order"] >= 0]
    assert all(a["output_bytes"] > 0 for a in outs if a.get("shape"))


def test_measured_durations_cover_the_step(examples_dir):
    """resnet18_torch: at least 90 % of the ops that ran carry duration_us, and their sum is
    within 0.5-2x of the same step run untraced, measured in the same process."""
    import time

    ms = load_script(examples_dir / "resnet18_torch.py")
    ms.step()  # warm up
    plain = []

    def untraced(n: int) -> None:
        for _ in range(n):
            t = time.perf_counter()
            ms.step()
            plain.append(time.perf_counter() - t)

    untraced(3)
    graph = torch_tracer.trace(ms, 1).graph(0)
    untraced(3)  # before and after: machine drift hits both sides
    ran = [a for a in graph.nodes.values() if a["order"] >= 0]
    timed = [a for a in ran if "duration_us" in a]
    assert len(timed) >= 0.9 * len(ran)
    total_s = sum(a["duration_us"] for a in timed) / 1e6
    low, high = min(plain), max(plain)
    assert 0.5 * low <= total_s <= 2 * high, (total_s, plain)
    backward = sorted((a for a in timed if a["phase"] == "backward"),
                      key=lambda a: a["order"])
    assert all(a["start_us"] <= b["start_us"]
               for a, b in zip(backward, backward[1:], strict=False))


def test_data_loading_is_not_drawn(examples_dir):
    """mnist_mlp_torch draws batches from a DataLoader: the loader's own ops (seeding its
    sampler, collating) are not the model's, the batch reads batch[0]/batch[1], a .to(device)
    that moved nothing is no op, and the static MLP's structure never changes."""
    session = trace_script(examples_dir / "mnist_mlp_torch.py", steps=4)
    assert [g.graph["same_as_previous"] for g in session.steps[1:]] == [True, True, True]
    g = session.graph(0)
    ops = {a["op"] for _, a in g.nodes(data=True) if a["phase"] == "forward"}
    assert not ops & {"empty", "random_", "to", "stack"}
    inputs = {a["label"] for _, a in g.nodes(data=True) if a["kind"] == "input"}
    assert inputs == {"batch[0]", "batch[1]"}


DEEP_RNN = """
import gc, sys, torch, graphstage
cell = torch.nn.LSTMCell(4, 8)
opt = torch.optim.SGD(cell.parameters(), 0.1)
x = torch.randn(800, 1, 4)

def unrolled(T):
    h, c = torch.zeros(1, 8), torch.zeros(1, 8)
    for t in range(T):
        h, c = cell(x[t], (h, c))
    return h.sum()

def walked(T):  # autograd nodes of a short unroll, walked independently of the tracer
    seen, todo = set(), [unrolled(T).grad_fn]
    while todo:
        fn = todo.pop()
        if fn is not None and fn not in seen:
            seen.add(fn); todo.extend(f for f, _ in fn.next_functions)
    return len(seen)

def train_step():
    loss = unrolled(800)
    opt.zero_grad(); loss.backward(); opt.step()
    return loss

s = graphstage.trace(train_step, steps=1, model=cell, optimizer=opt)
gc.collect()
traced = sum(a["phase"] == "backward" for _, a in s.steps[0].nodes(data=True))
print(traced, walked(3) + 797 * (walked(4) - walked(3)))
"""


def test_deep_unrolled_rnn_frees_without_overflow(tmp_path):
    """An RNN unrolled 800 times (13,600 ops) traced, then collected, on a 1 MB C stack: torch
    frees a chain of Python-wrapped autograd nodes by recursion, which the recorder's release
    order must keep shallow (it segfaulted here before)."""
    import resource
    import subprocess
    import sys

    def small_stack() -> None:
        resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, 1 << 20))

    script = tmp_path / "deep.py"
    script.write_text(DEEP_RNN)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, preexec_fn=small_stack)
    assert done.returncode == 0, done.stderr[-2000:]
    traced, walked = map(int, done.stdout.split())
    assert traced == walked > 10_000   # every autograd node of the unrolled chain was drawn
