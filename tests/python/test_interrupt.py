"""Ctrl-C stops long C++ calls: they used to run for minutes with the GIL
released and ignore SIGINT (and generate reserved its whole output first).

Each case runs in a subprocess that gets SIGINT a second after the call
starts; the call must raise KeyboardInterrupt within a bounded time.
"""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize

# The poll interval is 50 ms; the rest is margin for a busy machine.
STOP_WITHIN_SECONDS = 15.0

# A shell's background job starts with SIGINT ignored, and a child keeps
# that; the test is about Ctrl-C, so the child restores Python's handler.
SETUP = """
import signal, sys, time
import numpy as np
from lstmininet import LSTM
signal.signal(signal.SIGINT, signal.default_int_handler)
"""

CASES = {
    "generate": """
        model = LSTM(40, hidden_size=64, seed=0)
        call = lambda: model.generate([1], 2**31 - 1, seed=0)
    """,
    "evaluate": """
        model = LSTM(40, hidden_size=256, seed=0)
        data = [list(range(40)) * 7] * 20000
        call = lambda: model.evaluate(data, batch_size=64, seq_len=256)
    """,
    "forward": """
        model = LSTM(5, hidden_size=1024, seed=0)
        tokens = np.zeros((1, 6000), dtype=np.int32)
        call = lambda: model.forward(tokens)
    """,
    "generation_loss": """
        model = LSTM(40, hidden_size=512, num_layers=2, seed=0)
        data = [list(range(40)) * 250] * 32  # ~40 s uninterrupted on one Zen 3 core
        call = lambda: model.generation_loss(data)
    """,
    "fit": """
        model = LSTM(40, hidden_size=256, seed=0)
        data = [list(range(40)) * 7] * 2000
        call = lambda: print("interrupted:", model.fit(data, epochs=100, batch_size=64, progress=False).interrupted)
    """,
}

RUN = """
print("started", flush=True)
start = time.monotonic()
try:
    call()
    print("finished without interruption", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
"""


@pytest.mark.parametrize("case", sorted(CASES))
def test_sigint_stops_a_long_call(case):
    script = SETUP + textwrap.dedent(CASES[case]) + RUN
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=STOP_WITHIN_SECONDS)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    if case == "fit":  # fit stops cleanly and says so (its documented Ctrl-C behaviour)
        assert "interrupted: True" in out, (out, err)
    else:
        assert out.strip() == "KeyboardInterrupt", (out, err)
    assert stopped_after < STOP_WITHIN_SECONDS
