"""LSTMRegressor / GRURegressor: the Python surface (shapes, scalers, training,
forecasting, save/load, errors). Numerical parity with torch is in
test_regression_parity.py."""

from __future__ import annotations

import _thread
import inspect
import json
import re
import threading

import numpy as np
import pytest

import lstmininet
from lstmininet import GRURegressor, LSTMRegressor, MinMaxScaler, StandardScaler
from lstmininet.model import _fit_options


def sine_series(n=400, offset=1000.0, amplitude=50.0):
    t = np.arange(n + 1, dtype=np.float64)
    return (offset + amplitude * np.sin(0.2 * t) + 5 * np.sin(0.05 * t)).astype(np.float32)


def one_step_pairs(series, length, count):
    xs = [series[i : i + length, None] for i in range(0, count * length, length)]
    ys = [series[i + 1 : i + length + 1, None] for i in range(0, count * length, length)]
    return xs, ys


def test_scalers_match_their_formulas():
    data = np.array([[1.0, 10.0], [3.0, 10.0], [8.0, 10.0]])
    s = StandardScaler().fit([data])
    np.testing.assert_allclose(s.transform(data)[:, 0], (data[:, 0] - 4.0) / np.std([1.0, 3.0, 8.0]), rtol=1e-6)
    np.testing.assert_array_equal(s.transform(data)[:, 1], 0.0)  # a constant feature: scale 1, no division by 0
    m = MinMaxScaler().fit([data[:2], data[2:]])  # fitted over all rows of all sequences
    np.testing.assert_allclose(m.transform(data)[:, 0], [0.0, 2 / 7, 1.0], rtol=1e-6)
    np.testing.assert_allclose(m.inverse_transform(m.transform(data)), data, rtol=1e-6)
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(data)
    with pytest.raises(ValueError, match="fitted on 2 features, got 3"):
        s.transform(np.zeros((1, 3)))


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_scalers_refuse_to_fit_on_nan_infinity_or_an_overflowing_spread(cls):
    # fit gave a "fitted" scaler with a NaN/inf offset or scale (the constructor refuses
    # such values), which turned every transform into NaN without a word
    for bad in (np.nan, np.inf, -np.inf):
        scaler = cls()
        with pytest.raises(ValueError, match=f"cannot fit {cls.__name__} on data that contains NaN or infinity"):
            scaler.fit([np.array([[1.0], [2.0], [bad]])])
        assert not scaler.fitted
    with pytest.raises(ValueError, match="spread of the data overflows float64"):
        cls().fit([np.array([[1e308], [-1e308]])])


