"""Assignment 1's functions: gradients by finite differences, the examples'
gradients, dtypes and bad input. The notebook's printed examples, with its
own inputs, are in test_seed_examples.py."""
import numpy as np
import pytest

from jitprop import functional as F

from conftest import numeric_grad


def test_relu_grad_input_on_the_notebooks_example():
    x_input = np.array([[1, -0.5], [0.3, 0.1]])
    np.testing.assert_array_equal(F.relu_grad_input(x_input, np.array([[5, 6], [7, 8]])), [[5, 0], [7, 8]])


def test_hinge_grad_input_on_the_notebooks_example():
    # margins 1 - pred * true = 3, -4, -2, 0.5: -true / 4 where positive
    target_pred, target_true = np.array([2, -5, 3, 0.5]), np.array([-1, -1, 1, 1])
    np.testing.assert_array_equal(F.hinge_grad_input(target_pred, target_true), [0.25, 0, 0, -0.25])


def test_l2_takes_an_array_of_scalar_weights_or_a_list_of_arrays():
    assert F.l2_regularizer(2, np.array([5, 3, 7, 5, 0.5])) == 108.25
    assert F.l2_regularizer(2, [5, 3, 7, 5, 0.5]) == 108.25
    assert F.l2_regularizer(0.5, [np.ones((2, 3)), np.full(4, 2.0)]) == 0.25 * (6 + 16)


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


def test_float32_inputs_give_float32_results(rng):
    pred32 = rng.standard_normal((5, 2)).astype(np.float32)
    true32 = np.sign(rng.standard_normal((5, 2))).astype(np.float32)
    assert F.hinge_grad_input(pred32, true32).dtype == np.float32
    assert F.mse_grad_input(pred32, true32).dtype == np.float32
    assert F.relu_forward(pred32).dtype == F.relu_grad_input(pred32, pred32).dtype == np.float32
    mask = F.dropout_generate_mask((5, 2), 0.5, rng=rng)  # float64, binary: takes the input's dtype
    assert F.dropout_forward(pred32, mask, 0.5, True).dtype == np.float32
    assert F.dropout_forward(pred32, mask, 0.5, False).dtype == np.float32
    assert F.dropout_grad_input(pred32, pred32, mask).dtype == np.float32


@pytest.mark.parametrize("call, match", [
    (lambda: F.dense_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2)), r"W: expected shape \(3, n_out\)"),
    (lambda: F.dense_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)), r"b: expected shape \(2,\)"),
    (lambda: F.dense_forward(np.ones(3), np.ones((3, 2)), np.ones(2)), r"x_input: expected a 2-D array"),
    (lambda: F.hinge_forward(np.ones(3), np.ones(4)), r"target_pred and target_true: expected the same shape"),
    (lambda: F.mse_forward(np.array([np.nan, 1.0]), np.ones(2)), r"target_pred: expected finite values"),
    (lambda: F.dropout_generate_mask((2, 2), 1.5), r"drop_rate: expected a number in \[0, 1\)"),
    (lambda: F.dropout_generate_mask((-1, 3), 0.5), r"shape: expected a tuple of positive integers, got \(-1, 3\)"),
    (lambda: F.dropout_generate_mask("ab", 0.5), r"shape: expected a tuple of positive integers, got 'ab'"),
    (lambda: F.dropout_generate_mask(None, 0.5), r"shape: expected a tuple of positive integers, got None"),
    # issue 15: drop_rate 1.5 returned -0.5 * x_input
    (lambda: F.dropout_forward(np.ones((2, 2)), np.ones((2, 2)), 1.5, False), r"drop_rate: expected .* got 1.5"),
    (lambda: F.dropout_forward(np.ones((2, 2)), np.ones((2, 2)), 1.5, True), r"drop_rate: expected .* got 1.5"),
    (lambda: F.dropout_forward(np.ones((2, 2)), np.ones((2, 2)), 0.5, "yes"), r"training_phase: expected True or"),
    (lambda: F.l2_regularizer(0.1, 3.0), r"weights: expected a list of arrays or an array, got float"),
    (lambda: F.l2_regularizer(0.1, [np.ones(2), np.array(["a"])]), r"weights\[1\]: expected numbers"),
    (lambda: F.l2_regularizer(-1, [np.ones(2)]), r"weight_decay: expected a number >= 0"),
    (lambda: F.relu_forward(np.array(["a"])), r"x_input: expected a numeric array"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
