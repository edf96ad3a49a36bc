"""Generation: the cached stepper weights, batched sampling, per-sample seeds."""

import math

import numpy as np
import pytest

import lstmininet
from lstmininet import GRU, LSTM
from lstmininet.tokenizers import MelodyTokenizer


def pattern(count=8, length=80, period=5):
    return [[(i + s) % period for i in range(length)] for s in range(count)]


def copy_of(model):
    twin = type(model)(model.vocab_size, hidden_size=model.config["hidden_size"], seed=99)
    twin.load_state_dict(model.state_dict())
    return twin


def test_generate_reuses_its_stepper_until_the_weights_change():
    model = LSTM(6, hidden_size=16, seed=1)
    first = model.generate([1], 60, seed=3)
    assert model._core.stepper_builds == 1
    assert model.generate([1, 2], 60, seed=4, num_samples=3)
    assert model._core.stepper_builds == 1  # reused, batched or not
    model.generate([1], 5, seed=3, precision="bfloat16")
    assert model._core.stepper_builds == 2  # one per precision

    other = LSTM(6, hidden_size=16, seed=2)
    model.load_state_dict(other.state_dict())
    after_load = model.generate([1], 60, seed=3)
    assert after_load == other.generate([1], 60, seed=3)
    assert after_load != first
    assert model._core.stepper_builds == 3

    model.fit(pattern(period=6), epochs=2, batch_size=8, seq_len=16, lr=0.05, progress=False)
    after_fit = model.generate([1], 60, seed=3)
    assert after_fit == copy_of(model).generate([1], 60, seed=3)
    assert after_fit != after_load


def test_generate_inside_a_fit_callback_sees_each_epochs_weights():
    model = LSTM(6, hidden_size=16, seed=1)
    seen = []

    def on_epoch(row):
        seen.append((model.generate([1], 40, seed=3), copy_of(model).generate([1], 40, seed=3)))

    model.fit(pattern(period=6), epochs=3, batch_size=8, seq_len=16, lr=0.05, progress=False, on_epoch=on_epoch)
    assert len(seen) == 3
    assert all(inside == fresh for inside, fresh in seen)
    assert seen[0][0] != seen[2][0]


@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("precision", ["float32", "bfloat16", "int8"])
def test_sample_i_of_a_batch_is_sample_i_drawn_alone(cls, precision):
    # hidden 40: several lane blocks with a partial last one; 2 layers
    model = cls(7, hidden_size=40, num_layers=2, embedding_dim=4, seed=5)
    primers = [[1], [2, 3, 4, 5, 6], [0, 0], [6], [3, 3, 3]]
    batch = model.generate(primers, 200, seed=11, precision=precision)
    assert len(batch) == 5 and all(len(s) == 200 for s in batch)
    for i, primer in enumerate(primers):
        alone = model.generate(primer, 200, seed=lstmininet.sample_seed(11, i), precision=precision)
        assert batch[i] == alone
    assert len({tuple(s) for s in batch}) == 5  # independent streams


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_int8_samples_are_the_same_with_or_without_amx_tiles(cls):
    # The tiles' integer sums are vpdpbusd's: the same samples, bit for bit. (Without AMX on
    # this CPU both runs use the vector kernels; with it, 20 samples fill a tile of 16 and 4 more.)
    model = cls(11, hidden_size=72, num_layers=2, embedding_dim=6, seed=4)
    with_tiles = model.generate([1, 2], 120, seed=9, precision="int8", num_samples=20)
    lstmininet._core.set_amx_enabled(False)
    try:
        without = model.generate([1, 2], 120, seed=9, precision="int8", num_samples=20)
    finally:
        lstmininet._core.set_amx_enabled(True)
    assert with_tiles == without


def test_num_samples_with_one_primer_and_seeds():
    model = LSTM(5, hidden_size=24, seed=2)
    batch = model.generate([1, 2], 50, seed=7, num_samples=4)
    assert len(batch) == 4 and len({tuple(s) for s in batch}) == 4
    assert batch == model.generate([1, 2], 50, seed=7, num_samples=4)  # reproducible
    assert batch[:2] == model.generate([1, 2], 50, seed=7, num_samples=2)  # sample i does not depend on N
    assert model.generate([[1, 2]] * 4, 50, seed=7) == batch
    assert model.generate([1, 2], 50, seed=7, num_samples=1) == [batch[0]]
    seeds = [lstmininet.sample_seed(7, i) for i in range(4)]
    assert len(set(seeds)) == 4 and all(0 <= s < 2**63 for s in seeds)
    assert lstmininet.sample_seed(8, 0) != seeds[0]