def test_shapes_of_predict_for_arrays_and_lists():
    m = LSTMRegressor(3, 8, 2, 2, seed=0)
    assert m.predict(np.zeros((4, 5, 3), np.float32)).shape == (4, 5, 2)
    outs = m.predict([np.zeros((2, 3)), np.zeros((7, 3))])
    assert [o.shape for o in outs] == [(2, 2), (7, 2)]
    last = LSTMRegressor(3, 8, 1, 2, seed=0, many_to_one=True)
    assert last.predict([np.zeros((2, 3)), np.zeros((7, 3))]).shape == (2, 2)
    assert list(m.state_dict()) == [
        *(f"lstm.{k}_l{i}" for i in range(2) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
        "fc.weight",
        "fc.bias",
    ]
    assert m.state_dict()["lstm.weight_ih_l0"].shape == (32, 3)


def test_training_in_data_units_with_a_scaler():
    series = sine_series()
    xs, ys = one_step_pairs(series, 50, 7)
    m = GRURegressor(1, 24, 1, 1, seed=1, scaler="standard")
    history = m.fit(xs, ys, epochs=40, batch_size=7, seq_len=50, lr=0.01, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0] / 5
    preds = m.predict(xs)
    errors = np.concatenate([(p - y).ravel() for p, y in zip(preds, ys, strict=True)])
    assert np.mean(np.abs(np.concatenate(preds))) > 900  # answers come back in the data's units
    result = m.evaluate(xs, ys)
    assert result["mse"] == pytest.approx(float(np.mean(errors.astype(np.float64) ** 2)), rel=1e-5)
    assert result["mse"] < np.var(series) / 10


def test_float64_data_is_scaled_before_it_is_cast_to_float32():
    # float32 spacing at 1e8 is 8: cast first, 1e8 + 3 sin t was the constant 1e8 (scale 1)
    series = 1e8 + 3.0 * np.sin(np.arange(301) / 5.0)
    xs, ys = one_step_pairs(series, 30, 9)
    far, near = (LSTMRegressor(1, 8, seed=0, scaler="standard") for _ in range(2))
    far.fit(xs, ys, epochs=0, progress=False)  # fits the scalers only
    shifted_xs, shifted_ys = [x - 1e8 for x in xs], [y - 1e8 for y in ys]
    near.fit(shifted_xs, shifted_ys, epochs=0, progress=False)
    np.testing.assert_allclose(far.x_scaler.scale, near.x_scaler.scale, rtol=1e-6)
    assert far.loss_and_grads(xs, ys)[0] == pytest.approx(near.loss_and_grads(shifted_xs, shifted_ys)[0], rel=1e-5)
    # and un-scaled in float64: errors of a few units at 1e8 are measured, not rounded to multiples of 8
    assert far.evaluate(xs, ys)["mse"] == pytest.approx(near.evaluate(shifted_xs, shifted_ys)["mse"], rel=1e-5)
    # and predictions come back in float64: in float32 they were multiples of 8 at 1e8
    far_out, near_out = far.predict(xs), near.predict(shifted_xs)
    assert far_out[0].dtype == np.float64
    np.testing.assert_allclose(np.concatenate(far_out) - 1e8, np.concatenate(near_out), atol=1e-5)
    np.testing.assert_allclose(far.forecast(xs[0], 4) - 1e8, near.forecast(shifted_xs[0], 4), atol=1e-5)


def test_forecast_equals_feeding_predictions_back_by_hand():
    series = sine_series(200)
    xs, ys = one_step_pairs(series, 40, 4)
    m = LSTMRegressor(1, 16, 2, 1, seed=2, scaler="minmax")
    m.fit(xs, ys, epochs=3, batch_size=4, progress=False)
    history = series[:60, None]
    ahead = m.forecast(history, 5)
    seq = history.copy()
    by_hand = []
    for _ in range(5):  # predict from a zero state over the whole sequence, take the last output
        nxt = m.predict([seq])[0][-1:]
        by_hand.append(nxt)
        seq = np.concatenate([seq, nxt])
    np.testing.assert_allclose(ahead, np.concatenate(by_hand), rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="output_size \\(2\\) must equal input_size \\(1\\)"):
        LSTMRegressor(1, 4, 1, 2, seed=0).forecast(history, 3)


def test_many_to_one_variable_lengths_and_bce():
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(n, 2)).astype(np.float32) for n in rng.integers(3, 15, size=40)]
    labels = np.array([float(x[:, 0].sum() > 0) for x in xs], dtype=np.float32)
    m = LSTMRegressor(2, 16, 1, 1, seed=0, many_to_one=True, loss="bce_with_logits")
    history = m.fit(xs, labels, epochs=60, batch_size=8, truncate=4, lr=0.02, progress=False)
    # Until epoch ~40 single epochs spike at this learning rate (epoch 30
    # ended at 0.06, 0.31 or 0.29 with the x86-64-v2, v3 and v4 kernels,
    # whose sums round apart); from there every epoch of every level stays
    # below 0.01, and epoch 60 ends at 0.0036-0.0040.
    assert history["train_loss"][-1] < 0.05 < 0.5 < history["train_loss"][0]
    accuracy = np.mean((m.predict(xs)[:, 0] > 0) == (labels > 0.5))
    assert accuracy > 0.85


