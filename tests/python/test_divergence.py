"""Divergence never leaves NaN weights behind, and a climbing loss is reported."""

import numpy as np
import pytest

from ctrl_c import ctrl_c_at_batch
from lstmininet import LSTM, load

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize

DATA = [list(np.random.default_rng(0).integers(0, 5, 200))]
REPEATING = [list(np.tile([0, 1, 2, 3, 4], 200))]  # learnt within a few batches


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


def test_a_resumed_epoch_is_not_taken_for_a_climbing_loss():
    # The resumed epoch's loss averages the steps before Ctrl-C too (0.063
    # here), this call's first step only the later ones (0.0008): no climb.
    model = LSTM(5, hidden_size=16, seed=0)
    with ctrl_c_at_batch(10):
        model.fit(REPEATING, epochs=1, batch_size=2, seq_len=8, lr=0.5, progress=True)
    assert model.batches_done == 10
    history = model.fit(REPEATING, epochs=2, batch_size=2, seq_len=8, lr=0.5, progress=False)
    assert len(history["train_loss"]) == 2  # pytest turns any warning into an error


def test_ordinary_training_does_not_warn():
    model = LSTM(5, hidden_size=16, seed=0)
    history = model.fit(DATA, epochs=3, batch_size=4, seq_len=16, lr=1.0, optimizer="sgd", progress=False)
    assert len(history["train_loss"]) == 3  # pytest turns any warning into an error
