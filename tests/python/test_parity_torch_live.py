"""Parity with a live PyTorch on random configurations, and weights moving both ways.

Needs torch (CI installs torch==2.13.0). Without torch this module is
skipped on a developer machine, but when the environment variable ``CI`` is
set (to anything but "", "0", "false", "no") a missing torch is an error:
every test here fails with a message saying so, because a silently skipped
parity suite in CI would prove nothing.

What is checked, for several seeds (random V, embedding E or one-hot, H,
1-3 layers, B, T, LSTM or GRU):

* lstmininet's own random init is copied into torch; torch computes the
  reference in float64 from those float32 weights; then
  logits max abs error <= 1e-5, loss abs error <= 1e-5 and, for every
  parameter gradient, rel_err <= 1e-4 where
  rel_err = max|ours - ref| / max(max|ref|, 1e-6)  (per tensor).
* the other direction: torch's default init is loaded into lstmininet and
  compared the same way.
* ``state_dict()`` goes into ``torch.nn.Module.load_state_dict(strict=True)``
  as-is (via ``torch.from_numpy``) and back into lstmininet unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ci_env import in_ci

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the environment
    torch = None
    _TORCH_IMPORT_ERROR = exc
else:
    _TORCH_IMPORT_ERROR = None

_IN_CI = in_ci()

if torch is None and not _IN_CI:
    pytest.skip(f"torch not installed ({_TORCH_IMPORT_ERROR}); CI is not set", allow_module_level=True)


@pytest.fixture(autouse=True)
def _require_torch():
    if torch is None:
        pytest.fail(
            f"CI is set but torch cannot be imported ({_TORCH_IMPORT_ERROR}); "
            "the PyTorch parity suite must run in CI: pip install torch==2.13.0",
            pytrace=False,
        )


FIXTURE_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "make_fixtures.py"
LOGITS_ATOL = 1e-5
LOSS_ATOL = 1e-5
GRAD_RTOL = 1e-4


def rel_err(ours, ref) -> float:
    """max|ours - ref| / max(max|ref|, 1e-6), computed in float64."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(ours - ref)) / max(float(np.max(np.abs(ref))), 1e-6))


def random_config(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return dict(
        cell=("lstm", "gru")[seed % 2],  # both cells, whatever the draws
        V=int(rng.integers(2, 41)),
        E=int(rng.choice([0, int(rng.integers(1, 17))])),
        H=int(rng.integers(1, 33)),
        L=int(rng.integers(1, 4)),
        B=int(rng.integers(1, 6)),
        T=int(rng.integers(1, 13)),
    )


SEEDS = list(range(10))
# a long sequence too: errors that accumulate through time show up here
LONG = [dict(cell="lstm", V=30, E=16, H=24, L=2, B=2, T=60), dict(cell="gru", V=30, E=0, H=24, L=2, B=2, T=60)]
# three GRU layers are not among the draws above
EXTRA = [dict(cell="gru", V=12, E=5, H=7, L=3, B=3, T=9)]
CONFIGS = [random_config(s) for s in SEEDS] + LONG + EXTRA


def cfg_id(c: dict) -> str:
    return f"{c['cell']}-V{c['V']}-E{c['E']}-H{c['H']}-L{c['L']}-B{c['B']}-T{c['T']}"


def make_torch_model(c: dict):
    """The same reference model the fixture script saves (one definition)."""
    return _fixture_script().build_model(torch, c["cell"], c["V"], c["E"], c["H"], c["L"])


def _fixture_script():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_lmn_model(c: dict, seed: int = 0):
    import lstmininet

    cls = {"lstm": lstmininet.LSTM, "gru": lstmininet.GRU}[c["cell"]]
    return cls(
        c["V"],
        hidden_size=c["H"],
        num_layers=c["L"],
        embedding_dim=c["E"] if c["E"] > 0 else None,
        dropout=0.0,
        seed=seed,
    )


def torch_reference(c: dict, params: dict, inputs: np.ndarray, targets: np.ndarray):
    """float64 torch logits, loss and grads for float32 ``params`` (numpy)."""
    model = make_torch_model(c)
    model.load_state_dict(
        {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in params.items()}, strict=True
    )
    model = model.double()
    x = torch.from_numpy(inputs.astype(np.int64))
    y = torch.from_numpy(targets.astype(np.int64))
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, c["V"]), y.reshape(-1))
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in model.named_parameters()}
    return logits.detach().numpy(), loss.item(), grads