def test_save_load_keeps_weights_scalers_and_training_state(tmp_path):
    series = sine_series(120)
    xs, ys = one_step_pairs(series, 30, 3)
    m = GRURegressor(1, 8, 1, 1, seed=3, scaler="standard", loss="huber")
    m.fit(xs, ys, epochs=2, batch_size=3, progress=False)
    path = tmp_path / "r.lmn"
    m.save(path)
    back = lstmininet.GRURegressor.load(path)
    assert back.loss == "huber" and back.epochs_done == 2 and not back.many_to_one
    np.testing.assert_array_equal(back.x_scaler.offset, m.x_scaler.offset)
    for a, b in zip(back.predict(xs), m.predict(xs), strict=True):
        np.testing.assert_array_equal(a, b)
    back.fit(xs, ys, epochs=1, batch_size=3, progress=False)
    assert back.epochs_done == 3
    with pytest.raises(ValueError, match="holds a GRURegressor, not a LSTMRegressor"):
        LSTMRegressor.load(path)
    with pytest.raises(ValueError, match="holds a sequence regressor"):
        lstmininet.load(path)
    token_path = tmp_path / "t.lmn"
    lstmininet.LSTM(5, 4, seed=0).save(token_path)
    with pytest.raises(ValueError, match="holds a token model"):
        LSTMRegressor.load(token_path)


def test_a_first_fit_that_raises_leaves_the_scalers_unfitted():
    # the scalers learnt the failed call's data (here in centimetres), and the corrected call trained with them
    rng = np.random.default_rng(0)
    metres = rng.standard_normal((8, 10, 1))
    centimetres = metres * 100
    m = LSTMRegressor(1, 4, seed=0, scaler="standard")
    for bad in (
        dict(Y=centimetres[:, :5]),  # checked in Python
        dict(Y=centimetres, val_data=(centimetres, centimetres[:, :5])),
        dict(Y=centimetres, lr=-1.0),  # checked by the core, before its first step
    ):
        with pytest.raises(ValueError):
            m.fit(centimetres, **bad, epochs=1, progress=False)
        assert not m.x_scaler.fitted and not m.y_scaler.fitted
    m.fit(metres, metres, epochs=1, progress=False)
    np.testing.assert_allclose(m.x_scaler.scale, np.std(metres))


@pytest.mark.parametrize("many_to_one", [False, True])
def test_fit_reads_one_shot_iterables_once(many_to_one):
    # with a target scaler Y was read twice, and the generator was empty the second time
    X = np.random.default_rng(0).standard_normal((4, 5, 1))
    targets = [x[-1] for x in X] if many_to_one else [np.roll(x, -1, 0) for x in X]
    m = LSTMRegressor(1, 4, seed=0, scaler="standard", many_to_one=many_to_one)
    m.fit((x for x in X), (y for y in targets), epochs=1, progress=False)
    assert m.epochs_done == 1
    np.testing.assert_allclose(m.y_scaler.scale, np.std(targets))


@pytest.mark.parametrize("call", ["predict", "evaluate", "loss_and_grads"])
def test_a_call_racing_the_first_fit_sees_both_scalers_fitted_or_neither(call):
    # The scalers were read without a lock: when the first fit (another thread) fitted them between
    # the scaling of a predict's inputs and the un-scaling of its outputs, raw inputs went through the
    # network and came back "un-scaled". Here that fit runs at exactly that moment, as the core is called.
    series = sine_series(200)
    xs, ys = one_step_pairs(series, 40, 4)
    untrained = LSTMRegressor(1, 8, seed=0, scaler="standard")
    untrained.fit(xs, ys, epochs=0, progress=False)  # fits the scalers only
    m = LSTMRegressor(1, 8, seed=0, scaler="standard")
    core = m._core

    class FitWhenCalled:
        def __getattr__(self, name):
            if name in ("predict", "evaluate", "loss_and_grads"):
                m._core = core
                m.fit(xs, ys, epochs=0, progress=False)
            return getattr(core, name)

    m._core = FitWhenCalled()
    args = (xs,) if call == "predict" else (xs, ys)
    try:
        got = getattr(m, call)(*args)
    except RuntimeError as err:  # the scalers were read before the fit: not fitted yet
        assert "not fitted" in str(err)
    else:  # or after it, both: the untrained weights with the fitted scalers
        want = getattr(untrained, call)(*args)
        if call == "loss_and_grads":
            got, want = got[0], want[0]
        np.testing.assert_equal(got, want)


