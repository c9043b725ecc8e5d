"""The step banner's words for TensorFlow steps of every capture shape (viz/gui/banner.py),
on real traces: an eager step, a step of two tf.function calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphstage.tracers.run import trace_script
from graphstage.viz.gui.banner import step_banner

MODELS = Path(__file__).resolve().parent / "models"
pytestmark = pytest.mark.tf


def test_eager_steps_say_recorded_op_by_op():
    s = trace_script(MODELS / "eager_tf.py", 2)
    first, second = step_banner(s, 0), step_banner(s, 1)
    assert first == "eager TensorFlow: recorded op by op as it ran (no tf.function)"
    assert second.startswith(first) and "tf.function traced" not in second


def test_several_calls_per_step_are_named():
    s = trace_script(MODELS / "gan_tf.py", 2)
    assert step_banner(s, 0) == ("2 tf.function calls this step (train_d, train_g): each "
                                 "traced its graph once; later calls reuse them")
    assert step_banner(s, 1) == ("2 tf.function calls this step (train_d, train_g): each "
                                 "reused its traced graph: nothing was rebuilt")