def random_batch(c: dict, seed: int):
    rng = np.random.default_rng(1000 + seed)
    inputs = rng.integers(0, c["V"], size=(c["B"], c["T"]), dtype=np.int64)
    targets = rng.integers(0, c["V"], size=(c["B"], c["T"]), dtype=np.int64)
    return inputs, targets


def compare(m, c: dict, params: dict, inputs, targets):
    ref_logits, ref_loss, ref_grads = torch_reference(c, params, inputs, targets)

    logits = np.asarray(m.forward(inputs))
    assert logits.shape == (c["B"], c["T"], c["V"])
    err = float(np.max(np.abs(logits.astype(np.float64) - ref_logits)))
    assert err <= LOGITS_ATOL, f"logits max abs error {err:.3e} > {LOGITS_ATOL}"

    loss, grads = m.loss_and_grads(inputs, targets)
    assert abs(float(loss) - ref_loss) <= LOSS_ATOL, f"loss {loss!r} vs torch {ref_loss!r}"
    assert set(grads) == set(ref_grads), (sorted(grads), sorted(ref_grads))
    failures = []
    for name, ref in ref_grads.items():
        g = np.asarray(grads[name])
        assert g.shape == ref.shape, (name, g.shape, ref.shape)
        e = rel_err(g, ref)
        if not e <= GRAD_RTOL:
            failures.append(f"{name}: rel_err {e:.3e}")
    assert not failures, f"gradient mismatch (tolerance {GRAD_RTOL:g}): {'; '.join(failures)}"


@pytest.mark.parametrize("c", CONFIGS, ids=cfg_id)
def test_lstmininet_init_into_torch(c):
    m = make_lmn_model(c, seed=c["V"] * 31 + c["H"])
    params = m.state_dict()
    expected = make_torch_model(c).state_dict()
    assert set(params) == set(expected)
    for k, v in params.items():
        assert tuple(v.shape) == tuple(expected[k].shape), (k, v.shape, tuple(expected[k].shape))
    compare(m, c, params, *random_batch(c, c["V"]))


@pytest.mark.parametrize("c", [CONFIGS[0], CONFIGS[1], LONG[1]], ids=cfg_id)
def test_torch_init_into_lstmininet(c):
    torch.manual_seed(1234)
    tm = make_torch_model(c)
    params = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    m = make_lmn_model(c, seed=99)
    m.load_state_dict(params)
    compare(m, c, params, *random_batch(c, 7))


@pytest.mark.parametrize("c", [CONFIGS[2], CONFIGS[3]], ids=cfg_id)
def test_state_dict_round_trip_through_torch(c):
    m = make_lmn_model(c, seed=5)
    sd = m.state_dict()
    # what a user would write: numpy arrays straight into a torch module, strict
    tm = make_torch_model(c)
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    back = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    for k in sd:
        np.testing.assert_array_equal(back[k], sd[k], err_msg=k)
    # and back into a fresh lstmininet model
    m2 = make_lmn_model(c, seed=6)
    m2.load_state_dict(back)
    sd2 = m2.state_dict()
    assert set(sd2) == set(sd)
    for k in sd:
        np.testing.assert_array_equal(sd2[k], sd[k], err_msg=k)
    inputs, _ = random_batch(c, 3)
    np.testing.assert_array_equal(np.asarray(m2.forward(inputs)), np.asarray(m.forward(inputs)))
    # torch in float32 agrees with lstmininet on the logits, too
    with torch.no_grad():
        t_logits = tm(torch.from_numpy(inputs)).numpy()
    assert float(np.max(np.abs(t_logits - np.asarray(m.forward(inputs))))) <= LOGITS_ATOL
