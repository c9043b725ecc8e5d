"""The public Python API (docs/api.md): trace a step in hand, trace a script, save/load, export,
show. Real torch and TensorFlow models built in the test, nothing from a script file."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import graphstage
from graphstage.tracers.script import ScriptError


def _torch_step():
    torch = pytest.importorskip("torch")

    class TinyNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Linear(4, 8)
            self.head = torch.nn.Linear(8, 1)

        def forward(self, x):
            return self.head(torch.relu(self.encoder(x)))

    torch.manual_seed(0)
    model = TinyNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)

    def train_step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, train_step


def _param_names(graph) -> set[str]:
    return {a["label"] for _, a in graph.nodes(data=True) if a["kind"] == "parameter"}


def test_trace_torch_step_in_memory():
    model, opt, train_step = _torch_step()
    session = graphstage.trace(train_step, 3, model=model, optimizer=opt)
    assert session.framework == "torch" and session.model == "TinyNet"
    assert len(session.steps) == 3 and session.graph(-1) is session.steps[2]
    expected = {name for name, _ in model.named_parameters()}
    assert _param_names(session.graph(0)) == expected
    # the trace ran the user's step: the losses it recorded are the ones training produced
    losses = session.losses()
    assert losses[2] < losses[0]
    assert session.diff(0, 2).empty and not session.diff(0).empty


def test_trace_infers_torch_without_hints():
    _, _, train_step = _torch_step()
    session = graphstage.trace(train_step, 1)
    assert session.framework == "torch"
    assert {"encoder.weight", "head.bias"} <= _param_names(session.graph(0))


def test_trace_error_names_the_users_step():
    model, opt, train_step = _torch_step()
    calls = []

    def broken_step():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("data loader ran dry")
        return train_step()

    with pytest.raises(ScriptError) as info:
        graphstage.trace(broken_step, 3, model=model)
    assert "broken_step" in info.value.message and "test_api.py" in info.value.message
    assert "data loader ran dry" in info.value.message and "step 1" in info.value.message
    assert "test_api.py" in info.value.details and "broken_step" in info.value.details


def test_trace_rejects_what_is_no_step():
    with pytest.raises(TypeError):
        graphstage.trace(42)
    with pytest.raises(ValueError):
        graphstage.trace(lambda: None, 0)
    with pytest.raises(ScriptError, match="cannot tell whether"):
        graphstage.trace(lambda: None, 1)


@pytest.mark.tf
def test_trace_tensorflow_function_in_memory(tmp_path):
    tf = pytest.importorskip("tensorflow")
    tf.random.set_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, name="hidden"),
                                 tf.keras.layers.Dense(1, name="out")])
    opt = tf.keras.optimizers.SGD(0.05)
    x, y = tf.random.normal((16, 4)), tf.random.normal((16, 1))

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    session = graphstage.trace(train_step, 2, model=model, optimizer=opt)
    assert session.framework == "tensorflow" and session.model == "Sequential"
    assert _param_names(session.graph(0)) == {v.path for v in model.trainable_variables}
    assert session.graph(1).graph["same_as_previous"]
    written = graphstage.export(session, tmp_path / "img", format="svg")
    assert [p.name for p in written] == ["step_0000.svg", "step_0001.svg"]
    assert all(p.stat().st_size > 1000 for p in written)


def test_save_load_round_trip(tmp_path):
    model, opt, train_step = _torch_step()
    session = graphstage.trace(train_step, 3, model=model, optimizer=opt)
    path = session.save(tmp_path / "tiny.json")
    loaded = graphstage.load(path)
    assert (loaded.framework, loaded.model, len(loaded)) == ("torch", "TinyNet", 3)
    for a, b in zip(session.steps, loaded.steps, strict=True):
        assert dict(a.nodes(data=True)) == dict(b.nodes(data=True))
        assert set(a.edges) == set(b.edges)
    assert loaded.losses() == session.losses()


def test_trace_script_by_example_name_and_export(tmp_path):
    session = graphstage.trace_script("mul_torch", 2)
    labels = {a["label"] for _, a in session.graph(0).nodes(data=True)}
    assert {"a", "b"} <= labels
    path = session.save(tmp_path / "mul.json")
    written = graphstage.export(path, tmp_path / "out", format="svg", steps=[1])
    assert [p.name for p in written] == ["step_0001.svg"]
    with pytest.raises(ValueError, match="format"):
        graphstage.export(session, tmp_path / "x", format="bmp")


@pytest.mark.gui
def test_show_returns_when_the_window_closes():
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from graphstage.viz.gui.main_window import MainWindow

    session = graphstage.trace_script("mul_torch", 1)
    app = QApplication.instance() or QApplication([])
    seen = {}

    def close_when_shown() -> None:
        wins = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins or wins[0].pane.controller.session is None:
            QTimer.singleShot(50, close_when_shown)
            return
        seen["model"] = wins[0].pane.controller.session.model
        wins[0].close()

    QTimer.singleShot(50, close_when_shown)
    graphstage.show(session)
    assert seen["model"] == session.model


def _doc_blocks() -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", [0, pytest.param(1, marks=pytest.mark.tf)])
def test_docs_api_examples_run(index, tmp_path, monkeypatch):
    """docs/api.md's notebook examples run as written (in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    block = _doc_blocks()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"docs/api.md[{index}]", "exec"), {"__name__": "__main__"})
    printed = out.getvalue()
    if index == 0:
        assert "3 steps" in printed and "'hidden.weight'" in printed
        assert sorted(p.name for p in (tmp_path / "two_layer_png").iterdir()) == [
            "step_0000.png", "step_0001.png", "step_0002.png"]
    else:
        assert printed.split()[:1] == ["tensorflow"] and printed.split()[-1] == "True"
