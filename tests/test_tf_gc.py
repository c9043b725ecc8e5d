"""no_full_collection (tracers/tf_gc.py): no full collection inside the block however much it
allocates, young collections go on, and the thresholds come back as they were (nested blocks
and thresholds someone else set meanwhile included)."""

import gc

import pytest

from graphstage.tracers.tf_gc import NO_FULL, no_full_collection


@pytest.fixture
def thresholds():
    """Python's default thresholds for the test, whatever the suite set; restored after."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def _collections_while_allocating() -> dict[int, int]:
    """Collections per generation while twice the live tracked objects (and at least enough
    for several full-collection checks: 100 young collections each) are made and kept."""
    counts = {0: 0, 1: 0, 2: 0}

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            counts[info["generation"]] += 1

    gc.collect()
    keep = []
    gc.callbacks.append(count)
    try:
        for _ in range(max(2 * len(gc.get_objects()), 300_000) // 10):
            keep.append([[] for _ in range(9)])
    finally:
        gc.callbacks.remove(count)
    return counts


def test_no_full_collection_inside_young_ones_go_on(thresholds):
    assert _collections_while_allocating()[2] >= 1  # without the block the heap's growth does
    with no_full_collection():
        assert gc.get_threshold() == (700, 10, NO_FULL)
        counts = _collections_while_allocating()
    assert counts[2] == 0
    assert counts[0] > 0
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_and_changed_thresholds(thresholds):
    with no_full_collection():
        with no_full_collection():
            pass
        assert gc.get_threshold()[2] == NO_FULL  # the inner block leaves the outer's hold
    assert gc.get_threshold() == (700, 10, 10)
    with no_full_collection():
        gc.set_threshold(500, 5, 20)  # someone else's setting: left as it is
    assert gc.get_threshold() == (500, 5, 20)
