"""Parity with PyTorch through reference tensors saved on disk (no torch needed).

Each ``tests/fixtures/*.npz`` file was written by
``tests/fixtures/make_fixtures.py`` (see its docstring for the layout and
how to regenerate). For every file we build the same lstmininet model, load
the fixture's weights and compare:

* logits:    max |ours - ref|                      <= LOGITS_ATOL (1e-5)
* loss:      |ours - ref|                          <= LOSS_ATOL   (1e-5)
* gradients: rel_err(ours, ref)                    <= GRAD_RTOL   (1e-4)
             for every parameter, where for one tensor
             rel_err = max|ours - ref| / max(max|ref|, 1e-6)
             i.e. the worst absolute error scaled by the tensor's largest
             reference magnitude (a per-tensor relative error that does not
             blow up on entries that happen to be near zero).

Before that, the fixtures themselves are checked against an independent
float64 numpy implementation of the model written out below (forward pass,
plus central finite differences for a sample of gradient entries), so a
wrong fixture cannot silently make a wrong implementation look right.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

FIXTURE_DIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIXTURES = sorted(FIXTURE_DIR.glob("*.npz"))

LOGITS_ATOL = 1e-5
LOSS_ATOL = 1e-5
GRAD_RTOL = 1e-4


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    """max|ours - ref| / max(max|ref|, 1e-6), computed in float64."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(ours - ref)) / max(float(np.max(np.abs(ref))), 1e-6))


