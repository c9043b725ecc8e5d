"""Shared test set-up: headless Qt, paths, and traces made once per test session."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"
MODELS = Path(__file__).resolve().parent / "models"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture
def big_window(qtbot):
    """The app's window at 1400x900, one step per trace, for the tests on big graphs."""
    from graphstage.viz.gui.main_window import MainWindow
    w = MainWindow(theme="light", steps=1)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.shutdown()


@pytest.fixture(scope="session")
def mobilenetv2():
    """One traced step of Keras MobileNetV2 (tests/zoo, 32x32, batch 2, random weights): about
    9,700 ops, traced once per test session for the big-graph tests of the app and exports."""
    pytest.importorskip("tensorflow")
    from graphstage.tracers.run import trace_script
    return trace_script(ROOT / "tests" / "zoo" / "keras_mobilenetv2_tf.py", 1, seed=0)


def change(qtbot, pane, action, timeout_ms: int = 120000) -> None:
    """Run action (a collapse, expand or step change) and wait until the pane shows its
    result, morph finished."""
    with qtbot.waitSignal(pane.shown, timeout=timeout_ms):
        action()
    pane.canvas.finish_morph()