def test_a_2d_array_primer_is_one_primer_per_row():
    # np.array([[1, 2], [3, 4]]) was flattened into the one primer [1, 2, 3, 4]
    model = LSTM(5, hidden_size=24, seed=2)
    rows = np.array([[1, 2], [3, 4], [0, 0]])
    assert model.generate(rows, 20, seed=7) == model.generate([[1, 2], [3, 4], [0, 0]], 20, seed=7)
    assert len(model.generate(rows, 20, seed=7)) == 3
    with pytest.raises(ValueError, match=r"primer 0 must be a sequence of token ids, got an array of shape \(1, 2\)"):
        model.generate([np.array([[1, 2]])], 20)
    with pytest.raises(TypeError, match="primer is None: pass token ids, or meter= / key="):
        model.generate(None, 20)


def test_stop_tokens_end_each_sample_on_its_own():
    model = LSTM(5, hidden_size=24, seed=2)
    batch = model.generate([0], 300, seed=1, stop_token=4, num_samples=8)
    lengths = [len(s) for s in batch]
    assert len(set(lengths)) > 1  # they end at different steps
    for i, sample in enumerate(batch):
        assert 4 not in sample[:-1]
        assert sample[-1] == 4 or len(sample) == 300
        assert sample == model.generate([0], 300, seed=lstmininet.sample_seed(1, i), stop_token=4)


def test_batch_logits_match_forward_greedy():
    # greedy batches follow the reference forward's argmax, row by row
    model = GRU(6, hidden_size=20, seed=4)
    primers = [[1, 2], [5], [0, 3, 3]]
    batch = model.generate(primers, 12, temperature=0)
    for primer, sample in zip(primers, batch, strict=True):
        sequence = primer + sample
        logits = model.forward(np.array([sequence[:-1]]))[0]
        assert sample == logits[len(primer) - 1 :].argmax(-1).tolist()


def test_bad_batches_are_named():
    model = LSTM(5, hidden_size=8, seed=0)
    with pytest.raises(ValueError, match="num_samples is 3 but 2 primers"):
        model.generate([[1], [2]], 5, num_samples=3)
    with pytest.raises(ValueError, match="primer 1 must hold at least one token"):
        model.generate([[1], []], 5)
    with pytest.raises(ValueError, match="num_samples"):
        model.generate([1], 5, num_samples=0)
    with pytest.raises(IndexError, match="primer 1 has token 9"):
        model.generate([[1], [9]], 5)
    assert model.generate([1], 0, num_samples=2) == [[], []]


def test_int8_generation_is_close_to_float32_and_reproducible():
    model = LSTM(6, hidden_size=48, num_layers=2, seed=3)
    model.fit(pattern(period=6), epochs=30, batch_size=8, seq_len=32, lr=0.02, progress=False)
    greedy = model.generate([0, 1], 30, temperature=0)
    assert greedy == [(2 + i) % 6 for i in range(30)]  # learned the pattern
    assert model.generate([0, 1], 30, temperature=0, precision="int8") == greedy
    sampled = model.generate([0], 500, seed=2, precision="int8")
    assert sampled == model.generate([0], 500, seed=2, precision="int8")
    assert model._core.stepper_builds == 2


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_generation_loss_is_the_evaluated_loss(cls):
    # Two independent paths: the training forward (evaluate, one window per
    # sequence) and the generation stepper, sequences of several lengths.
    model = cls(7, hidden_size=40, num_layers=2, embedding_dim=5, seed=6)
    rng = np.random.default_rng(1)
    data = [rng.integers(0, 7, n).tolist() for n in (50, 9, 33, 2, 70)]
    expected = model.evaluate(data, batch_size=8, seq_len=100)
    got = model.generation_loss(data)
    assert got["tokens"] == expected["tokens"] == sum(len(s) - 1 for s in data)
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert got["perplexity"] == pytest.approx(np.exp(got["loss"]))
    rounded = {p: model.generation_loss(data, precision=p)["loss"] for p in ("bfloat16", "int8")}
    for loss in rounded.values():
        assert loss != got["loss"] and loss == pytest.approx(got["loss"], rel=2e-2)
    with pytest.raises(IndexError, match="sequence 1 has token 7"):
        model.generation_loss([[1, 2], [7, 1]])
    # as evaluate: nothing to score is an error (it was loss 0, perplexity 1)
    with pytest.raises(ValueError, match="generation_loss: no sequence has two or more tokens"):
        model.generation_loss([[1], [3]])
    # a loss past exp's range is perplexity inf, as evaluate's (it was OverflowError)
    state = model.state_dict()
    model.load_state_dict({**state, "fc.weight": state["fc.weight"] * 1e6})
    huge = model.generation_loss(data)
    assert huge["loss"] > 1000 and huge["perplexity"] == math.inf == model.evaluate(data)["perplexity"]


