"""Bad input gives a Python exception that names the problem, never a crash."""

import numpy as np
import pytest

import lstmininet
from lstmininet import GRU, LSTM

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize


@pytest.fixture
def model():
    return LSTM(5, hidden_size=4, seed=0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(vocab_size=0), ValueError, "vocab_size must be >= 1"),
        (dict(vocab_size=5, hidden_size=-3), ValueError, "hidden_size must be >= 1"),
        (dict(vocab_size=5, num_layers=0), ValueError, "num_layers"),
        (dict(vocab_size=5, embedding_dim=0), ValueError, "embedding_dim"),
        (dict(vocab_size=5, dropout=1.0), ValueError, "dropout"),
        (dict(vocab_size=5.5), TypeError, "vocab_size must be an integer"),
        (dict(vocab_size=5, seed=-1), ValueError, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        GRU(**kwargs)


def test_token_outside_vocabulary(model):
    with pytest.raises(IndexError, match="token 5 at position"):
        model.forward([[0, 1, 5]])
    with pytest.raises(IndexError, match="token -1"):
        model.forward([[0, -1]])
    with pytest.raises(IndexError, match="training sequence 1, position 2: token 9"):
        model.fit([[0, 1, 2], [1, 2, 9]], epochs=1, progress=False)
    with pytest.raises(IndexError, match="token 7"):
        model.generate([7], 3)


def test_wrong_dtype_and_shape(model):
    with pytest.raises(TypeError, match="integer token ids"):
        model.forward(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="non-integer"):
        model.forward(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(batch, time\)"):
        model.forward(np.zeros((2, 2, 2), dtype=int))
    with pytest.raises(ValueError, match="empty array"):
        model.forward(np.zeros((2, 0), dtype=int))
    with pytest.raises(ValueError, match="targets shape"):
        model.loss_and_grads([[0, 1, 2]], [[0, 1]])


def test_nan_in_data(model):
    with pytest.raises(ValueError, match=r"sequences\[1\] contains NaN"):
        model.fit([[0, 1, 2], [1.0, float("nan"), 2.0]], epochs=1, progress=False)
    with pytest.raises(ValueError, match="contains NaN"):
        model.forward(np.array([[0.0, np.nan]]))


def test_bad_training_and_sampling_arguments(model):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.fit([[0, 1, 2]], batch_size=0, progress=False)
    with pytest.raises(ValueError, match="lr must be positive"):
        model.fit([[0, 1, 2]], epochs=1, lr=-1.0, progress=False)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        model.fit([[0, 1, 2]], epochs=1, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="clip_norm must be positive"):
        model.fit([[0, 1, 2]], epochs=1, clip_norm=0.0, progress=False)
    with pytest.raises(ValueError, match="two or more tokens"):
        model.fit([[1], [2]], epochs=1, progress=False)
    with pytest.raises(ValueError, match="is empty"):
        model.fit([], epochs=1, progress=False)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0, got -0.5$"):
        model.generate([1], 3, temperature=-0.5)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0, got inf$"):
        model.generate([1], 3, temperature=float("inf"))  # it said "must be >= 0, got inf"
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 1.5$"):
        model.generate([1], 3, top_p=1.5)
    with pytest.raises(ValueError, match="tensor 'fc.bias' is not numbers: dtype <U1"):
        model.load_state_dict({**model.state_dict(), "fc.bias": np.array(["x"] * model.vocab_size)})
    # named like every other argument (these were pybind11's "incompatible function arguments")
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        lstmininet.sample_seed(-1, 0)
    with pytest.raises(ValueError, match="index must be >= 0, got -2"):
        lstmininet.sample_seed(1, -2)
    with pytest.raises(TypeError, match="index must be an integer, got float"):
        lstmininet.sample_seed(1, 0.5)
    with pytest.raises(ValueError, match="primer"):
        model.generate([], 3)


def test_bad_state_dicts_leave_the_model_unchanged(model):
    state = model.state_dict()
    with pytest.raises(ValueError, match=r"missing \['fc.bias'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "fc.bias"})
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        model.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"'lstm.weight_hh_l0' has shape \(4, 4\), expected \(16, 4\)"):
        model.load_state_dict({**state, "lstm.weight_hh_l0": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="'fc.bias' contains NaN"):
        model.load_state_dict({**state, "fc.bias": np.full(5, np.nan)})
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[name])


def test_damaged_checkpoints(tmp_path, model):
    path = tmp_path / "model.lmn"
    model.save(path)
    data = path.read_bytes()
    with pytest.raises(OSError, match="missing.lmn"):
        LSTM.load(tmp_path / "missing.lmn")
    (tmp_path / "foreign.lmn").write_bytes(b"PK\x03\x04 definitely a zip file, not a model")
    with pytest.raises(ValueError, match="not an LSTMiniNet checkpoint"):
        LSTM.load(tmp_path / "foreign.lmn")
    (tmp_path / "cut.lmn").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="damaged or truncated"):
        LSTM.load(tmp_path / "cut.lmn")
    with pytest.raises(OSError, match="no_such_dir"):
        model.save(tmp_path / "no_such_dir" / "m.lmn")
    assert path.read_bytes() == data  # the good file is untouched