def test_two_first_fits_fit_the_scalers_once_on_one_call_s_data():
    # Each first fit saw the scalers unfitted and fitted them, each on its own data.
    low, high = np.zeros((4, 5, 1)), np.full((4, 5, 1), 100.0)
    low[:, ::2] = 1.0
    high[:, ::2] = 101.0
    other, fits = [], []

    class SlowScaler(StandardScaler):
        def fit(self, sequences):
            fits.append(sequences)
            if not other:  # while the first call fits its input scaler, a second first fit comes in
                other.append(threading.Thread(target=m.fit, args=(high, high), kwargs=dict(epochs=0, progress=False)))
                other[0].start()
                other[0].join(0.5)  # it finishes here unless it waits for the scalers
            return super().fit(sequences)

    m = LSTMRegressor(1, 4, seed=0, scaler=SlowScaler(), target_scaler=SlowScaler())
    m.fit(low, low, epochs=0, progress=False)
    other[0].join()
    assert len(fits) == 2  # x and y, once
    assert m.x_scaler.offset == m.y_scaler.offset == pytest.approx(0.6)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(seed="abc"), "seed 'abc' is not an integer"),
        (dict(seed=-5), "seed -5 is not an integer"),
        (dict(seed=1.7), "seed 1.7 is not an integer"),
        (dict(many_to_one="no"), "many_to_one 'no' is not true or false"),
        (dict(loss=["mse"]), "unknown loss"),
        (dict(x_scaler="standard"), "damaged x_scaler: expected an object, got str"),
        (dict(x_scaler={"kind": "standard", "offset": [0.0], "scale": [-1.0]}), "damaged x_scaler: .*positive"),
        (dict(y_scaler={"kind": "minmax", "offset": ["a"], "scale": [1]}), "damaged y_scaler"),
        (dict(y_scaler={"kind": "minmax", "offset": {"a": 1}, "scale": [1]}), "damaged y_scaler"),
        (
            dict(x_scaler={"kind": "standard", "offset": [0] * 3, "scale": [1] * 3}),
            "x_scaler has 3 features, the model 1",
        ),
        (dict(loss="bce_with_logits"), "bce_with_logits .* cannot have a target_scaler"),
    ],
)
def test_load_checks_the_regressor_metadata(tmp_path, change, message):
    # metadata another program wrote (the checksum holds): accepted, or failing later with errors not naming the file
    m = LSTMRegressor(1, 4, seed=0, scaler="standard")
    X = np.zeros((2, 3, 1))
    X[:, 1] = 1.0
    m.fit(X, X, epochs=0, progress=False)
    metadata = dict(format="lstmininet-regressor", seed=0, many_to_one=False, loss="mse")
    metadata.update(x_scaler=m.x_scaler.to_dict(), y_scaler=m.y_scaler.to_dict())
    metadata.update(change)
    path = tmp_path / "r.lmn"
    m._core.save(str(path), json.dumps(metadata))
    with pytest.raises(ValueError, match=f"checkpoint '{re.escape(str(path))}' .*{message}"):
        LSTMRegressor.load(path)


def test_validation_early_stopping_and_determinism():
    series = sine_series(300)
    xs, ys = one_step_pairs(series, 30, 9)
    runs = []
    for _ in range(2):
        m = LSTMRegressor(1, 8, 1, 1, seed=4, scaler="standard")
        h = m.fit(xs, ys, epochs=4, batch_size=4, val_fraction=0.2, patience=2, progress=False)
        runs.append((h, m.state_dict()))
    assert all(np.isfinite(v) for v in runs[0][0]["val_loss"])
    assert runs[0][0]["train_loss"] == runs[1][0]["train_loss"]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k])


