"""graphstage.record around unchanged PyTorch loops, and `graphstage run` on an unmodified
training script: steps end where the loop's optimizer steps, the loop's numbers are unchanged,
and nothing stays hooked afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import graphstage  # noqa: E402
from graphstage.tracers.session import TraceSession  # noqa: E402

MODELS = Path(__file__).resolve().parent / "models"


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x, y = torch.randn(32, 10), torch.randn(32, 1)
    return model, opt, x, y


def _train(model, opt, x, y, iters: int, rec=None) -> list[float]:
    losses = []
    for _ in range(iters):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _hook_counts() -> tuple[int, ...]:
    from torch.nn.modules import module as m
    from torch.optim import optimizer as o
    from torch.overrides import _get_current_function_mode_stack

    return (len(m._global_forward_pre_hooks), len(m._global_forward_hooks),
            len(o._global_optimizer_pre_hooks), len(o._global_optimizer_post_hooks),
            len(_get_current_function_mode_stack()))


def test_record_stops_after_n_steps_and_leaves_the_loop_unchanged():
    before = _hook_counts()
    model, opt, x, y = _setup()
    with graphstage.record(steps=3) as rec:
        losses = _train(model, opt, x, y, 8)
    assert _hook_counts() == before
    session = rec.session
    assert len(session) == 3 and rec.error is None
    assert session.losses() == pytest.approx(losses[:3], rel=1e-6)
    params = {a["label"] for _, a in session.graph(0).nodes(data=True)
              if a["kind"] == "parameter"}
    assert params == {n for n, _ in model.named_parameters()}
    for g in session.steps:
        assert {a["phase"] for _, a in g.nodes(data=True)} == {"forward", "backward", "update"}
    # recording did not change training: the same run without graphstage gives the same losses
    assert losses == pytest.approx(_train(*_setup(), 8), rel=1e-6)


def test_recorded_step_matches_traced_step():
    model, opt, x, y = _setup()
    with graphstage.record(steps=2, model=model, optimizer=opt) as rec:
        _train(model, opt, x, y, 2)
    traced = _trace_same_loop()
    for a, b in zip(rec.session.steps, traced.steps, strict=True):
        assert set(a.nodes) == set(b.nodes)
        assert set(a.edges) == set(b.edges)


def _trace_same_loop() -> TraceSession:
    model, opt, x, y = _setup()  # the same variable names as the recorded loop's

    def step() -> None:
        _train(model, opt, x, y, 1)

    return graphstage.trace(step, 2, model=model, optimizer=opt)


def test_record_without_optimizer_splits_at_the_next_forward():
    torch.manual_seed(1)
    model = torch.nn.Linear(4, 1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    losses = []
    with graphstage.record(steps=3, model=model) as rec:
        for _ in range(5):
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
                    p.grad = None
            losses.append(loss.item())
    assert len(rec.session) == 3
    assert rec.session.losses() == pytest.approx(losses[:3], rel=1e-6)
    for g in rec.session.steps:
        updates = [a for _, a in g.nodes(data=True) if a["phase"] == "update"]
        assert len(updates) == 2  # weight and bias, updated by hand after backward


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "graphstage", "run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_graphstage_run_records_an_unmodified_script(tmp_path):
    script = MODELS / "train_loop_torch.py"
    res = _run(str(script), "--steps", "3", "-o", "t.json", "--", "--epochs", "3", "--log",
               "stopped.txt", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "stopped after recording 3 steps" in res.stderr
    assert not (tmp_path / "stopped.txt").exists()  # the script was stopped before its end
    stopped = TraceSession.load(tmp_path / "t.json")
    res = _run(str(script), "--steps", "3", "--finish", "-o", "f.json", "--", "--epochs", "3",
               "--log", "full.txt", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "TRAINING DONE 12" in res.stdout and "ran to its end" in res.stderr
    logged = [float(v) for v in (tmp_path / "full.txt").read_text().split()]
    finished = TraceSession.load(tmp_path / "f.json")
    assert len(logged) == 12
    assert finished.losses() == pytest.approx(logged[:3], rel=1e-6)
    assert stopped.losses() == pytest.approx(logged[:3], rel=1e-6)
    params = {a["label"] for _, a in finished.graph(0).nodes(data=True)
              if a["kind"] == "parameter"}
    assert params == {"body.0.weight", "body.0.bias", "head.weight", "head.bias"}


def test_graphstage_run_reports_a_script_that_fails_first(tmp_path):
    bad = tmp_path / "bad_train.py"
    bad.write_text("import torch\nraise RuntimeError('no data here')\n")
    res = _run(str(bad), "-o", "x.json", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == (
        "graphstage: error: bad_train.py raised RuntimeError: no data here")
    assert "bad_train.py\", line 2" in res.stderr
