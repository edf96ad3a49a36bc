"""benchmarks/timeseries.py: the baselines and windows it scores the networks against."""

import importlib.util
from pathlib import Path

import numpy as np

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
