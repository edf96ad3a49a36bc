"""``model.to_torch()`` and ``lstmininet.from_torch()``: the same network in PyTorch, and back.

Checked against torch itself: the converted module's logits and states come
from torch's own nn.LSTM / nn.GRU and are compared with lstmininet's
``forward`` on the same tokens (max abs error <= 1e-5), for LSTM and GRU,
1 and 2 layers, embedding and one-hot, two batch sizes and sequence
lengths. An explicit initial state is checked against lstmininet by
splitting a sequence: torch's final state after the first part, fed back
in, must give lstmininet's logits for the rest. The round trip lstmininet
-> torch -> lstmininet is bit-exact (state dicts and logits equal).

Needs torch (the 'torch' extra); skipped where it is absent, except in CI
(CI set), where a missing torch is an error.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import lstmininet
from ci_env import in_ci
from lstmininet.tokenizers import CharTokenizer

if not in_ci():
    torch = pytest.importorskip("torch", reason="the PyTorch hand-off needs the 'torch' extra")
else:
    torch = importlib.import_module("torch")  # in CI a missing torch fails instead of skipping

LOGITS_ATOL = 1e-5
SHAPES = [(2, 5), (3, 11)]  # (batch, time): two of each, one model
VARIANTS = [(cell, layers, embedding) for cell in ("lstm", "gru") for layers in (1, 2) for embedding in (None, 4)]
FIXTURE_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "make_fixtures.py"


def variant_id(variant) -> str:
    cell, layers, embedding = variant
    return f"{cell}-{layers}layer-{'onehot' if embedding is None else 'embed'}"


def make_model(cell, layers, embedding, vocab=9, hidden=6, seed=11, **kwargs):
    cls = lstmininet.LSTM if cell == "lstm" else lstmininet.GRU
    return cls(vocab, hidden_size=hidden, num_layers=layers, embedding_dim=embedding, seed=seed, **kwargs)


def tokens(vocab, batch, time, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=(batch, time), dtype=np.int64)


def torch_logits(module, x, state=None):
    module.eval()
    with torch.no_grad():
        logits, final = module(torch.from_numpy(x), state)
    return logits.numpy(), final


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def assert_same_state_dict(a: dict, b: dict):
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype == np.float32, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_torch_module_computes_our_logits(variant):
    model = make_model(*variant)
    module = model.to_torch()
    assert isinstance(module, torch.nn.Module)
    assert isinstance(module.rnn, torch.nn.LSTM if variant[0] == "lstm" else torch.nn.GRU)
    assert module.rnn.batch_first and module.rnn.num_layers == variant[1]
    for batch, time in SHAPES:
        x = tokens(model.vocab_size, batch, time, seed=batch)
        ours = model.forward(x)
        theirs, state = torch_logits(module, x)
        assert theirs.shape == ours.shape == (batch, time, model.vocab_size)
        err = max_abs(theirs, ours)
        assert err <= LOGITS_ATOL, f"{variant_id(variant)} B{batch} T{time}: max abs error {err:.3e}"
        h = state[0] if variant[0] == "lstm" else state
        assert tuple(h.shape) == (variant[1], batch, 6)


def test_the_module_comes_in_eval_mode():
    # As the README calls it, without .eval(): in training mode dropout made every call differ.
    model = make_model("lstm", 2, 4, dropout=0.3)
    module = model.to_torch()
    assert not module.training
    x = tokens(model.vocab_size, 2, 6)
    with torch.no_grad():
        logits, _ = module(torch.from_numpy(x))
    assert max_abs(logits.numpy(), model.forward(x)) <= LOGITS_ATOL


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_an_initial_state_continues_the_sequence(variant):
    # Ours has no state argument; splitting one sequence in two tests the state handling against it.
    model = make_model(*variant)
    module = model.to_torch()
    whole = tokens(model.vocab_size, 3, 12, seed=5)
    ours = model.forward(whole)
    _, state = torch_logits(module, whole[:, :7])
    rest, _ = torch_logits(module, whole[:, 7:], state)
    err = max_abs(rest, ours[:, 7:])
    assert err <= LOGITS_ATOL, f"logits after an explicit initial state: max abs error {err:.3e}"


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_round_trip_through_torch_is_bit_exact(variant):
    tok = CharTokenizer.build("a melody, or some text")
    model = make_model(*variant, vocab=len(tok), dropout=0.25, tokenizer=tok, seed=123)
    back = lstmininet.from_torch(model.to_torch())
    assert type(back) is type(model)
    assert back.config == model.config
    assert back.tokenizer == tok and back.seed == 123
    assert_same_state_dict(back.state_dict(), model.state_dict())
    x = tokens(model.vocab_size, 3, 9)
    np.testing.assert_array_equal(back.forward(x), model.forward(x))


def test_from_a_state_dict_of_tensors_or_arrays_and_from_a_wrapped_module():
    model = make_model("lstm", 2, 4)
    module = model.to_torch()
    for source in (
        module.state_dict(),
        model.state_dict(),
        {"module." + k: v for k, v in module.state_dict().items()},  # DistributedDataParallel's names
        {"_orig_mod.module." + k: v for k, v in module.state_dict().items()},  # torch.compile of that
        {"module._orig_mod." + k: v for k, v in module.state_dict().items()},  # and the other way round
    ):
        back = lstmininet.from_torch(source, seed=1)
        assert back.config == model.config
        assert_same_state_dict(back.state_dict(), model.state_dict())
        assert back.tokenizer is None


def test_a_wrapped_module_keeps_its_tokenizer_seed_and_dropout():
    # DataParallel runs on a CPU, and names its child "module" as DistributedDataParallel does.
    # torch.compile's wrapper is made lazily; the eager backend keeps it from importing inductor.
    tok = CharTokenizer.build("some text")
    model = make_model("lstm", 2, 4, vocab=len(tok), dropout=0.3, tokenizer=tok, seed=77)
    module = model.to_torch()
    for wrapped in (
        torch.nn.DataParallel(module),
        torch.compile(torch.nn.DataParallel(module), backend="eager"),
        torch.nn.DataParallel(torch.compile(module, backend="eager")),
    ):
        back = lstmininet.from_torch(wrapped)
        assert back.config == model.config  # dropout included
        assert back.tokenizer == tok and back.seed == 77
        assert_same_state_dict(back.state_dict(), model.state_dict())


def test_from_a_module_written_by_hand():
    # The reference model of tests/fixtures/make_fixtures.py: a different class, the same names.
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURE_SCRIPT)
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    torch.manual_seed(0)
    for cell, embedding in (("lstm", 0), ("gru", 3)):
        reference = fixtures.build_model(torch, cell, 7, embedding, 5, 2)
        model = lstmininet.from_torch(reference)
        assert model.config["cell"] == cell and model.config["num_layers"] == 2
        assert model.config["embedding_dim"] == (embedding or None)
        x = tokens(7, 2, 6)
        with torch.no_grad():
            expected = reference(torch.from_numpy(x)).numpy()
        assert max_abs(model.forward(x), expected) <= LOGITS_ATOL


def test_training_in_torch_comes_back():
    model = make_model("gru", 2, None, dropout=0.1)
    module = model.to_torch()
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    x = torch.from_numpy(tokens(model.vocab_size, 4, 10, seed=3))
    for _ in range(3):
        logits, _ = module(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, model.vocab_size), x[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    back = lstmininet.from_torch(module)
    assert back.config["dropout"] == pytest.approx(0.1)
    assert any(not np.array_equal(back.state_dict()[k], v) for k, v in model.state_dict().items())
    expected, _ = torch_logits(module, x.numpy())  # eval mode: no dropout
    assert max_abs(back.forward(x.numpy()), expected) <= LOGITS_ATOL


def test_dropout_matches_ours_after_every_layer():
    # Ours drops out after each recurrent layer; torch's RNN only between layers.
    one = make_model("lstm", 1, None, dropout=0.3).to_torch()  # no torch warning about dropout with 1 layer
    assert one.rnn.dropout == 0.0 and one.dropout.p == pytest.approx(0.3)
    two = make_model("lstm", 2, None, dropout=0.3).to_torch()
    assert two.rnn.dropout == pytest.approx(0.3) and two.dropout.p == pytest.approx(0.3)


def test_the_module_pickles_and_its_class_is_importable():
    module = make_model("lstm", 1, 4).to_torch()
    from lstmininet.interop import TorchRecurrentLM

    assert type(module) is TorchRecurrentLM
    copy = pickle.loads(pickle.dumps(module))
    x = tokens(9, 2, 4)
    np.testing.assert_array_equal(torch_logits(copy, x)[0], torch_logits(module, x)[0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: torch.nn.LSTM(3, 4, bidirectional=True).state_dict(), "one 'lstm' or one 'gru'"),
        (lambda: {"lstm." + k: v for k, v in torch.nn.LSTM(3, 4, bias=False).state_dict().items()}, "missing"),
        (lambda: {}, "found: nothing"),
    ],
    ids=["bare-bidirectional", "no-bias", "empty"],
)
def test_state_dicts_that_do_not_fit_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        lstmininet.from_torch(make())


def test_a_wrong_shape_is_named():
    state = make_model("gru", 1, 4).state_dict()
    state["fc.bias"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"fc\.bias has shape \(3,\)"):
        lstmininet.from_torch(state)


@pytest.mark.parametrize(
    "name, shape",
    [("gru.weight_hh_l0", (18,)), ("fc.weight", ()), ("embedding.weight", (9,)), ("fc.weight", (9, 6, 1))],
)
def test_a_wrong_number_of_dimensions_is_named(name, shape):
    # The sizes are read off these tensors: too few dimensions raised a bare IndexError.
    state = {**make_model("gru", 1, 4).state_dict(), name: np.zeros(shape, np.float32)}
    with pytest.raises(ValueError, match=rf"{re.escape(name)} has shape {re.escape(str(shape))}, expected"):
        lstmininet.from_torch(state)


@pytest.mark.parametrize(
    "make",
    [lambda: make_model("lstm", 1, 4), lambda: lstmininet.GRURegressor(3, hidden_size=5)],
    ids=["lm", "regressor"],
)
def test_load_state_dict_takes_bfloat16_and_half_tensors(make):
    # Mixed-precision training leaves such tensors; numpy has no bfloat16, so torch converts them.
    model = make()
    for dtype in (torch.bfloat16, torch.float16):
        tensors = {k: torch.from_numpy(v).to(dtype) for k, v in model.state_dict().items()}
        model.load_state_dict(tensors)
        assert_same_state_dict(model.state_dict(), {k: v.float().numpy() for k, v in tensors.items()})


@pytest.mark.parametrize(
    "value, message",
    [
        (lambda bias: bias + 5j, r"tensor 'fc\.bias' is complex \(complex64\)"),
        (lambda bias: torch.from_numpy(bias) + 5j, r"tensor 'fc\.bias' is complex \(complex64\)"),
        (lambda bias: torch.from_numpy(bias).to("meta"), r"tensor 'fc\.bias' is not numbers: .*meta tensor"),
        (lambda bias: "abc", r"tensor 'fc\.bias' is not numbers: dtype <U3"),
        (lambda bias: bias.astype(str), r"tensor 'fc\.bias' is not numbers: dtype <U"),  # was parsed as numbers
    ],
    ids=["complex-array", "complex-tensor", "meta-tensor", "string", "numbers-as-strings"],
)
def test_values_that_are_not_real_numbers_are_refused_by_name(value, message):
    # A complex value lost its imaginary part with only a warning; the others' errors named no tensor.
    model = make_model("gru", 1, 4)
    state = model.state_dict()
    bad = {**state, "fc.bias": value(state["fc.bias"])}
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(bad)
    with pytest.raises(ValueError, match=message):
        lstmininet.from_torch(bad)
    assert_same_state_dict(model.state_dict(), state)
