"""Batch work runs with fewer passes of the garbage collector, and gives the setting back."""

from __future__ import annotations

import gc
import threading

import pytest

from purchasing.batch import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture
def default_threshold():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_the_young_threshold_is_raised_in_the_block_and_restored_after(default_threshold):
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_when_the_block_raises(default_threshold):
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a group failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_and_concurrent_blocks_restore_once_the_last_ends(default_threshold):
    inside, release = threading.Event(), threading.Event()
    seen = []

    def other_run():
        with fewer_collections():
            inside.set()
            release.wait(5)
        seen.append(gc.get_threshold())

    with fewer_collections():
        worker = threading.Thread(target=other_run)
        worker.start()
        assert inside.wait(5)
        with fewer_collections():
            pass
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the other run still works
    # This block is over, the other's is not: still raised.
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    release.set()
    worker.join(5)
    assert seen == [(700, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_is_kept_and_a_collector_switched_off_stays_off():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(50_000, 5, 5)
        with fewer_collections():
            assert gc.get_threshold() == (50_000, 5, 5)
        gc.set_threshold(0, 10, 10)
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*saved)
