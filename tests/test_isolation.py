"""Tracing in a child process: a user's exit, crash or hang ends the trace with a clear
message, keeps the steps already made, and never takes the caller (CLI or app) down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graphstage.tracers.errors import TraceCancelled
from graphstage.tracers.isolated import TraceFailed, trace_isolated
from graphstage.tracers.session import TraceSession

MODELS = Path(__file__).resolve().parent / "models"
ROOT = Path(__file__).resolve().parent.parent


def test_exit_keeps_the_steps_before_it():
    with pytest.raises(TraceFailed) as info:
        trace_isolated(MODELS / "exit_midway_torch.py", 5)
    exc = info.value
    assert exc.message == ("exit_midway_torch.py: the traced code exited with code 7 during "
                           "step 3 of 5")
    assert exc.crashed and len(exc.session) == 2
    assert [g.graph["step"] for g in exc.session.steps] == [0, 1]


def test_segfault_names_the_signal_and_the_users_line():
    with pytest.raises(TraceFailed) as info:
        trace_isolated(MODELS / "segfault_torch.py", 3)
    exc = info.value
    assert "killed by signal 11 (SIGSEGV) during step 2 of 3" in exc.message
    assert len(exc.session) == 1
    source = (MODELS / "segfault_torch.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "string_at(0)" in text)
    assert f'segfault_torch.py", line {line} in step' in exc.details  # faulthandler's stack


def test_cancel_inside_setup_and_timeout():
    started = time.monotonic()
    cancel_at: list[float] = []

    def cancel() -> bool:
        if time.monotonic() - started > 2.0:
            cancel_at.append(time.monotonic())
            return True
        return False

    with pytest.raises(TraceCancelled):
        trace_isolated(MODELS / "hang_setup_torch.py", 2, cancel=cancel)
    assert cancel_at  # it was setup() that was running, and cancelling it returned
    with pytest.raises(TraceFailed, match="did not finish within 1.5 s"):
        trace_isolated(MODELS / "hang_setup_torch.py", 2, timeout=1.5)


def test_python_error_carries_the_users_traceback():
    with pytest.raises(TraceFailed) as info:
        trace_isolated(MODELS / "bad_step_raises_torch.py", 2)
    assert not info.value.crashed
    assert "bad_step_raises_torch.py" in info.value.details


def test_cli_trace_survives_an_exit_and_saves_what_it_had(tmp_path):
    res = subprocess.run([sys.executable, "-m", "graphstage", "trace",
                          str(MODELS / "exit_midway_torch.py"), "--steps", "5", "-o",
                          str(tmp_path / "t.json")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == (
        "graphstage: error: exit_midway_torch.py: the traced code exited with code 7 during "
        "step 3 of 5")
    assert len(TraceSession.load(tmp_path / "t.json")) == 2


@pytest.mark.gui
def test_app_stays_up_shows_the_message_and_the_steps(tmp_path):
    shot, report = tmp_path / "crash.png", tmp_path / "crash.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    res = subprocess.run([sys.executable, "-m", "graphstage", str(MODELS / "segfault_torch.py"),
                          "--steps", "3", "--screenshot", str(shot), "--scene-json",
                          str(report)], capture_output=True, text=True, timeout=300, env=env,
                         cwd=ROOT)
    assert res.returncode == 1
    assert "killed by signal 11 (SIGSEGV)" in res.stderr
    assert shot.stat().st_size > 10_000
