"""Arguments the C++ core cannot represent get a clear error naming them:
sizes that overflow, integers beyond 32 (or, for seeds, 64) bits, paths with
NUL, non-numeric tensors; and no_grad stays per thread."""

import threading

import numpy as np
import pytest

import lstmininet as lm
from lstmininet import LSTM, Tensor

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize


def test_a_hidden_size_that_overflows_names_the_size():
    # 4 * 10**9 gate rows used to overflow an int (UBSan) and report a negative dimension
    with pytest.raises(ValueError, match="hidden_size 1000000000 is too large"):
        LSTM(5, hidden_size=10**9)
    with pytest.raises(ValueError, match=r"model is too large: 9e\+10 parameters \(vocab_size 100000"):
        LSTM(100_000, hidden_size=100_000)
    with pytest.raises(ValueError, match="hidden_size must be <= 2147483647, got 2147483648"):
        LSTM(5, hidden_size=2**31)


def test_the_core_takes_int32_token_arrays_only():
    # With pybind11's forcecast, _core read 1.7 as token 1 and int64 2**32 + 1 as 1.
    core = LSTM(5, hidden_size=4, seed=0)._core
    assert core.forward(np.array([[1, 2]], dtype=np.int32)).shape == (1, 2, 5)
    for tokens in (np.array([[1.7, 2.2]]), np.array([[2**32 + 1]], dtype=np.int64)):
        with pytest.raises(TypeError, match="incompatible function arguments"):
            core.forward(tokens)


@pytest.fixture(scope="module")
def model():
    return LSTM(5, hidden_size=4, seed=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.generate([1], 2**31), "length must be <= 2147483647, got 2147483648"),
        (lambda m: m.generate([1], 3, top_k=2**31), "top_k must be <= 2147483647"),
        (lambda m: m.generate([1], 3, seed=2**64), "seed must be <= 18446744073709551615"),
        (lambda m: m.fit([[1, 2, 3]], batch_size=2**31, progress=False), "batch_size must be <= 2147483647"),
        (lambda m: m.fit([[1, 2, 3]], seq_len=2**40, progress=False), "seq_len must be <= 2147483647"),
        (lambda m: m.fit([[1, 2, 3]], epochs=2**31, progress=False), "epochs must be <= 2147483647"),
        (lambda m: m.evaluate([[1, 2, 3]], batch_size=2**63), "batch_size must be <= 2147483647"),
        (lambda m: LSTM(5, seed=2**64), "seed must be <= 18446744073709551615"),
    ],
)
def test_integers_beyond_the_core_types_name_the_argument(model, call, message):
    with pytest.raises(ValueError, match=message):
        call(model)


def test_seeds_use_all_64_bits(model):
    assert model.generate([1], 3, seed=2**64 - 1) == model.generate([1], 3, seed=2**64 - 1)


def test_a_path_with_nul_is_refused(model, tmp_path):
    # the C library used to stop at the NUL and write 'a'
    with pytest.raises(ValueError, match=r"contains a NUL character"):
        model.save(str(tmp_path / "a\x00b.lmn"))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"contains a NUL character"):
        lm.load(str(tmp_path / "a\x00b.lmn"))


@pytest.mark.parametrize("data", [None, "1.5", ["1", "2"], [None, 1.0], np.array([1 + 2j])])
def test_a_tensor_needs_real_numbers(data):
    with pytest.raises(TypeError, match="expected a real numeric array"):
        Tensor(data)


def test_a_tensor_of_bools_and_ints_is_numeric():
    np.testing.assert_array_equal(Tensor([True, False]).numpy(), [[1.0, 0.0]])
    np.testing.assert_array_equal(Tensor(np.arange(3)).numpy(), [[0.0, 1.0, 2.0]])


def records_graph() -> bool:
    return (Tensor([[1.0]], requires_grad=True) * 2).requires_grad


def test_no_grad_is_per_thread():
    guard = lm.no_grad()
    guard.__enter__()
    assert not records_graph()
    errors = []

    def leave_from_another_thread():
        try:
            guard.__exit__(None, None, None)
        except RuntimeError as err:
            errors.append(str(err))
        errors.append(records_graph())  # this thread never left grad mode

    thread = threading.Thread(target=leave_from_another_thread)
    thread.start()
    thread.join()
    assert errors == ["no_grad: left on a thread that did not enter it (grad mode is per thread)", True]
    assert not records_graph()  # the first thread is still inside no_grad ...
    guard.__exit__(None, None, None)
    assert records_graph()  # ... until it leaves it itself


def test_one_no_grad_object_used_by_two_threads():
    guard = lm.no_grad()
    barrier = threading.Barrier(2)
    seen = []

    def work():
        with guard:
            barrier.wait()
            seen.append(records_graph())
            barrier.wait()
        seen.append(records_graph())

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == [False, False, True, True]
