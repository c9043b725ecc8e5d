"""The eight claims graphstage exists to show, each from its example in one click, checked in a
real window under Xvfb through the scene report: the caption carries this step's numbers, the
boxes that prove the claim are in view, and their names are drawn at least 9 px tall.

Set GRAPHSTAGE_CLAIM_SHOTS=DIR to keep the screenshots (docs/img/claims/ holds them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_gui_xvfb import display  # noqa: F401 - the module's Xvfb fixture

pytest.importorskip("PySide6")
pytestmark = [pytest.mark.gui, pytest.mark.xvfb]
ROOT = Path(__file__).resolve().parent.parent


def run(display: str, tmp: Path, name: str, *args: str) -> dict:  # noqa: F811
    shot, report = tmp / f"{name}.png", tmp / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb",
               XDG_CONFIG_HOME=tempfile.mkdtemp(prefix="graphstage-cfg-"))
    proc = subprocess.run([sys.executable, "-m", "graphstage", *args, "--theme", "light",
                           "--screenshot", str(shot), "--scene-json", str(report)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    keep = os.environ.get("GRAPHSTAGE_CLAIM_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return json.loads(report.read_text())


def in_view(pane: dict, label: str) -> list[dict]:
    """Boxes of that label in the pane's viewport, drawn with readable text."""
    hits = [i for i in pane["items"] if i["label"] == label]
    assert hits, f"{label!r} not in view: {sorted({i['label'] for i in pane['items']})}"
    assert all(i["text_px"] >= 9 for i in hits), hits
    return hits


def test_claim_1_2_3_dynamic_versus_static_and_weight_sharing(display, tmp_path):  # noqa: F811
    report = run(display, tmp_path, "claim_dynamicnet", "--example", "dynamicnet_torch",
                 "--compare", "--steps", "4", "--step", "3", "--size", "1600x1000")
    torch_pane, tf_pane = report["panes"]
    # 1: TensorFlow runs the one graph it traced
    assert tf_pane["banner"].startswith("tf.function reused its traced graph")
    assert re.search(r"hidden_layer ×3 in every step, \d+ nodes, same graph as step 1",
                     report["caption"])
    # 2: PyTorch rebuilt its graph this step
    assert torch_pane["banner"].startswith("autograd rebuilt the graph this step")
    assert re.search(r"PyTorch: hidden_layer ×\d this step · TensorFlow: hidden_layer ×3 "
                     "frozen when traced", torch_pane["banner"])
    # side by side at the layer level: each hidden_layer call one readable box in view
    calls = int(re.search(r"hidden_layer ×(\d+) this step", report["caption"]).group(1))
    for pane, n in ((torch_pane, calls), (tf_pane, 3)):
        hidden = [i for i in pane["items"] if i["group"] and i["phase"] == "forward"
                  and re.fullmatch(r"hidden_layer(#\d+)?", i["label"])]
        # an uncalled hidden layer (×0) still has its weight's box: the shared parameters
        assert len(hidden) == max(n, 1) and all(i["text_px"] >= 9 for i in hidden), \
            pane["items"]


def test_claim_3_weight_sharing(display, tmp_path):  # noqa: F811
    """Step 1 of DynamicNet (seed 0) calls the hidden layer 3 times: all calls in view, beside
    the one weight they share."""
    report = run(display, tmp_path, "claim_sharing", "--example", "dynamicnet_torch",
                 "--steps", "2", "--step", "1")
    [pane] = report["panes"]
    calls = int(re.search(r"hidden_layer ×(\d+) this step", report["caption"]).group(1))
    assert calls >= 2
    in_view(pane, "hidden_layer.weight")
    linears = [i for i in pane["items"] if i["label"] == "linear"
               and i["key"].startswith("hidden_layer")]
    assert len({i["key"].split("/")[0] for i in linears}) == calls
    assert all(i["text_px"] >= 9 for i in linears)


def test_claim_4_while_loop_body(display, tmp_path):  # noqa: F811
    report = run(display, tmp_path, "claim_while", "--example", "dynamicnet_while_tf",
                 "--steps", "1")
    [pane] = report["panes"]
    assert re.search(r"1 While op with a \d+-op body", report["caption"])
    assert [i for i in pane["items"] if i["label"] == "While" or "hidden_loop" in i["key"]]


@pytest.mark.parametrize("example", ["mul_torch", "mul_tf", "mul_tf1"])
def test_claim_5_and_6_c_equals_a_times_b(display, tmp_path, example):  # noqa: F811
    report = run(display, tmp_path, f"claim_{example}", "--example", example, "--steps", "1")
    [pane] = report["panes"]
    assert "c = 300, dc/da = 20, dc/db = 15" in report["caption"]
    for label in ("a", "b", "∇ a", "∇ b"):
        in_view(pane, label)
    # 6: TensorFlow's gradients are graph ops, PyTorch's autograd nodes
    if example == "mul_torch":
        in_view(pane, "MulBackward0")
    else:
        assert any(i["label"].startswith("∂ ") for i in pane["items"])


@pytest.mark.parametrize("example,held", [("linreg_tf", "captured"),
                                          ("linreg_torch", "registered nn.Parameters")])
def test_claim_7_captured_versus_registered(display, tmp_path, example, held):  # noqa: F811
    report = run(display, tmp_path, f"claim_{example}", "--example", example, "--steps", "3",
                 "--step", "3")
    [pane] = report["panes"]
    assert held in report["caption"]
    assert re.search(r"w = -?[\d.]+, b = -?[\d.]+ \(towards 0.1, 0.3\)", report["caption"])
    for label in ("w", "b", "∇ w"):
        in_view(pane, label)


@pytest.mark.tf
def test_claim_8_keras_fit(display, tmp_path):  # noqa: F811
    report = run(display, tmp_path, "claim_fit", "--example", "mnist_mlp_tf", "--steps", "1")
    [pane] = report["panes"]
    assert report["caption"].startswith("Keras fit(): the traced step is fit's own train")
    assert re.search(r"\d+ variable updates", report["caption"])
    # the loss (or the collapsed Keras loss group holding it) and the optimizer's update groups
    assert [i for i in pane["items"] if (i["kind"] == "loss" or "crossentropy" in i["label"])
            and i["text_px"] >= 9]
    assert [i for i in pane["items"] if i["group"] and i["phase"] == "update"]