def test_read_bandwidth_measures_a_stream():
    from lstmininet import _core

    gbs = _core.read_bandwidth(1 << 20, 1, 0.05)
    assert 0.5 < gbs < 10_000
    with pytest.raises(ValueError, match="bytes must be >= 4096"):
        _core.read_bandwidth(100, 1)
    with pytest.raises(ValueError, match=r"threads must be in \[1, 1024\], got 0"):
        _core.read_bandwidth(1 << 20, 0)
    with pytest.raises(ValueError, match="got 1025"):
        _core.read_bandwidth(1 << 20, 1025)
    for seconds in (float("nan"), float("inf"), 0.0, -1.0):  # NaN looped for ever
        with pytest.raises(ValueError, match=r"seconds must be in \(0, 3600\]"):
            _core.read_bandwidth(1 << 20, 1, seconds)
    assert _core.int8_kernel() in ("avx512_vnni", "avx_vnni", "avx2", "portable")
    model = LSTM(7, hidden_size=40, num_layers=2, seed=6)
    weights = 4 * 40 * 40 + 4 * 40 * 80 + 7 * 40
    assert [model._core.generation_bytes_per_step(p) for p in ("float32", "bfloat16", "int8")] == [
        4 * weights,
        2 * weights,
        weights,
    ]


def test_concurrent_generates_share_one_build():
    import threading

    model = LSTM(6, hidden_size=32, num_layers=2, seed=1)
    expected = [model.generate([1], 150, seed=s, precision="int8") for s in range(6)]
    model.load_state_dict(model.state_dict())  # a write: the cache is cold again
    builds = model._core.stepper_builds
    got = [None] * 6

    def sample(i):
        got[i] = model.generate([1], 150, seed=i, precision="int8")

    workers = [threading.Thread(target=sample, args=(i,)) for i in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert got == expected
    assert model._core.stepper_builds == builds + 1


def test_more_samples_than_memory_holds_are_refused_before_any_work():
    # num_samples=50,000,000 built its lists for 21 s, then raised a bare MemoryError; 2**31 - 1 at once.
    model = LSTM(95, hidden_size=32, seed=0)
    for n in (2**31 - 1, 50_000_000):
        with pytest.raises(ValueError, match=rf"num_samples {n:,} need about .* GiB before their first token"):
            model.generate([3], 10, seed=1, num_samples=n)
    assert len(model.generate([3], 10, seed=1, num_samples=1000)) == 1000  # within reach: sampled


def test_a_primer_of_0_d_arrays_is_one_primer():
    # np.isscalar is False for np.array(3), so this was taken for two primers of one token each.
    model = LSTM(6, hidden_size=8, seed=0)
    assert model.generate([np.array(3), np.array(4)], 4, seed=1) == model.generate([3, 4], 4, seed=1)


def test_generation_loss_perplexity_is_evaluate_s(monkeypatch):
    # It was infinite from a loss of 700 on (exp is finite up to ~709.78) and for NaN.
    model = LSTM(6, hidden_size=8, seed=0)

    class Core:
        def __init__(self, loss):
            self.loss = loss

        def generation_loss(self, sequences, precision):
            return self.loss, 3

    for loss, perplexity in ((707.0, math.exp(707.0)), (710.0, math.inf)):
        monkeypatch.setattr(model, "_core", Core(loss))
        assert model.generation_loss([[1, 2, 3]])["perplexity"] == perplexity
    monkeypatch.setattr(model, "_core", Core(math.nan))
    assert math.isnan(model.generation_loss([[1, 2, 3]])["perplexity"])


def test_sampling_options_are_judged_as_given():
    # They were cast to float32 first: temperature 1e39 was refused as "got inf", top_p 1e-46 as "got 0".
    model = LSTM(6, hidden_size=8, seed=0)
    with pytest.raises(ValueError, match=r"temperature must be within float32's range, got 1e\+39"):
        model.generate([1], 3, temperature=1e39)
    assert model.generate([1], 5, top_p=1e-46, seed=3) == model.generate([1], 5, top_k=1, seed=3)
    melody = LSTM(4, hidden_size=8, seed=0, tokenizer=MelodyTokenizer(["<s>", "</s>", "M:6/8", "60"], add_bos_eos=True))
    with pytest.raises(TypeError, match="meter must be a string such as '6/8', got 6"):
        melody.generate([3], 3, meter=6)  # was AttributeError: 'int' object has no attribute 'strip'
    with pytest.raises(IndexError, match=r"primer has token 9, outside the vocabulary \[0, 4\)"):
        melody.generate([9], 3, meter="6/8")  # was a ValueError: the same as without a meter now
