"""The autodiff engine from Python: Tensor arithmetic and gradients."""

import numpy as np
import pytest

import lstmininet as lm
from lstmininet import Tensor

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize


def test_expression_gradients_match_hand_derivatives():
    rng = np.random.default_rng(0)
    a_np, w_np = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    a = Tensor(a_np, requires_grad=True)
    w = Tensor(w_np, requires_grad=True)
    h = (a @ w).tanh()
    loss = (h * h).sum()
    loss.backward()
    h_np = np.tanh(a_np @ w_np)
    dz = 2 * h_np * (1 - h_np**2)
    np.testing.assert_allclose(w.grad, a_np.T @ dz, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.grad, dz @ w_np.T, rtol=1e-5, atol=1e-6)
    assert loss.item() == pytest.approx(float((h_np**2).sum()), rel=1e-5)


def test_scalar_arithmetic_and_fan_out():
    x = Tensor([[2.0]], requires_grad=True)
    y = 3 * x + x * x - 1  # dy/dx = 3 + 2x = 7
    y.backward()
    assert x.grad[0, 0] == pytest.approx(7.0)
    x.zero_grad()
    assert x.grad is None


def test_backward_from_a_non_scalar_takes_its_gradient():
    # As torch.Tensor.backward(gradient): the error for a non-scalar root
    # said to pass one, and backward() took none.
    rng = np.random.default_rng(1)
    a_np, g_np = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    a = Tensor(a_np, requires_grad=True)
    (a * a).backward(g_np)
    np.testing.assert_allclose(a.grad, 2 * a_np * g_np, rtol=1e-5)
    with pytest.raises(ValueError, match=r"backward\(gradient\)"):
        (a * a).backward()
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 2\)"):
        (a * a).backward(np.ones((3, 2)))


def test_losses_and_no_grad():
    p = Tensor([[0.2, 0.8]], requires_grad=True)
    lm.mse_loss(p, np.array([[0.0, 1.0]])).backward()
    np.testing.assert_allclose(p.grad, [[0.2, -0.2]], rtol=1e-5)
    z = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    lm.cross_entropy_loss(z, [2]).backward()
    soft = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(z.grad, [soft - [0, 0, 1]], rtol=1e-5)
    with lm.no_grad():
        q = z * 2
    assert not q.requires_grad


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 2\)"):
        Tensor(np.zeros((2, 3))) + Tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3\) x \(2, 3\)"):
        Tensor(np.zeros((2, 3))) @ Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="scalar"):
        (Tensor(np.ones((2, 2)), requires_grad=True) * 1).backward()
    with pytest.raises(ValueError, match="must be positive"):
        Tensor([[-1.0]], requires_grad=True).log()
