"""benchmarks/timeseries.py: the baselines and windows it scores the networks against."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "timeseries.py"
spec = importlib.util.spec_from_file_location("timeseries", SCRIPT)
ts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ts)  # statsmodels and torch are imported only inside its functions


def test_naive_and_seasonal_naive_forecasts():
    series = np.arange(20.0)
    # origins 15..17 with horizon 3: naive repeats the value before the origin
    np.testing.assert_array_equal(ts.naive(series, 15, 3), [[14] * 3, [15] * 3, [16] * 3])
    # season 4: step k from origin o copies o + k - 4 (k < 4), o + k - 8 (4 <= k < 8)
    got = ts.seasonal_naive(series, 12, 6, 4)
    assert got.shape == (3, 6)
    np.testing.assert_array_equal(got[0], [8, 9, 10, 11, 8, 9])
    np.testing.assert_array_equal(ts.truth(series, 12, 6)[0], [12, 13, 14, 15, 16, 17])


def test_windows_pair_each_step_with_the_next_value():
    x, y = ts.windows(np.arange(30.0))
    assert x.shape == (30 - ts.WINDOW, ts.WINDOW, 1) == y.shape
    np.testing.assert_array_equal(y[:, :, 0], x[:, :, 0] + 1)
    np.testing.assert_array_equal(x[3, :, 0], np.arange(3, 3 + ts.WINDOW))


class Trained(Exception):
    pass


def stop_before_training(*args):
    raise Trained(args)


def test_bad_arguments_stop_before_any_training(monkeypatch, capsys):
    # a bad series or seed was found only after minutes of training, and some gave tracebacks
    monkeypatch.setattr(ts, "evaluate_series", stop_before_training)
    for argv, message in [
        (["--series", "sunspots,foo"], "--series: unknown series 'foo'"),
        (["--epochs", "-1"], "--epochs: -1 is below 1"),
        (["--seeds", "0,-1"], "--seeds: -1 is below 0"),
        (["--seeds", "0,,1"], "--seeds: '' is not an integer"),
        (["--seeds", "1,1"], "--seeds: '1,1' repeats an item"),
        (["--threads", "0"], "--threads: 0 is below 1"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            ts.main(argv)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err


def test_quick_keeps_explicit_series_seeds_and_epochs(monkeypatch):
    # --quick replaced the given --seeds and --epochs (but kept --series)
    monkeypatch.setattr(ts, "evaluate_series", stop_before_training)
    with pytest.raises(Trained) as trained:
        ts.main(["--quick", "--seeds", "5,6", "--epochs", "20", "--series", "co2"])
    assert trained.value.args[0] == ("co2", [5, 6], 20, 1)
    with pytest.raises(Trained) as trained:
        ts.main(["--quick"])
    assert trained.value.args[0] == ("sunspots", [0], 3, 1)
