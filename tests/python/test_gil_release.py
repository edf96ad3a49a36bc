"""Long C++ calls let the other Python threads run: loading a large
checkpoint and building a large model's stepper weights used to hold the GIL
throughout, so every other thread stood still for the whole call.

A watcher thread notes its longest pause between two loop turns while the
main thread makes the call. With the GIL held, that pause is the call itself;
released, it is a few switch intervals (5 ms). The models are sized so that
the call takes 0.2-0.4 s on one Zen 3 core, and the bound is half the call's
own duration, not a fixed time.
"""

import threading
import time

import pytest

import lstmininet
from lstmininet import LSTM, LSTMRegressor

# 30 M weights: a 120 MB checkpoint.
HIDDEN, LAYERS = 1024, 4


def longest_pause_while(call):
    """(the longest pause of a busy Python thread while call() runs, the call's duration)."""
    started, done = threading.Event(), threading.Event()
    longest = 0.0

    def watch():
        nonlocal longest
        last = time.perf_counter()
        started.set()
        while not done.is_set():
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    watcher = threading.Thread(target=watch)
    watcher.start()
    started.wait()
    try:
        start = time.perf_counter()
        call()
        duration = time.perf_counter() - start
    finally:
        done.set()
        watcher.join()
    return longest, duration


@pytest.mark.parametrize(
    ("make", "load"),
    [
        (lambda: LSTM(65, hidden_size=HIDDEN, num_layers=LAYERS, seed=0), lstmininet.load),
        (lambda: LSTMRegressor(65, hidden_size=HIDDEN, num_layers=LAYERS, seed=0), LSTMRegressor.load),
    ],
    ids=["token_model", "regressor"],
)
def test_loading_a_large_checkpoint_lets_other_threads_run(tmp_path, make, load):
    path = tmp_path / "large.lmn"
    make().save(path)
    pause, duration = longest_pause_while(lambda: load(path))
    assert pause < duration / 2, f"another thread stood still for {pause:.3f} s of a {duration:.3f} s load"


def test_generation_bytes_per_step_lets_other_threads_run_while_it_builds():
    model = LSTM(65, hidden_size=HIDDEN, num_layers=LAYERS, seed=0)
    assert model._core.stepper_builds == 0
    # int8: the slowest build (it quantizes every row).
    pause, duration = longest_pause_while(lambda: model._core.generation_bytes_per_step("int8"))
    assert model._core.stepper_builds == 1  # the call built the weights, the time measured is theirs
    assert pause < duration / 2, f"another thread stood still for {pause:.3f} s of a {duration:.3f} s build"
