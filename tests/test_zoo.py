"""The model zoo: real architectures from their own libraries (Hugging Face transformers, Keras
applications and layers), random weights, each traced, verified against independent records
and exported. The big ones are marked slow (`pytest -m slow` runs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphstage.tracers.run import trace_script
from graphstage.tracers.script import load_script
from graphstage.tracers.verify import assert_verified
from graphstage.viz.export import export_step

ZOO = Path(__file__).resolve().parent / "zoo"

TORCH = ["hf_gpt2_torch", "hf_bert_torch", pytest.param("hf_t5_torch", marks=pytest.mark.slow)]
TF = [pytest.param("keras_functional_tf", marks=pytest.mark.tf),
      pytest.param("keras_mobilenetv2_tf", marks=[pytest.mark.tf, pytest.mark.slow])]


def _param_names(graph) -> set[str]:
    return {a["label"] for _, a in graph.nodes(data=True) if a["kind"] == "parameter"}


@pytest.mark.parametrize("name", TORCH)
def test_torch_zoo(name, tmp_path):
    pytest.importorskip("transformers")
    path = ZOO / f"{name}.py"
    assert_verified(path, 1)
    session = trace_script(path, 2)
    ms = load_script(path)
    expected = {n for n, p in ms.model.named_parameters() if p.requires_grad}
    assert _param_names(session.graph(0)) == expected
    assert session.graph(1).graph["same_as_previous"]
    out = export_step(session.graph(0), tmp_path / "step.svg", "svg")
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("name", TF)
def test_tensorflow_zoo(name, tmp_path):
    path = ZOO / f"{name}.py"
    assert_verified(path, 1)
    session = trace_script(path, 2)
    ms = load_script(path)
    assert _param_names(session.graph(0)) == {v.path for v in ms.model.trainable_variables}
    assert session.graph(1).graph["same_as_previous"]
    out = export_step(session.graph(0), tmp_path / "step.svg", "svg")
    assert out.stat().st_size > 10_000