def test_ctrl_c_stops_fit_between_batches():
    series = sine_series(4000)
    xs, ys = one_step_pairs(series, 50, 79)
    m = LSTMRegressor(1, 64, 2, 1, seed=0)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    history = m.fit(xs, ys, epochs=200, batch_size=4, seq_len=50, progress=False)
    timer.cancel()
    assert history.interrupted and len(history["epoch"]) < 200
    assert all(np.isfinite(v).all() for v in m.state_dict().values())


def test_bad_input_is_named():
    m = LSTMRegressor(2, 4, 1, 1, seed=0)
    with pytest.raises(ValueError, match=r"X\[1\] has shape \(4, 3\), expected \(time > 0, 2\)"):
        m.predict([np.zeros((3, 2)), np.zeros((4, 3))])
    with pytest.raises(ValueError, match="NaN"):
        m.predict([np.full((3, 2), np.nan)])
    with pytest.raises(ValueError, match=r"X\[0\] has a value of 1e\+39, too large for float32"):
        m.predict([np.full((3, 2), 1e39)])  # finite in float64: not "NaN or infinity"
    with pytest.raises(ValueError, match=r"X\[1\] is ragged: its rows differ in length"):
        m.predict([np.zeros((3, 2)), [[1.0, 2.0], [3.0]]])
    with pytest.raises(ValueError, match="sequence 0 has 3 input steps but 2 target steps"):
        m.fit([np.zeros((3, 2))], [np.zeros((2, 1))], progress=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        LSTMRegressor(2, 4, loss="hinge")
    with pytest.raises(ValueError, match=r"bce_with_logits takes targets in \[0, 1\] unscaled: it cannot have a"):
        LSTMRegressor(2, 4, loss="bce_with_logits", scaler="standard", target_scaler="standard")
    assert LSTMRegressor(2, 4, loss="bce_with_logits", scaler="standard").y_scaler is None  # "same": none
    with pytest.raises(ValueError, match="got shape \\(5, 2\\)"):
        m.predict(np.zeros((5, 2)))  # a 2-D array is ambiguous: one sequence or B of width 1?
    with pytest.raises(ValueError, match="2 targets for 1 sequences"):
        LSTMRegressor(2, 4, many_to_one=True, seed=0).fit([np.zeros((3, 2))], [1.0, 2.0], progress=False)
    # probabilities only: a target of 7 made the loss negative, -50 trained without a word
    bce = LSTMRegressor(2, 4, loss="bce_with_logits", seed=0)
    with pytest.raises(ValueError, match=r"Y\[1\] has a target of 7: loss bce_with_logits needs targets in \[0, 1\]"):
        bce.evaluate([np.zeros((3, 2))] * 2, [np.full((3, 1), 0.5), np.full((3, 1), 7.0)])
    with pytest.raises(ValueError, match=r"Y\[0\] has a target of -50"):
        bce.fit([np.zeros((3, 2))], [np.full((3, 1), -50.0)], progress=False)
    assert np.isfinite(bce.evaluate([np.zeros((3, 2))], [np.array([[0.0], [1.0], [0.5]])])["loss"])


@pytest.mark.parametrize(
    "targets, error, message",
    [
        (np.array(["2020-01-01"] * 2, dtype="datetime64[D]"), TypeError, r"Y\[0\] must hold numbers, got dtype date"),
        (np.array([1 + 5j, 2 + 5j]), TypeError, r"Y\[0\] must hold numbers, got dtype complex128"),
        (np.array(["1", "2"]), TypeError, r"Y\[0\] must hold numbers, got dtype <U1"),
        ([1.0, None], TypeError, r"Y\[1\] must hold numbers, got dtype object"),
        ([1.0, np.inf], ValueError, r"Y\[1\] contains NaN or infinity"),
        (None, TypeError, r"Y must be a \(batch, 1\) array or a list of targets"),
        (3.0, TypeError, r"Y must be a \(batch, 1\) array or a list of targets"),
    ],
)
def test_many_to_one_targets_are_checked_like_sequences(targets, error, message):
    # datetimes trained as day counts, complex lost its imaginary part, strings were parsed
    m = LSTMRegressor(1, 4, seed=0, many_to_one=True)
    X = np.zeros((2, 3, 1), np.float32)
    for call in (m.loss_and_grads, m.evaluate, lambda x, y: m.fit(x, y, progress=False)):
        with pytest.raises(error, match=message):
            call(X, targets)


@pytest.mark.parametrize("many_to_one", [False, True])
def test_predict_of_ragged_sequences_keeps_their_order(many_to_one):
    # predict batches the longest sequences together; each output goes back
    # to its input's place and equals the sequence predicted alone (up to the
    # rounding of other batch sizes' products).
    rng = np.random.default_rng(0)
    m = GRURegressor(3, 16, 2, 2, seed=1, many_to_one=many_to_one, scaler=None)
    X = [rng.standard_normal((n, 3)).astype(np.float32) for n in (3, 50, 7, 50, 1, 20, 200, 9)]
    alone = [m.predict([x])[0] for x in X]
    for batch_size in (2, 3, 8):
        out = m.predict(X, batch_size=batch_size)
        assert len(out) == len(X)
        for x, o, a in zip(X, out, alone, strict=True):
            assert o.shape == ((2,) if many_to_one else (len(x), 2))
            np.testing.assert_allclose(o, a, rtol=1e-5, atol=1e-6)


def test_a_batch_padded_past_two_billion_rows_is_refused():
    # One long series pads every other one of its batch to its length: 65,536
    # series of which one has 65,536 steps (0.5 MB of data) need 2^32 grid rows,
    # which wrapped to 0 in an int and wrote past the buffer; 32,769 steps, a
    # negative row count.
    m = LSTMRegressor(1, 1, seed=0, scaler=None)
    for steps in (65536, 32769):
        X = [np.zeros((steps, 1), np.float32)] + [np.zeros((1, 1), np.float32)] * 65535
        with pytest.raises(ValueError, match=rf"65536 sequences, padded to its longest \({steps} steps\).*batch_size"):
            m.predict(X, batch_size=65536)
        with pytest.raises(ValueError, match="more than 2\\^31 - 1"):
            m.loss_and_grads(X, X)
    assert len(m.predict(X[:3], batch_size=65536)) == 3  # the same model still works


def test_fit_keywords_are_the_token_models_and_all_reach_the_trainer():
    # Each fit spells out its keywords (for help() and IDEs) and hands them to _fit_options
    # whole: the two lists must not drift apart, and none may be left unread.
    def keywords(fit, data_args):
        params = list(inspect.signature(fit).parameters.values())[1 + data_args :]
        return [(p.name, p.kind, p.default, p.annotation) for p in params]

    assert keywords(LSTMRegressor.fit, 2) == keywords(lstmininet.LSTM.fit, 1)
    defaults = {name: default for name, _, default, _ in keywords(lstmininet.LSTM.fit, 1)}
    options = _fit_options({"self": lstmininet.LSTM(5, hidden_size=4, seed=7), **defaults})
    handled_by_fit = {"val_data", "val_fraction", "progress", "on_epoch"}
    assert set(options) == set(defaults) - handled_by_fit
    assert options["seed"] == 7  # None: the model's seed


def test_evaluate_takes_its_loss_and_errors_from_the_same_weights():
    # loss came from one core call and mse from a second: a fit in another
    # thread between them mixed two weight versions (295 of 300 results).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 20, 1)).astype(np.float32)
    Y = np.roll(X, -1, 1)
    m = LSTMRegressor(1, 16, seed=0)  # no scaler and loss mse: loss and mse are one number
    stop = threading.Event()

    def train():
        while not stop.is_set():
            m.fit(X, Y, epochs=1, batch_size=8, seq_len=20, lr=1e-2, progress=False)

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        results = [m.evaluate(X, Y) for _ in range(100)]
    finally:
        stop.set()
        trainer.join()
    assert m.epochs_done > 10  # the fits did run between the evaluations
    for r in results:
        assert r["loss"] == pytest.approx(r["mse"], rel=1e-5)