class Fixture:
    """One .npz case, unpacked into plain Python/numpy values."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        with np.load(path, allow_pickle=False) as d:
            self.cell = str(d["config.cell"])
            self.V = int(d["config.vocab_size"])
            self.H = int(d["config.hidden_size"])
            self.L = int(d["config.num_layers"])
            self.E = int(d["config.embedding_dim"])
            self.names = [str(n) for n in d["param_names"]]
            self.params = {n: d[n] for n in self.names}
            self.grads = {n: d["grad." + n] for n in self.names}
            self.inputs = d["inputs"]
            self.targets = d["targets"]
            self.logits = d["logits"]
            self.loss = float(d["loss"])

    def make_model(self):
        import lstmininet

        cls = {"lstm": lstmininet.LSTM, "gru": lstmininet.GRU}[self.cell]
        return cls(
            self.V,
            hidden_size=self.H,
            num_layers=self.L,
            embedding_dim=self.E if self.E > 0 else None,
            dropout=0.0,
            seed=0,
        )


@pytest.fixture(params=FIXTURES, ids=lambda p: p.stem)
def fx(request) -> Fixture:
    return Fixture(request.param)


def test_fixtures_present():
    # 4 variants (1/2 layers x one-hot/embedding) for each cell, at least.
    stems = {p.stem for p in FIXTURES}
    for cell in ("lstm", "gru"):
        for layers in ("1layer", "2layer"):
            for inp in ("onehot", "embed"):
                assert f"{cell}_{layers}_{inp}" in stems, sorted(stems)


# ---------------------------------------------------------------------------
# An independent float64 reference of the model, to validate the fixtures.
# Shapes: x (B,T) ints, h/c (B,H), gates (B,G*H) with G = 4 (LSTM) or 3 (GRU).
# ---------------------------------------------------------------------------


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_forward(fx: Fixture, params: dict) -> tuple[np.ndarray, float]:
    # Shapes in a column of comments (as llm.c writes them): keep the formatter's hands off.
    # fmt: off
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    B, T = fx.inputs.shape
    H = fx.H
    seq = p["embedding.weight"][fx.inputs] if fx.E > 0 else np.eye(fx.V)[fx.inputs]  # (B,T,E) or one-hot (B,T,V)
    for k in range(fx.L):
        w_ih = p[f"{fx.cell}.weight_ih_l{k}"]               # (G*H, in)
        w_hh = p[f"{fx.cell}.weight_hh_l{k}"]               # (G*H, H)
        b_ih = p[f"{fx.cell}.bias_ih_l{k}"]                 # (G*H,)
        b_hh = p[f"{fx.cell}.bias_hh_l{k}"]                 # (G*H,)
        h = np.zeros((B, H))
        c = np.zeros((B, H))
        outs = []
        for t in range(T):
            gx = seq[:, t] @ w_ih.T + b_ih                  # (B,G*H)
            gh = h @ w_hh.T + b_hh                          # (B,G*H)
            if fx.cell == "lstm":                           # gate order i, f, g, o
                a = gx + gh
                i = _sigmoid(a[:, 0:H])
                f = _sigmoid(a[:, H:2 * H])
                g = np.tanh(a[:, 2 * H:3 * H])
                o = _sigmoid(a[:, 3 * H:4 * H])
                c = f * c + i * g
                h = o * np.tanh(c)
            else:                                           # gate order r, z, n
                r = _sigmoid(gx[:, 0:H] + gh[:, 0:H])
                z = _sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
                n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1.0 - z) * n + z * h
            outs.append(h)
        seq = np.stack(outs, axis=1)                        # (B,T,H)
    logits = seq @ p["fc.weight"].T + p["fc.bias"]          # (B,T,V)
    # fmt: on
    flat = logits.reshape(-1, fx.V)
    m = flat.max(axis=1, keepdims=True)
    logp = flat - m - np.log(np.exp(flat - m).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(flat.shape[0]), fx.targets.reshape(-1)].mean()
    return logits, float(loss)


def test_fixture_matches_numpy_reference(fx):
    logits, loss = numpy_forward(fx, fx.params)
    np.testing.assert_allclose(fx.logits, logits, rtol=0, atol=1e-12)
    assert abs(fx.loss - loss) < 1e-12


def test_fixture_gradients_match_finite_differences(fx):
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in fx.names:
        base = fx.params[name].astype(np.float64)
        flat_idx = rng.choice(base.size, size=min(base.size, 12), replace=False)
        for j in flat_idx:
            idx = np.unravel_index(j, base.shape)
            plus = base.copy()
            plus[idx] += eps
            minus = base.copy()
            minus[idx] -= eps
            lp = numpy_forward(fx, {**fx.params, name: plus})[1]
            lm = numpy_forward(fx, {**fx.params, name: minus})[1]
            fd = (lp - lm) / (2 * eps)
            assert abs(fd - fx.grads[name][idx]) < 1e-7, (name, idx, fd, fx.grads[name][idx])


# ---------------------------------------------------------------------------
# lstmininet against the fixtures.
# ---------------------------------------------------------------------------


def test_state_dict_names_and_shapes(fx):
    m = fx.make_model()
    sd = m.state_dict()
    assert set(sd) == set(fx.names), (
        f"missing {sorted(set(fx.names) - set(sd))}, unexpected {sorted(set(sd) - set(fx.names))}"
    )
    for name in fx.names:
        assert sd[name].shape == fx.params[name].shape, (name, sd[name].shape, fx.params[name].shape)
        assert sd[name].dtype == np.float32, (name, sd[name].dtype)


def test_load_state_dict_round_trips_exactly(fx):
    m = fx.make_model()
    m.load_state_dict(fx.params)
    sd = m.state_dict()
    for name in fx.names:
        np.testing.assert_array_equal(sd[name], fx.params[name], err_msg=name)


def test_forward_logits(fx):
    m = fx.make_model()
    m.load_state_dict(fx.params)
    logits = np.asarray(m.forward(fx.inputs))
    assert logits.shape == fx.logits.shape
    assert logits.dtype == np.float32
    err = float(np.max(np.abs(logits.astype(np.float64) - fx.logits)))
    assert err <= LOGITS_ATOL, f"logits max abs error {err:.3e} > {LOGITS_ATOL}"
    # every call starts from a zero state: a second call gives the same answer
    np.testing.assert_array_equal(np.asarray(m.forward(fx.inputs)), logits)


def test_loss_and_grads(fx):
    m = fx.make_model()
    m.load_state_dict(fx.params)
    loss, grads = m.loss_and_grads(fx.inputs, fx.targets)
    assert abs(float(loss) - fx.loss) <= LOSS_ATOL, f"loss {loss!r} vs reference {fx.loss!r}"
    assert set(grads) == set(fx.names), (
        f"missing {sorted(set(fx.names) - set(grads))}, unexpected {sorted(set(grads) - set(fx.names))}"
    )
    failures = []
    for name in fx.names:
        g = np.asarray(grads[name])
        assert g.shape == fx.grads[name].shape, (name, g.shape, fx.grads[name].shape)
        e = rel_err(g, fx.grads[name])
        if not e <= GRAD_RTOL:
            failures.append(f"{name}: rel_err {e:.3e}")
    assert not failures, f"gradient mismatch (tolerance {GRAD_RTOL:g}): {'; '.join(failures)}"
    # computing gradients does not touch the weights, and a repeat gives the same result
    sd = m.state_dict()
    for name in fx.names:
        np.testing.assert_array_equal(sd[name], fx.params[name], err_msg=name)
    loss2, grads2 = m.loss_and_grads(fx.inputs, fx.targets)
    assert float(loss2) == float(loss)
    for name in fx.names:
        np.testing.assert_array_equal(np.asarray(grads2[name]), np.asarray(grads[name]), err_msg=name)


# ---------------------------------------------------------------------------
# Strict loading: problems are reported by name.
# ---------------------------------------------------------------------------

STRICT_CASES = [p for p in FIXTURES if p.stem in ("lstm_2layer_embed", "gru_1layer_onehot")]


@pytest.mark.parametrize("path", STRICT_CASES, ids=lambda p: p.stem)
def test_load_state_dict_missing_name(path):
    fx = Fixture(path)
    m = fx.make_model()
    victim = fx.names[-1]
    d = {k: v for k, v in fx.params.items() if k != victim}
    with pytest.raises(ValueError, match=victim.replace(".", r"\.")):
        m.load_state_dict(d)


@pytest.mark.parametrize("path", STRICT_CASES, ids=lambda p: p.stem)
def test_load_state_dict_unknown_name(path):
    fx = Fixture(path)
    m = fx.make_model()
    d = dict(fx.params)
    d[f"{fx.cell}.weight_ih_l{fx.L}"] = fx.params[f"{fx.cell}.weight_hh_l0"]  # one layer too many
    with pytest.raises(ValueError, match=rf"{fx.cell}\.weight_ih_l{fx.L}"):
        m.load_state_dict(d)


@pytest.mark.parametrize("path", STRICT_CASES, ids=lambda p: p.stem)
def test_load_state_dict_wrong_shape(path):
    fx = Fixture(path)
    m = fx.make_model()
    name = f"{fx.cell}.weight_hh_l0"
    d = dict(fx.params)
    d[name] = np.zeros((fx.params[name].shape[0], fx.H + 1), dtype=np.float32)
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        m.load_state_dict(d)


@pytest.mark.parametrize("path", STRICT_CASES, ids=lambda p: p.stem)
def test_failed_load_leaves_model_unchanged(path):
    fx = Fixture(path)
    m = fx.make_model()
    before = m.state_dict()
    # every tensor valid and different, except the last one has a bad shape
    d = {k: (v + 1.0).astype(np.float32) for k, v in fx.params.items()}
    last = fx.names[-1]
    d[last] = np.zeros(fx.params[last].shape + (2,), dtype=np.float32)
    with pytest.raises(ValueError):
        m.load_state_dict(d)
    after = m.state_dict()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=f"{k} changed by a failed load")


def _make_fixtures_module():
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_check_forgives_last_bit_float_differences_only():
    compare = _make_fixtures_module().compare
    grad = np.array([0.25, -1e-3, 3e-17])
    ints = np.array([[1, 2], [3, 4]])
    old = {"grad": grad, "x": ints, "w": np.float32([0.5, 2.0])}
    # Another CPU's PyTorch kernels: float64 sums differing by 2.8e-17, as the audit saw on AVX2.
    problems, worst = compare(old, dict(old, grad=grad + 2.8e-17))
    assert problems == [] and worst == pytest.approx(2.8e-17)
    assert compare(old, dict(old, grad=grad * (1 + 1e-9)))[0] == ["grad: max difference 2.5e-10"]
    assert compare(old, dict(old, x=ints + (ints == 4)))[0] == ["x: differs"]
    assert compare(old, dict(old, x=ints.astype(np.int32)))[0]  # dtype
    assert compare(old, dict(old, w=np.float32([0.5, 2.0, 1.0])))[0]  # shape
    assert compare(old, {"grad": grad})[0] == ["keys differ: ['w', 'x']"]
