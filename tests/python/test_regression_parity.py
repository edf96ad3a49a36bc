"""Parity of LSTMRegressor/GRURegressor with torch.nn.LSTM/GRU + Linear on float inputs.

Reference tensors: ``tests/fixtures/regression/*.npz``, written by
``tests/fixtures/make_fixtures.py`` (layout in its docstring); sequences of
different lengths, outputs at every step or at the last step, each loss.
Tolerances as in test_parity_fixtures.py: outputs and loss <= 1e-5
absolute, every gradient <= 1e-4 relative (worst error over the tensor's
largest reference magnitude). The fixtures themselves are first checked
against an independent float64 numpy model (forward and finite differences).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

FIXTURE_DIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "regression"
FIXTURES = sorted(FIXTURE_DIR.glob("*.npz"))
OUTPUT_ATOL = 1e-5
LOSS_ATOL = 1e-5
GRAD_RTOL = 1e-4


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(ours - ref)) / max(float(np.max(np.abs(ref))), 1e-6))


class Case:
    def __init__(self, path):
        with np.load(path, allow_pickle=False) as d:
            self.cell = str(d["config.cell"])
            self.F, self.H = int(d["config.input_size"]), int(d["config.hidden_size"])
            self.L, self.O = int(d["config.num_layers"]), int(d["config.output_size"])
            self.many_to_one = bool(d["config.many_to_one"])
            self.loss_name = str(d["config.loss"])
            self.names = [str(n) for n in d["param_names"]]
            self.params = {n: d[n] for n in self.names}
            self.grads = {n: d["grad." + n] for n in self.names}
            self.lengths = [int(n) for n in d["lengths"]]
            self.inputs, self.targets, self.outputs = d["inputs"], d["targets"], d["outputs"]
            self.loss = float(d["loss"])

    @property
    def xs(self):
        return [self.inputs[b, :n] for b, n in enumerate(self.lengths)]

    @property
    def ys(self):
        return list(self.targets) if self.many_to_one else [self.targets[b, :n] for b, n in enumerate(self.lengths)]

    def model(self):
        import lstmininet

        cls = {"lstm": lstmininet.LSTMRegressor, "gru": lstmininet.GRURegressor}[self.cell]
        m = cls(self.F, self.H, self.L, self.O, seed=0, many_to_one=self.many_to_one, loss=self.loss_name)
        m.load_state_dict(self.params)
        return m


@pytest.fixture(params=FIXTURES, ids=lambda p: p.stem)
def case(request) -> Case:
    return Case(request.param)


def test_cases_cover_cells_lengths_and_losses():
    cases = [Case(p) for p in FIXTURES]
    assert {c.cell for c in cases} == {"lstm", "gru"}
    assert any(len(set(c.lengths)) > 1 and not c.many_to_one for c in cases)
    assert any(c.many_to_one for c in cases)
    assert {c.loss_name for c in cases} == {"mse", "mae", "huber", "bce_with_logits"}


# -- an independent float64 numpy reference, to validate the fixtures --------


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_outputs(c: Case, params) -> list[np.ndarray]:
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    H, outs = c.H, []
    for x in c.xs:
        seq = np.asarray(x, np.float64)
        for k in range(c.L):
            w_ih, w_hh = p[f"{c.cell}.weight_ih_l{k}"], p[f"{c.cell}.weight_hh_l{k}"]
            b_ih, b_hh = p[f"{c.cell}.bias_ih_l{k}"], p[f"{c.cell}.bias_hh_l{k}"]
            h, cell, rows = np.zeros(H), np.zeros(H), []
            for t in range(seq.shape[0]):
                gx, gh = w_ih @ seq[t] + b_ih, w_hh @ h + b_hh
                if c.cell == "lstm":  # i, f, g, o
                    a = gx + gh
                    cell = _sigmoid(a[H : 2 * H]) * cell + _sigmoid(a[:H]) * np.tanh(a[2 * H : 3 * H])
                    h = _sigmoid(a[3 * H :]) * np.tanh(cell)
                else:  # r, z, n
                    r, z = _sigmoid(gx[:H] + gh[:H]), _sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
                    h = (1 - z) * np.tanh(gx[2 * H :] + r * gh[2 * H :]) + z * h
                rows.append(h)
            seq = np.stack(rows)
        y = seq @ p["fc.weight"].T + p["fc.bias"]
        outs.append(y[-1:] if c.many_to_one else y)
    return outs


def numpy_loss(c: Case, params) -> float:
    pred = np.concatenate(numpy_outputs(c, params))
    want = np.concatenate([np.asarray(y, np.float64).reshape(-1, c.O) for y in c.ys])
    d = pred - want
    if c.loss_name == "mse":
        return float(np.mean(d**2))
    if c.loss_name == "mae":
        return float(np.mean(np.abs(d)))
    if c.loss_name == "huber":
        return float(np.mean(np.where(np.abs(d) < 1, 0.5 * d**2, np.abs(d) - 0.5)))
    return float(np.mean(np.maximum(pred, 0) - pred * want + np.log1p(np.exp(-np.abs(pred)))))


def test_fixture_matches_numpy_reference(case):
    outs = numpy_outputs(case, case.params)
    for b, o in enumerate(outs):
        ref = case.outputs[b : b + 1] if case.many_to_one else case.outputs[b, : case.lengths[b]]
        np.testing.assert_allclose(ref, o, rtol=0, atol=1e-12)
    assert abs(numpy_loss(case, case.params) - case.loss) < 1e-12


def test_fixture_gradients_match_finite_differences(case):
    rng, eps = np.random.default_rng(0), 1e-6
    for name in case.names:
        base = case.params[name].astype(np.float64)
        for j in rng.choice(base.size, size=min(base.size, 6), replace=False):
            idx = np.unravel_index(j, base.shape)
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            fd = (numpy_loss(case, {**case.params, name: plus}) - numpy_loss(case, {**case.params, name: minus})) / (
                2 * eps
            )
            assert abs(fd - case.grads[name][idx]) < 1e-7, (name, idx, fd, case.grads[name][idx])


# -- lstmininet against the fixtures ---------------------------------------------


def test_state_dict_has_torch_names(case):
    sd = case.model().state_dict()
    assert list(sd) == case.names
    for name in case.names:
        np.testing.assert_array_equal(sd[name], case.params[name], err_msg=name)


def test_outputs(case):
    m = case.model()
    preds = m.predict(case.xs)  # a list of different lengths, batched with padding inside
    if case.many_to_one:
        err = float(np.max(np.abs(np.asarray(preds, np.float64) - case.outputs)))
    else:
        err = max(float(np.max(np.abs(p - case.outputs[b, : case.lengths[b]]))) for b, p in enumerate(preds))
    assert err <= OUTPUT_ATOL, f"outputs max abs error {err:.3e}"
    if len(set(case.lengths)) == 1 and not case.many_to_one:  # a (B, T, F) array gives a (B, T, O) array
        stacked = m.predict(case.inputs)
        assert stacked.shape == case.outputs.shape
        assert float(np.max(np.abs(stacked - case.outputs))) <= OUTPUT_ATOL


def test_loss_and_grads(case):
    m = case.model()
    loss, grads = m.loss_and_grads(case.xs, case.ys)
    assert abs(loss - case.loss) <= LOSS_ATOL, (loss, case.loss)
    bad = [
        f"{n}: {rel_err(grads[n], case.grads[n]):.2e}"
        for n in case.names
        if rel_err(grads[n], case.grads[n]) > GRAD_RTOL
    ]
    assert not bad, f"gradients beyond {GRAD_RTOL:g}: {'; '.join(bad)}"
