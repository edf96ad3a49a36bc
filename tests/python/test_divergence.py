"""Divergence never leaves NaN weights behind, and a climbing loss is reported."""

import numpy as np
import pytest

from lstmininet import LSTM, load

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize

DATA = [list(np.random.default_rng(0).integers(0, 5, 200))]


def test_a_step_that_makes_weights_non_finite_is_undone(tmp_path):
    model = LSTM(5, hidden_size=16, seed=0)
    before = model.state_dict()
    # AdamW shrinks weights by 1 - lr * weight_decay = -1e40, i.e. -inf: the first step makes them infinite or NaN
    with pytest.raises(RuntimeError, match="training diverged: the update made 'lstm.weight_ih_l0' NaN or infinite"):
        model.fit(
            DATA, epochs=1, batch_size=4, seq_len=16, lr=1e30, optimizer="adamw", weight_decay=1e10, progress=False
        )
    after = model.state_dict()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    # the model is still usable and saves a finite checkpoint
    model.save(tmp_path / "m.lmn")
    assert all(np.isfinite(v).all() for v in load(tmp_path / "m.lmn").state_dict().values())


def test_per_epoch_saves_never_hold_nan(tmp_path):
    """The CLI and on_epoch save after each epoch; a later divergence must not reach the file."""
    model = LSTM(5, hidden_size=16, seed=0)
    path = tmp_path / "m.lmn"
    model.fit(DATA, epochs=1, batch_size=4, seq_len=16, progress=False, on_epoch=lambda row: model.save(path))
    with pytest.raises(RuntimeError, match="training diverged"):
        model.fit(
            DATA,
            epochs=2,
            batch_size=4,
            seq_len=16,
            lr=1e30,
            optimizer="adamw",
            weight_decay=1e10,
            progress=False,
            on_epoch=lambda row: model.save(path),
        )
    model.save(path)
    assert all(np.isfinite(v).all() for v in load(path).state_dict().values())


def test_a_climbing_loss_is_warned_about():
    model = LSTM(5, hidden_size=16, seed=0)
    with pytest.warns(RuntimeWarning, match=r"training loss rose from 1\.\d+ at the first step to .* in epoch 1"):
        model.fit(DATA, epochs=2, batch_size=4, seq_len=16, lr=100.0, optimizer="sgd", progress=False)


def test_ordinary_training_does_not_warn():
    model = LSTM(5, hidden_size=16, seed=0)
    history = model.fit(DATA, epochs=3, batch_size=4, seq_len=16, lr=1.0, optimizer="sgd", progress=False)
    assert len(history["train_loss"]) == 3  # pytest turns any warning into an error
