"""Big GUI-thread work in slices (viz/gui/staging.py) and the collector policy for big work
(viz/gui/collector.py)."""

from __future__ import annotations

import gc
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")

from graphstage.viz.gui import collector  # noqa: E402
from graphstage.viz.gui.staging import SLICE_S, Sliced  # noqa: E402

pytestmark = pytest.mark.gui


def _steps(n: int, seconds: float, log: list[int]):
    for i in range(n):
        time.sleep(seconds)
        log.append(i)
        yield


def test_sliced_work_spreads_over_turns_and_calls_done_once(qtbot):
    job, log, done = Sliced(), [], []
    job.start(_steps(12, SLICE_S / 4, log), lambda: done.append(len(log)))
    assert job.busy and not log             # nothing runs in the caller's turn
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    assert done == [12] and not job.busy
    assert job.slices >= 3                  # about 4 steps fit in a slice


def test_sliced_cancel_drops_the_job_and_finish_completes_it(qtbot):
    job, log, done = Sliced(gap_ms=5), [], []
    job.start(_steps(5, 0.0, log), lambda: done.append(True))
    job.cancel()
    qtbot.wait(50)
    assert not log and not done and not job.busy
    job.start(_steps(5, 0.0, log), lambda: done.append(True))
    job.finish()                            # a caller that cannot wait (exports)
    assert log == [0, 1, 2, 3, 4] and done == [True] and not job.busy
    qtbot.wait(30)
    assert done == [True]                   # not called again by the dropped timer


def test_big_work_holds_off_full_collections_then_freezes_what_it_kept():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    kept = []
    with collector.long_lived():
        assert gc.get_threshold()[2] == collector.NO_FULL
        with collector.long_lived():        # nested (a layout while items are staged)
            kept.extend([i] for i in range(5000))
        assert gc.get_threshold()[2] == collector.NO_FULL
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() >= frozen + 5000
    gc.unfreeze()
