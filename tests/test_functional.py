"""Assignment 1's functions: its printed worked examples, and gradients by
finite differences."""
import numpy as np
import pytest

from jitprop import functional as F

from conftest import numeric_grad


def test_dense_forward_example():
    # Inputs chosen to give the printed result [5, -1, 9]:
    # 1*1 + 2*2 = 5, 1*(-1) + 2*0 = -1, 1*3 + 2*3 = 9.
    out = F.dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0, -1.0, 3.0], [2.0, 0.0, 3.0]]), np.zeros(3))
    np.testing.assert_array_equal(out, [[5.0, -1.0, 9.0]])


def test_relu_example():
    np.testing.assert_array_equal(F.relu_forward(np.array([[1.0, -1.0, 2.0, -3.0]])), [[1.0, 0.0, 2.0, 0.0]])
    np.testing.assert_array_equal(F.relu_grad_input(np.array([[1.0, -1.0]]), np.array([[5.0, 7.0]])), [[5.0, 0.0]])


def test_hinge_example():
    # margins 0.5, 1.5, 0 (clipped from -1), 1.5 -> mean 3.5 / 4 = 0.875
    pred, true = np.array([0.5, -0.5, 2.0, 0.5]), np.array([1.0, 1.0, 1.0, -1.0])
    assert F.hinge_forward(pred, true) == 0.875
    np.testing.assert_array_equal(F.hinge_grad_input(pred, true), [-0.25, -0.25, 0.0, 0.25])


def test_l2_example():
    # 0.5 / 2 * (1 + 4 + 9 + 16 + 400 + 1 + 1 + 1) = 0.25 * 433 = 108.25
    weights = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([20.0, 1.0, 1.0, 1.0])]
    assert F.l2_regularizer(0.5, weights) == 108.25


def test_dense_gradients_by_finite_differences(rng):
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    v = rng.standard_normal((4, 2))  # loss = sum(v * dense(x))
    loss = lambda: float((v * F.dense_forward(x, W, b)).sum())
    np.testing.assert_allclose(F.dense_grad_input(x, v, W, b), numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(F.dense_grad_W(x, v, W, b), numeric_grad(loss, W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(F.dense_grad_b(x, v, W, b), numeric_grad(loss, b), rtol=1e-6, atol=1e-8)


def test_mse_and_hinge_gradients_by_finite_differences(rng):
    pred, true = rng.standard_normal(6), rng.standard_normal(6)
    np.testing.assert_allclose(F.mse_grad_input(pred, true), numeric_grad(lambda: F.mse_forward(pred, true), pred),
                               rtol=1e-6, atol=1e-8)
    true = np.sign(rng.standard_normal(6))
    pred = rng.standard_normal(6) * 3  # keep margins away from the kink at 0
    pred[np.abs(1 - pred * true) < 0.1] += 0.5
    np.testing.assert_allclose(F.hinge_grad_input(pred, true), numeric_grad(lambda: F.hinge_forward(pred, true), pred),
                               rtol=1e-6, atol=1e-8)


def test_dropout_mask_forward_and_grad(rng):
    mask = F.dropout_generate_mask((200, 50), 0.3, rng=rng)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(1 - mask.mean() - 0.3) < 0.02
    x = rng.standard_normal((200, 50))
    np.testing.assert_array_equal(F.dropout_forward(x, mask, 0.3, True), x * mask)
    np.testing.assert_allclose(F.dropout_forward(x, mask, 0.3, False), x * 0.7)
    g = rng.standard_normal((200, 50))
    np.testing.assert_array_equal(F.dropout_grad_input(x, g, mask), g * mask)


@pytest.mark.parametrize("call, match", [
    (lambda: F.dense_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2)), r"W: expected shape \(3, n_out\)"),
    (lambda: F.dense_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)), r"b: expected shape \(2,\)"),
    (lambda: F.dense_forward(np.ones(3), np.ones((3, 2)), np.ones(2)), r"x_input: expected a 2-D array"),
    (lambda: F.hinge_forward(np.ones(3), np.ones(4)), r"target_pred and target_true: expected the same shape"),
    (lambda: F.mse_forward(np.array([np.nan, 1.0]), np.ones(2)), r"target_pred: expected finite values"),
    (lambda: F.dropout_generate_mask((2, 2), 1.5), r"drop_rate: expected a number in \[0, 1\)"),
    (lambda: F.relu_forward(np.array(["a"])), r"x_input: expected a numeric array"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
