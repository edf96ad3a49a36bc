"""The checkpoint loader checks every field, even under a valid checksum.

Each case damages one field of a real checkpoint and recomputes the checksum
(checkpoint_layout.py), so the damage reaches the loader's validation; the
error must be a ValueError that names the file and the problem.
"""

import json
import os
import re
import struct

import numpy as np
import pytest

from checkpoint_layout import fields, patch, with_checksum
from ctrl_c import ctrl_c_at_batch
from lstmininet import LSTM, load
from lstmininet.tokenizers import CharTokenizer

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize


@pytest.fixture
def saved(tmp_path):
    """(path, bytes, fields) of a small trained LSTM checkpoint with Adam state."""
    model = LSTM(5, hidden_size=4, seed=0)
    model.fit([[0, 1, 2, 3, 4] * 4], epochs=1, batch_size=2, seq_len=4, progress=False)
    path = tmp_path / "model.lmn"
    model.save(path)
    data = path.read_bytes()
    return path, data, fields(data)


def _expect_error(path, data, message):
    path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        load(path)


def test_the_untouched_file_loads(saved):
    path, data, _ = saved
    assert load(path).epochs_done == 1
    assert with_checksum(data) == data  # the test helper agrees with the writer's checksum


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(saved, value):
    path, data, f = saved
    _expect_error(path, patch(data, f["tensor:lstm.weight_hh_l0.values"], value, 4), "NaN or infinity")


def test_duplicate_tensor_names_are_refused(saved):
    path, data, f = saved
    # bias_hh_l0 renamed to bias_ih_l0 (same length and shape): bias_hh_l0 would stay zero
    field = f["tensor:lstm.bias_hh_l0.name"]
    damaged = with_checksum(data[: field.offset] + b"lstm.bias_ih_l0" + data[field.offset + field.size :])
    _expect_error(path, damaged, "'lstm.bias_ih_l0' appears twice")


def test_a_vocabulary_of_the_wrong_size_is_refused(tmp_path):
    model = LSTM(5, hidden_size=4, seed=0, tokenizer=CharTokenizer("abcde"))
    path = tmp_path / "model.lmn"
    model.save(path)
    data = path.read_bytes()
    f = fields(data)
    # drop the last vocabulary entry: four tokens for a five-token model
    last = f["vocabulary:4.length"]
    damaged = data[: f["vocabulary.count"].offset] + (4).to_bytes(4, "little")
    damaged += data[f["vocabulary.count"].offset + 4 : last.offset] + data[last.offset + 4 + 1 :]
    _expect_error(path, with_checksum(damaged), "vocabulary has 4 tokens but the model's vocab_size is 5")


def test_a_tokenizer_of_the_wrong_size_in_the_metadata_is_refused(tmp_path):
    model = LSTM(5, hidden_size=4, seed=0, tokenizer=CharTokenizer("abcde"))
    path = tmp_path / "model.lmn"
    model.save(path)
    data = path.read_bytes()
    f = fields(data)
    metadata = json.loads(data[f["metadata"].offset : f["metadata"].offset + f["metadata"].size])
    metadata["tokenizer"] = CharTokenizer("abcdef").to_dict()
    text = json.dumps(metadata).encode()
    # no vocabulary list (as a model without tokenizer writes), the edited metadata, the rest as it was
    damaged = data[: f["vocabulary.count"].offset] + struct.pack("<II", 0, len(text)) + text
    damaged += data[f["metadata"].offset + f["metadata"].size :]
    path.write_bytes(with_checksum(damaged))
    with pytest.raises(ValueError, match="has a tokenizer of 6 tokens for a model of 5"):
        load(path)


def test_text_that_is_not_utf8_is_refused(tmp_path):
    model = LSTM(2, hidden_size=4, seed=0, tokenizer=CharTokenizer("ab"))
    path = tmp_path / "model.lmn"
    model.save(path)
    data = path.read_bytes()
    f = fields(data)
    # the token "b" becomes the lone byte 0xFF: Python used to fail decoding it, without the file's name
    _expect_error(
        path,
        with_checksum(data[: f["vocabulary:1"].offset] + b"\xff" + data[f["vocabulary:1"].offset + 1 :]),
        "vocabulary token 1 is not UTF-8",
    )


def test_trailing_bytes_are_refused(saved):
    path, data, _ = saved
    _expect_error(path, with_checksum(data[:-8] + b"\0\0\0\0" + data[-8:]), "4 unexpected bytes")


