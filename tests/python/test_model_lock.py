"""Calls on one model from several threads take turns, and a call that changes
the model is not kept waiting by reads that came after it: with the lock's
old policy (new readers always let in), threads looping predict() kept a
load_state_dict() of 0.05 ms waiting for 14 s on a 2-core machine.

A long read holds the model; a write arrives and waits for it; then a short
read arrives. It must wait behind the write, so it ends with the long read;
under the old policy it went straight in beside the long read and ended at
once. A try counts when the short read started well before the long read
ended (on a busy machine the long read may end early or the threads start
late); the test passes if one of up to ten such tries shows the wait. The lock
itself is tested without timing in tests/cpp/test_writer_first_mutex.cpp;
this checks that the models use it.
"""

import threading
import time

import numpy as np

from lstmininet import LSTM, GRURegressor


def one_try(long_read, write, short_read, pause: float) -> dict[str, float]:
    """Start and end times of the three calls, started `pause` seconds apart."""
    times = {}

    def timed(name, call):
        times["start " + name] = time.perf_counter()
        call()
        times["end " + name] = time.perf_counter()

    calls = {"long": long_read, "write": write, "short": short_read}
    threads = [threading.Thread(target=timed, args=item) for item in calls.items()]
    for i, thread in enumerate(threads):
        if i:
            time.sleep(pause)  # the long read holds the model; then the write waits
        thread.start()
    for thread in threads:
        thread.join()
    return times


def short_read_waits_for_the_write(long_read, write, short_read) -> list[bool]:
    """For each try that counts, whether the short read ended with the long read (waited); stops at the first."""
    long_read()  # warm
    started = time.perf_counter()
    long_read()
    pause = (time.perf_counter() - started) / 4
    waited = []
    for _ in range(20):
        t = one_try(long_read, write, short_read, pause)
        long = t["end long"] - t["start long"]
        if t["end long"] - t["start short"] < 0.2 * long:
            continue  # the short read came too late to tell
        waited.append(t["end short"] > t["end long"] - 0.1 * long)
        if waited[-1] or len(waited) == 10:
            break
    return waited


def test_a_waiting_write_goes_before_later_reads_regressor():
    model = GRURegressor(2, 128, output_size=2, seed=0)
    big = np.random.default_rng(0).standard_normal((64, 4000, 2)).astype(np.float32)
    waited = short_read_waits_for_the_write(
        lambda: model.predict(big),
        lambda: model.load_state_dict(model.state_dict()),
        lambda: model.predict(big[:1, :5]),
    )
    assert waited and waited[-1], waited


def test_a_waiting_write_goes_before_later_reads_token_model():
    model = LSTM(50, hidden_size=128, seed=0)
    big = np.random.default_rng(0).integers(0, 50, (64, 3000))
    waited = short_read_waits_for_the_write(
        lambda: model.forward(big),
        lambda: model.load_state_dict(model.state_dict()),
        lambda: model.forward(big[:1, :5]),
    )
    assert waited and waited[-1], waited
