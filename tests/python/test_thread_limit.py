"""The thread setting has an upper bound: asking for 100,000 threads used to
crash libgomp (30,000 hung) instead of giving an error."""

import os
import subprocess
import sys

import pytest

import lstmininet
from lstmininet.cli import main

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize


@pytest.mark.parametrize("threads", [1025, 30_000, 100_000, 2**40, 2**70])
def test_too_many_threads_is_a_clear_error_and_changes_nothing(threads):
    previous = lstmininet.get_num_threads()
    with pytest.raises(ValueError, match=f"set_num_threads: need at least 1 thread and at most 1024, got {threads}"):
        lstmininet.set_num_threads(threads)
    assert lstmininet.get_num_threads() == previous


def test_a_thread_count_must_be_an_integer():
    with pytest.raises(TypeError, match="n must be an integer, got float"):
        lstmininet.set_num_threads(2.0)
    with pytest.raises(TypeError, match="got bool"):
        lstmininet.set_num_threads(True)


def test_the_limit_itself_is_accepted():
    previous = lstmininet.get_num_threads()
    try:
        lstmininet.set_num_threads(1024)
        assert lstmininet.get_num_threads() == 1024
    finally:
        lstmininet.set_num_threads(previous)


def test_the_environment_variable_is_capped():
    env = {**os.environ, "LSTMININET_NUM_THREADS": "100000"}
    code = "import lstmininet; print(lstmininet.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "1024"


def test_the_cli_refuses_too_many_threads(tmp_path, capsys):
    data = tmp_path / "Melody.txt"
    data.write_text("60 _ 62 _ 64 _ 65 _\n62 _ 64 _ 65 _ 67 _\n")
    code = main(["train", str(data), "--out", str(tmp_path / "m.lmn"), "--epochs", "1", "--threads", "100000"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "at most 1024" in err and "Traceback" not in err
    assert not (tmp_path / "m.lmn").exists()


def test_one_thread_holds_on_every_python_thread_for_every_parallel_loop():
    # OpenMP's thread count is per thread: set_num_threads(1) on the main
    # thread reached only the loops that applied it themselves (the GEMM), so
    # a softmax, a loss or an optimizer step on another Python thread started
    # a second OpenMP thread.
    code = """
import os, threading
import numpy as np
import lstmininet
from lstmininet import LSTM
def threads(): return len(os.listdir("/proc/self/task"))
lstmininet.set_num_threads(1)
x = lstmininet.Tensor(np.ones((512, 512), np.float32))
model = LSTM(300, hidden_size=64, seed=0)
tokens = np.random.default_rng(0).integers(0, 300, 20_000)
before = threads()
def work():
    x.softmax()
    model.fit(tokens, epochs=1, seq_len=64, batch_size=64, progress=False)
    print(threads() - before)
t = threading.Thread(target=work)
t.start()
t.join()
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LSTMININET_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "1", out.stdout + out.stderr  # the worker itself, no OpenMP thread


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", ""])
def test_an_environment_variable_that_is_no_thread_count_is_named(value):
    # These were ignored without a word ("1.5" even became 1 thread).
    code = "import lstmininet; print(lstmininet.get_num_threads())"
    plain = {k: v for k, v in os.environ.items() if k != "LSTMININET_NUM_THREADS"}
    default = subprocess.run([sys.executable, "-c", code], env=plain, capture_output=True, text=True, timeout=60)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**plain, "LSTMININET_NUM_THREADS": value},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout == default.stdout
    assert f"LSTMININET_NUM_THREADS={value!r} is not a positive whole number" in out.stderr


@pytest.mark.parametrize("value", ["1", "+1", " 1\n"])
def test_a_thread_count_the_core_takes_gets_no_warning(value):
    code = "import lstmininet; print(lstmininet.get_num_threads())"
    env = {**os.environ, "LSTMININET_NUM_THREADS": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "1" and "LSTMININET_NUM_THREADS" not in out.stderr