def test_an_optimizer_flag_of_two_is_refused(saved):
    path, data, f = saved
    _expect_error(path, patch(data, f["optimizer.flag"], 2), "optimizer flag is 2")


def test_counters_that_would_overflow_are_refused(saved):
    path, data, f = saved
    _expect_error(path, patch(data, f["epochs_done"], 2**31 - 1), "epochs_done 2147483647 is outside")
    _expect_error(path, patch(data, f["epochs_done"], -1), "epochs_done -1 is outside")
    _expect_error(path, patch(data, f["optimizer.steps"], 2**63 - 1), "optimizer steps 9223372036854775807")


def test_absurd_sizes_are_refused_before_allocating(saved):
    path, data, f = saved
    _expect_error(path, patch(data, f["hidden_size"], 10**9), "hidden_size 1000000000 is too large")
    # 4e8 parameters would be 1.6 GB: the file is far shorter, so nothing is allocated
    _expect_error(path, patch(data, f["hidden_size"], 10000), "needs more weight bytes than the")
    _expect_error(path, patch(data, f["vocab_size"], -5), "vocab_size must be positive")
    _expect_error(path, patch(data, f["dropout"], float("nan")), "dropout must be in")


def test_damaged_optimizer_state_is_refused(saved):
    path, data, f = saved
    moments = f["optimizer.buffer0.values"]
    _expect_error(path, patch(data, moments, float("nan")), "optimizer buffer 0 contains NaN")
    # the last buffer holds Adam's second moments (of fc.bias): they cannot be negative
    last = sum(name.endswith(".rows") and name.startswith("optimizer.") for name in f) - 1
    second = f[f"optimizer.buffer{last}.values"]
    _expect_error(path, patch(data, second, -1.0), "negative")
    _expect_error(path, patch(data, f["optimizer.reserved"], 1.0), "reserved")
    _expect_error(path, patch(data, f["optimizer.eps"], float("inf")), "eps must be positive")
    _expect_error(path, patch(data, f["optimizer.buffers.count"], 3), "3 optimizer buffers where adam needs 12")


def test_loading_a_directory_or_a_fifo_is_an_os_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a (directory|folder)"):
        load(tmp_path)
    fifo = tmp_path / "fifo.lmn"
    os.mkfifo(fifo)  # opening it for reading used to wait for a writer forever
    with pytest.raises(OSError, match="not a regular file"):
        load(fifo)


def test_a_damaged_checkpoint_can_no_longer_train_into_nan(saved):
    """The issue's case: NaN moments under a valid checksum used to load, and fit returned NaN weights."""
    path, data, f = saved
    path.write_bytes(patch(data, f["optimizer.buffer11.values"], float("nan")))
    with pytest.raises(ValueError, match="optimizer buffer 11 contains NaN"):
        model = load(path)
        model.fit([[0, 1, 2, 3, 4] * 4], epochs=1, batch_size=2, seq_len=4, progress=False)
        assert all(np.isfinite(v).all() for v in model.state_dict().values())


# A stopped epoch's position (version 2). The saved one stops between batches;
# the fixture writes a carried state in after step 2, as a stop inside a
# truncated batch leaves, so that every position field can be damaged.
TUNE = [[0, 1, 2, 3, 4] * 8]  # 39 pairs: windows of 8 in 3 batches of 2
FIT = dict(epochs=1, batch_size=2, seq_len=8, truncate=2)


@pytest.fixture
def stopped(tmp_path):
    """(path, bytes, fields) of a 2-layer LSTM stopped inside its first epoch, with a carried state."""
    model = LSTM(5, hidden_size=4, num_layers=2, seed=0)
    with ctrl_c_at_batch(1):
        assert model.fit(TUNE, **FIT).batches_done
    path = tmp_path / "stopped.lmn"
    model.save(path)
    data = path.read_bytes()
    f = fields(data)
    state = struct.pack("<i", 2) + b"".join(struct.pack("<ii", 2, 4) + bytes(4 * 2 * 4) for _ in range(4))
    rows = f["position.rows"]
    data = patch(data[: rows.offset] + state + data[rows.offset + rows.size :], f["position.step"], 2)
    return path, data, fields(data)


def test_a_stopped_epoch_loads_and_goes_on(stopped):
    path, data, f = stopped
    assert f["position.rows"] and f["position.h1.values"].size == 4 * 2 * 4
    path.write_bytes(data)
    history = load(path).fit(TUNE, progress=False, **FIT)
    assert history["epoch"] == [1] and history.batches_done is None


