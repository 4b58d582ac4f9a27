"""Bad input at the model layer, on both backends: one clear error naming the
argument, the expected and the actual value."""
import numpy as np
import pytest

import jitprop
from jitprop import CrossEntropy, Hinge, Linear, MeanSquareError, Network, SoftMax

from conftest import BACKENDS


def net_for(backend):
    return jitprop.mlp([4, 3, 2], "sigmoid", "sigmoid", 0.5, seed=0, backend=backend)


X = np.ones((5, 4))
Y = np.zeros(5, np.int64)

CASES = [
    ("forward wrong width", lambda b: net_for(b).forward(np.ones((5, 3))), ValueError, r"x_in: expected shape \(N, 4\), got \(5, 3\)"),
    ("forward 1-D", lambda b: net_for(b).forward(np.ones(4)), ValueError, r"x_in: expected a 2-D array \(batch first\)"),
    ("forward int", lambda b: net_for(b).forward(np.ones((5, 4), np.int64)), TypeError, r"x_in: expected dtype float64, got int64"),
    ("forward float32 into float64", lambda b: net_for(b).forward(np.ones((5, 4), np.float32)), TypeError, r"expected dtype float64, got float32; convert"),
    ("forward object", lambda b: net_for(b).forward(np.array([[None] * 4])), TypeError, r"x_in: expected dtype float64, got object"),
    ("forward list", lambda b: net_for(b).forward([[1.0] * 4]), TypeError, r"x_in: expected a numpy array of float64, got list"),
    ("forward NaN", lambda b: net_for(b).forward(np.full((2, 4), np.nan)), ValueError, r"x_in: expected finite values, got nan at index \(0, 0\)"),
    ("forward empty", lambda b: net_for(b).forward(np.ones((0, 4))), ValueError, r"x_in: expected at least one row"),
    ("cost zero width", lambda b: MeanSquareError(backend=b).estimate(np.ones((3, 0)), np.ones((3, 0))), ValueError, r"prediction: expected a non-empty array, got shape \(3, 0\)"),
    ("backward before forward", lambda b: Linear(4, 3, backend=b).backward(np.ones((2, 3))), RuntimeError, r"call forward first"),
    ("backward wrong shape", lambda b: (lambda n: (n.forward(X), n.backward(np.ones((5, 3)))))(net_for(b)), ValueError, r"d_out: expected shape \(5, 2\), got \(5, 3\)"),
    ("cost shape mismatch", lambda b: MeanSquareError(backend=b).estimate(np.ones((4, 2)), np.ones((5, 2))), ValueError, r"target and prediction: expected the same shape, got \(4, 2\) and \(5, 2\)"),
    ("cost inf", lambda b: MeanSquareError(backend=b).estimate(np.ones((1, 2)), np.array([[np.inf, 0.0]])), ValueError, r"prediction: expected finite values"),
    ("gradient before estimate", lambda b: CrossEntropy(backend=b).gradient(), RuntimeError, r"call estimate\(target, prediction\) first"),
    ("cross-entropy negative target", lambda b: CrossEntropy(backend=b).estimate(-np.ones((1, 2)), np.ones((1, 2))), ValueError, r"target: expected non-negative"),
    ("hinge target not +-1", lambda b: Hinge(backend=b).estimate(np.zeros((1, 2)), np.ones((1, 2))), ValueError, r"target: expected hinge targets in \{-1, \+1\}"),
    ("negative lr", lambda b: net_for(b).update_parameters(-0.1), ValueError, r"learning_rate: expected a number >= 0.0, got -0.1"),
    ("nan lr", lambda b: net_for(b).update_parameters(float("nan")), ValueError, r"learning_rate: expected a finite number, got nan"),
    ("unknown backend", lambda b: Linear(4, 3, backend="gpu"), ValueError, r"backend: expected one of \('numba', 'numpy'\), got 'gpu'"),
    ("bad dtype", lambda b: Linear(4, 3, dtype=np.int32, backend=b), ValueError, r"dtype: expected float64 or float32"),
    ("zero width", lambda b: Linear(0, 3, backend=b), ValueError, r"n_in: expected an integer >= 1, got 0"),
    ("mismatched layers", lambda b: Network([Linear(4, 3, backend=b), Linear(2, 1)]), ValueError, r"outputs 3 features but the next Linear\(2, 1\) expects 2"),
    ("label out of range", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, np.full(5, 7), progress=False), ValueError, r"y_train: expected labels in 0..1, got 7"),
    ("labels wrong count", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, np.zeros(4, np.int64), progress=False), ValueError, r"y_train: expected 5 rows"),
    ("batch size zero", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=0, progress=False), ValueError, r"batch_size: expected an integer >= 1, got 0"),
    ("batch larger than data", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=6, progress=False), ValueError, r"batch_size: expected at most the number of training rows \(5\), got 6"),
    ("zero lr in train", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, learning_rate=0.0, progress=False), ValueError, r"lr: expected a number > 0.0"),
    ("unknown impl", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, impl="gpu", progress=False), ValueError, r"impl: expected one of"),
    ("lr and optimizer", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, learning_rate=0.1, optimizer=jitprop.SGD(0.1), progress=False), ValueError, r"learning_rate: give it to the optimizer"),
    ("not an optimizer", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, optimizer="adam", progress=False), TypeError, r"optimizer: expected a jitprop optimizer"),
    ("adam beta1 out of range", lambda b: jitprop.Adam(beta1=1.0), ValueError, r"beta1: expected a number in \[0, 1\), got 1.0"),
    ("nesterov without momentum", lambda b: jitprop.SGD(0.1, nesterov=True), ValueError, r"nesterov: Nesterov momentum needs momentum > 0"),
    ("y_val without x_val", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, y_val=Y, progress=False), ValueError, r"x_val: y_val was given without it"),
    ("y_val wrong length", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, X, Y[:3], batch_size=5, progress=False), ValueError, r"y_val: expected 5 labels \(one per row of x_val\), got 3"),
    ("seed negative", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, seed=-1, progress=False), ValueError, r"seed: expected a non-negative integer, got -1"),
    ("seed float", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, seed=1.5, progress=False), ValueError, r"seed: expected a non-negative integer, got 1.5"),
    ("bad rng_state", lambda b: jitprop.train(net_for(b), MeanSquareError(), X, Y, batch_size=5, rng_state={"x": 1}, progress=False), ValueError, r"rng_state: expected the state of a numpy PCG64 generator"),
    ("Linear rng not a generator", lambda b: Linear(4, 3, rng="42"), TypeError, r"rng: expected a numpy.random.Generator or a non-negative int seed"),
    ("accuracy negative batch", lambda b: jitprop.accuracy(net_for(b), X, Y, batch_size=-5), ValueError, r"batch_size: expected an integer >= 1, got -5"),
    ("accuracy one-hot wrong width", lambda b: jitprop.accuracy(net_for(b), X, np.zeros((5, 3))), ValueError, r"labels: expected labels \(N,\) or rows of 2 class scores, got shape \(5, 3\)"),
    ("accuracy one-hot NaN", lambda b: jitprop.accuracy(net_for(b), X, np.full((5, 2), np.nan)), ValueError, r"labels: expected finite class scores"),
    ("cross-entropy negative prediction", lambda b: CrossEntropy(backend=b).estimate(np.ones((1, 2)), -np.ones((1, 2))), ValueError, r"prediction: expected probabilities"),
    ("not a network", lambda b: jitprop.train(Linear(4, 2), MeanSquareError(), X, Y, progress=False), TypeError, r"net: expected a jitprop Network, got Linear"),
    ("not a cost", lambda b: jitprop.train(net_for(b), "mse", X, Y, progress=False), TypeError, r"cost: expected a jitprop Cost"),
    ("fused with hinge", lambda b: jitprop.train(net_for(b), Hinge(), X, Y, batch_size=5, impl="fused", progress=False), ValueError, r"impl: fused trains plain MLPs only; the cost must be MeanSquareError"),
    ("softmax with mse fused", lambda b: jitprop.train(jitprop.mlp([4, 2], output="softmax", backend=b), MeanSquareError(), X, Y, batch_size=5, impl="fused", progress=False), ValueError, r"impl: fused trains plain MLPs only; the cost must be"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, call, exc, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, call, exc, match, backend):
    with pytest.raises(exc, match=match):
        call(backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_input_is_copied_not_rejected(backend):
    net = net_for(backend)
    x = np.asfortranarray(np.random.default_rng(0).standard_normal((5, 4)))
    np.testing.assert_allclose(net.forward(x), net.forward(np.ascontiguousarray(x)))


def test_finite_values_whose_sum_overflows_are_accepted_and_non_finite_ones_named():
    # check_array first sums the array (a finite sum: every value finite);
    # a sum that overflows must not be taken for a non-finite value.
    from jitprop.checks import check_array
    big = np.full((4, 3), 3e38, np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(big.sum())
    assert check_array("x", big, np.float32) is big
    big[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"x: expected finite values, got inf at index \(2, 1\)"):
        check_array("x", big, np.float32)