def test_a_damaged_position_is_refused(stopped):
    path, data, f = stopped
    _expect_error(path, patch(data, f["position.flag"], 2), "position flag is 2")
    _expect_error(path, patch(data, f["position.batch"], -1), "position batch -1, step 2 is negative")
    zeros = data
    for i in range(4):
        zeros = patch(zeros, f[f"position.dropout_rng{i}"], 0)
    _expect_error(path, zeros, "dropout stream is all zeros")
    _expect_error(path, patch(data, f["position.loss_sum"], float("nan")), "loss sum, tokens or seconds")
    _expect_error(path, patch(data, f["position.tokens"], -1), "loss sum, tokens or seconds")
    _expect_error(path, patch(data, f["position.loss_sum"], 1e300), "tokens' float32 losses can add up to")
    _expect_error(path, patch(data, f["position.rows"], 0), "position state rows 0 at step 2")
    _expect_error(path, patch(data, f["position.rows"], 2**31 - 1), "need more bytes than the file has left")
    _expect_error(path, patch(data, f["position.h1.cols"], 5), r"carried state has shape \(2, 5\), expected \(2, 4\)")
    _expect_error(path, patch(data, f["position.c0.values"], float("inf")), "carried state contains NaN")


def test_a_position_that_does_not_fit_the_batches_is_refused_by_fit(stopped):
    path, data, f = stopped
    path.write_bytes(patch(data, f["position.batch"], 2))  # the last batch holds one window of 7 steps
    with pytest.raises(ValueError, match=r"position in epoch 1 \(batch 3, step 2\) does not fit .* carried state"):
        load(path).fit(TUNE, progress=False, **FIT)
    path.write_bytes(patch(data, f["position.batch"], 4))
    with pytest.raises(ValueError, match=r"\(batch 5, step 2\) does not fit this data: 3 batches per epoch"):
        load(path).fit(TUNE, progress=False, **FIT)


def test_version_1_files_load_without_a_position(saved):
    path, data, f = saved
    assert struct.unpack_from("<I", data, f["version"].offset) == (2,)
    # Version 1 ends after the optimizer: drop the position and early stopping and say 1.
    flag = f["position.flag"]
    assert data[flag.offset] == 0 and flag.offset + 1 == f["early_stopping.validation"].offset
    old = patch(data[: flag.offset] + data[-8:], f["version"], 1)
    path.write_bytes(old)
    model = load(path)
    assert model.epochs_done == 1
    model.fit([[0, 1, 2, 3, 4] * 4], epochs=1, batch_size=2, seq_len=4, progress=False)
    _expect_error(path, patch(data, f["version"], 3), "has version 3; this build reads versions 1 to 2")


@pytest.fixture
def best_kept(tmp_path):
    """(path, bytes, fields) of a model stopped in epoch 2 of a run with early stopping: its best weights (epoch
    1's) differ from its current ones, so the file stores them."""
    model = LSTM(5, hidden_size=4, seed=0)
    with ctrl_c_at_batch(4):  # 3 batches an epoch: the first of epoch 2
        model.fit(TUNE, **dict(FIT, epochs=2), val_data=[[4, 3, 2, 1, 0] * 3], patience=3)
    path = tmp_path / "best.lmn"
    model.save(path)
    data = path.read_bytes()
    return path, data, fields(data)


def test_damaged_early_stopping_is_refused(best_kept):
    path, data, f = best_kept
    assert struct.unpack_from("<B", data, f["early_stopping.best_weights"].offset) == (2,)
    assert load(path).fit(TUNE, **FIT, val_data=[[4, 3, 2, 1, 0] * 3], patience=3, progress=False).best_epoch >= 1
    _expect_error(path, patch(data, f["early_stopping.best_epoch"], 2), "best epoch 2 or epochs without improvement")
    count = f["early_stopping.epochs_without_improvement"]
    _expect_error(path, patch(data, count, -1), r"outside \[0, epochs_done 1\]")
    _expect_error(path, patch(data, f["early_stopping.best_val"], float("nan")), "best validation loss nan")
    _expect_error(path, patch(data, f["early_stopping.best_val"], -1.0), "best validation loss -1")
    _expect_error(path, patch(data, f["early_stopping.best_weights"], 3), "best weights kind 3")
    values = f["best:lstm.weight_hh_l0.values"]
    _expect_error(path, patch(data, values, float("inf")), "best weights 'lstm.weight_hh_l0' contains NaN or infinity")
