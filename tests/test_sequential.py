"""jitprop.sequential: Assignment 1's classes on the compiled kernels,
checked against the NumPy twins, Assignment 1's functions and finite
differences. (The notebook's own cells and printed examples are in
test_seed_examples.py.)"""
import numpy as np
import pytest

import jitprop.functional
import jitprop.sequential as S
from jitprop.sequential import (MSE, SGD, Dense, Dropout, Hinge, Layer, Loss, Optimizer, ReLU, SequentialNN,
                                dense_forward, dense_grad_b, dense_grad_input, dense_grad_W, hinge_forward,
                                hinge_grad_input, mse_forward, mse_grad_input, relu_forward, relu_grad_input)

from conftest import BACKENDS, numeric_grad

ASSIGNMENT_1_NAMES = {
    "Layer", "Dense", "ReLU", "Dropout", "SequentialNN", "Loss", "Hinge", "MSE", "Optimizer", "SGD",
    "dense_forward", "dense_grad_input", "dense_grad_W", "dense_grad_b", "relu_forward", "relu_grad_input",
    "hinge_forward", "hinge_grad_input", "l2_regularizer", "dropout_generate_mask", "dropout_forward",
    "dropout_grad_input", "mse_forward", "mse_grad_input"}


@pytest.fixture
def global_seed():
    """Seed NumPy's global generator (Assignment 1 draws from it) and put
    its state back afterwards."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)


def circles():
    """Assignment 1's circles data: X (200, 2), Y (200, 1) in {-1, +1}."""
    phi = np.linspace(0.0, np.pi * 2, 100)
    X = np.hstack([1.1 * np.array([np.sin(phi), np.cos(phi)]), 3.0 * np.array([np.sin(phi), np.cos(phi)])]).T
    return X, np.concatenate([np.ones(100), -np.ones(100)]).reshape((-1, 1))


def test_star_import_brings_exactly_assignment_1s_names():
    ns = {}
    exec("from jitprop.sequential import *", ns)
    assert set(ns) - {"__builtins__"} == ASSIGNMENT_1_NAMES  # np is not among them
    assert set(S.__all__) == ASSIGNMENT_1_NAMES


def test_functional_is_the_same_functions():
    for name in jitprop.functional.__all__:
        assert getattr(jitprop.functional, name) is getattr(S, name)


# ------------------------------------------------------------------- Dense

def test_dense_draws_w_as_assignment_1(global_seed):
    np.random.seed(7)
    want = np.random.normal(size=(3, 4))
    np.random.seed(7)
    d = Dense(3, 4)
    np.testing.assert_array_equal(d.W, want)
    assert d.W.shape == d.grad_W.shape == (3, 4) and d.b.shape == d.grad_b.shape == (4,)
    np.testing.assert_array_equal(d.b, np.zeros(4))
    assert d.get_params()[0].shape == (3, 4) and d.get_params_gradients()[1].shape == (4,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place_updates_of_get_params_reach_the_kernels(backend, rng):
    d = Dense(3, 2, backend=backend, rng=rng)
    x = rng.standard_normal((5, 3))
    W, b = d.get_params()
    np.subtract(W, 0.5, out=W)          # as Assignment 1's SGD writes
    np.subtract(b, -1.0, out=b)
    np.testing.assert_allclose(d.forward(x), x @ W + b, rtol=1e-13)
    np.testing.assert_array_equal(d.W, W)
    d.W = np.ones((3, 2))               # assignment copies into the same buffer
    assert np.shares_memory(d.W, W)
    np.testing.assert_allclose(d.forward(x), x @ np.ones((3, 2)) + b, rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_backward_overwrites_the_gradients(backend, rng):
    # the kernel accumulates; Assignment 1's Dense overwrites grad_W/grad_b
    d = Dense(4, 3, backend=backend, rng=rng)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    for _ in range(2):
        d_in = d.backward(x, g)
    np.testing.assert_allclose(d.grad_W, dense_grad_W(x, g, d.W, d.b), rtol=1e-12)
    np.testing.assert_allclose(d.grad_b, dense_grad_b(x, g, d.W, d.b), rtol=1e-12)
    np.testing.assert_allclose(d_in, dense_grad_input(x, g, d.W, d.b), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows", [1, 3, 40])  # the kernels switch from loops to BLAS between these
def test_layers_and_losses_match_assignment_1s_functions(backend, rows, rng):
    # Same formulas, different summation order (kernel loops or BLAS, FMA):
    # a few ulps apart, so rtol 1e-12.
    d = Dense(5, 3, backend=backend, rng=rng)
    x, g = rng.standard_normal((rows, 5)), rng.standard_normal((rows, 3))
    np.testing.assert_allclose(d.forward(x), dense_forward(x, d.W, d.b), rtol=1e-12)
    relu = ReLU(backend=backend)
    np.testing.assert_array_equal(relu.forward(g), relu_forward(g))
    np.testing.assert_array_equal(relu.backward(g, x[:, :3]), relu_grad_input(g, x[:, :3]))
    for shape in [(rows,), (rows, 1), (rows, 4)]:
        pred, true = rng.standard_normal(shape), np.sign(rng.standard_normal(shape))
        assert Hinge(backend=backend).forward(pred, true) == pytest.approx(hinge_forward(pred, true), rel=1e-12)
        np.testing.assert_array_equal(Hinge(backend=backend).backward(pred, true), hinge_grad_input(pred, true))
        assert MSE(backend=backend).forward(pred, true) == pytest.approx(mse_forward(pred, true), rel=1e-12)
        np.testing.assert_allclose(MSE(backend=backend).backward(pred, true), mse_grad_input(pred, true),
                                   rtol=1e-15)
        assert Hinge(backend=backend).backward(pred, true).shape == shape


def test_hinge_and_mse_take_1d_and_column_inputs_alike(rng):
    pred, true = rng.standard_normal(8), np.sign(rng.standard_normal(8))
    for loss in (Hinge(), MSE()):
        assert loss.forward(pred, true) == loss.forward(pred[:, None], true[:, None])
        assert loss.output == loss.forward(pred, true)
        np.testing.assert_array_equal(loss.backward(pred, true)[:, None], loss.backward(pred[:, None], true[:, None]))


# ------------------------------------------------------ finite differences

@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_backward_by_finite_differences(backend, rng):
    d = Dense(3, 2, backend=backend, rng=rng)
    d.b = rng.standard_normal(2)
    x, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    loss = lambda: float((v * d.forward(x)).sum())  # noqa: E731  dL/d(output) = v
    num_x, num_W, num_b = numeric_grad(loss, x), numeric_grad(loss, d.W), numeric_grad(loss, d.b)
    d_in = d.backward(x, v)
    np.testing.assert_allclose(d_in, num_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d.grad_W, num_W, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d.grad_b, num_b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_and_test_phase_dropout_backward_by_finite_differences(backend, rng):
    x, v = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    x[np.abs(x) < 0.01] = 0.5  # keep off ReLU's kink
    relu = ReLU(backend=backend)
    np.testing.assert_allclose(relu.backward(x, v), numeric_grad(lambda: float((v * relu.forward(x)).sum()), x),
                               rtol=1e-6, atol=1e-8)
    drop = Dropout(0.3, backend=backend)
    drop.training_phase = False
    np.testing.assert_allclose(drop.backward(x, v), numeric_grad(lambda: float((v * drop.forward(x)).sum()), x),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(6,), (6, 1), (6, 3)])
def test_losses_backward_by_finite_differences(backend, shape, rng):
    true = np.sign(rng.standard_normal(shape))
    pred = rng.standard_normal(shape) * 3
    pred[np.abs(1 - pred * true) < 0.1] += 0.5  # keep margins off the hinge's kink
    for loss in (Hinge(backend=backend), MSE(backend=backend)):
        np.testing.assert_allclose(loss.backward(pred, true), numeric_grad(lambda: loss.forward(pred, true), pred),
                                   rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------ the network

def train(backend, steps, dtype=np.float64, seed=3):
    """``steps`` of Assignment 1's circles loop; returns the parameters and
    the losses."""
    X, Y = circles()
    np.random.seed(seed)
    model = SequentialNN(backend=backend)
    for layer in (Dense(2, 16, dtype=dtype), ReLU(), Dense(16, 8, dtype=dtype), ReLU(), Dropout(0.1),
                  Dense(8, 1, dtype=dtype)):
        model.add(layer)
    loss, sgd = Hinge(backend=backend), SGD(model, lr=0.1, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        y_pred = model.forward(X.astype(dtype))
        losses.append(loss.forward(y_pred, Y))
        model.backward(X.astype(dtype), loss.backward(y_pred, Y))
        sgd.update_params()
    return model.get_params(), losses


def test_compiled_kernels_train_as_their_numpy_twins(global_seed):
    # Same seed, same masks, same formulas: the backends differ only in the
    # order of the sums in each product (BLAS or kernel loops, fused
    # multiply-adds), a few ulps per step; 20 steps of this small net stay
    # near 1e-15 (observed 6e-16), so rtol 1e-12, and atol for entries near 0.
    compiled, losses_c = train("numba", 20)
    twins, losses_t = train("numpy", 20)
    assert losses_c[-1] < 0.5 * losses_c[0]
    np.testing.assert_allclose(losses_c, losses_t, rtol=1e-12)
    for c, t in zip(compiled, twins):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-14)


def test_float32_stays_float32(global_seed):
    p32, losses32 = train("numba", 3, np.float32)
    p64, losses64 = train("numba", 3, np.float64)
    assert all(p.dtype == np.float32 for p in p32)
    for a, b in zip(p32, p64):  # float32 rounding over 3 steps
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    relu, hinge = ReLU(), Hinge()
    x = np.ones((2, 3), np.float32)
    assert relu.forward(x).dtype == relu.backward(x, x).dtype == np.float32
    assert hinge.backward(x, np.ones((2, 3))).dtype == np.float32  # float64 targets follow the predictions


def test_sequential_backend_is_handed_to_its_layers():
    model = SequentialNN(backend="numpy")
    model.add(Dense(2, 3))
    model.add(ReLU())
    assert [l.backend for l in model.layers] == ["numpy", "numpy"]
    model.backend = "numba"
    assert [l.backend for l in model.layers] == ["numba", "numba"]
    mixed = SequentialNN()  # None: each layer keeps its own
    mixed.add(Dense(2, 3, backend="numpy"))
    mixed.add(ReLU())
    assert [l.backend for l in mixed.layers] == ["numpy", "numba"]


def test_sgd_is_assignment_1s_update_in_place(rng):
    model = SequentialNN()
    model.add(Dense(3, 2, rng=rng))
    x = rng.standard_normal((4, 3))
    model.forward(x)
    model.backward(x, rng.standard_normal((4, 2)))
    before = [p.copy() for p in model.get_params()]
    grads = [g.copy() for g in model.get_params_gradients()]
    arrays = model.get_params()
    SGD(model, lr=0.1, weight_decay=0.01).update_params()
    for w, w0, dw, now in zip(arrays, before, grads, model.get_params()):
        np.testing.assert_array_equal(w, w0 - (0.1 * dw + 0.01 * w0))  # to the bit
        assert np.shares_memory(w, now)


def test_a_users_layer_runs_and_trains_in_a_sequential():
    class Scale(Layer):  # written as Assignment 1 writes layers
        def __init__(self):
            super().__init__()
            self.a = np.array([2.0])
            self.grad_a = np.zeros(1)

        def forward(self, x_input):
            self.output = self.a * x_input
            return self.output

        def backward(self, x_input, grad_output):
            self.grad_a = np.array([(grad_output * x_input).sum()])
            return self.a * grad_output

        def get_params(self):
            return [self.a]

        def get_params_gradients(self):
            return [self.grad_a]

    model = SequentialNN()
    model.add(Scale())
    model.add(Dense(1, 1, rng=np.random.default_rng(0)))
    x, y = np.ones((4, 1)), np.full((4, 1), 3.0)
    loss, sgd = MSE(), SGD(model, lr=0.05)
    first = loss.forward(model.forward(x), y)
    for _ in range(50):
        pred = model.forward(x)
        model.backward(x, loss.backward(pred, y))
        sgd.update_params()
    assert model.layers[0].a[0] != 2.0
    assert loss.forward(model.forward(x), y) < 1e-3 * first


def test_dropout_masks_come_from_the_global_generator_and_test_phase_scales(global_seed):
    x = np.ones((50, 20))
    np.random.seed(1)
    want = S.dropout_generate_mask(x.shape, 0.25)
    np.random.seed(1)
    drop = Dropout(0.25)
    np.testing.assert_array_equal(drop.forward(x), want)
    np.testing.assert_array_equal(drop.backward(x, 2 * x), 2 * want)
    model = SequentialNN()
    model.add(drop)
    model.set_training_phase(False)
    assert drop.training_phase is False
    np.testing.assert_array_equal(model.forward(x), 0.75 * x)


def test_base_classes_are_assignment_1s():
    layer, loss = Layer(), Loss()
    assert layer.training_phase is True and layer.output == 0.0 and loss.output == 0.0
    x = np.arange(3.0)
    assert layer.forward(x) is x and layer.backward(x, 2 * x)[1] == 2.0
    assert layer.get_params() == [] and layer.get_params_gradients() == []
    np.testing.assert_array_equal(loss.backward(x, x), np.zeros(3))
    opt = Optimizer(SequentialNN())
    assert (opt.lr, opt.weight_decay, opt.update_params()) == (0.01, 0.0, None)


# -------------------------------------------------------------- bad input

def _net():
    model = SequentialNN()
    model.add(Dense(2, 3))
    return model


@pytest.mark.parametrize("call, error, match", [
    (lambda: Dense(0, 3), ValueError, r"n_input: expected an integer >= 1, got 0"),
    (lambda: Dense(2, 2.5), ValueError, r"n_output: expected an integer >= 1, got 2.5"),
    (lambda: Dense(2, 3, backend="jax"), ValueError, r"backend: expected one of \('numba', 'numpy'\), got 'jax'"),
    (lambda: Dense(2, 3, dtype=np.int32), ValueError, r"dtype: expected float64 or float32"),
    (lambda: Dense(2, 3).forward(np.ones((4, 5))), ValueError,
     r"Dense\(2, 3\)\.forward: x_input: expected shape \(N, 2\), got \(4, 5\)"),
    (lambda: Dense(2, 3).forward(np.ones(2)), ValueError, r"x_input: expected a 2-D array .* shape \(2,\)"),
    (lambda: Dense(2, 3).forward(np.ones((4, 2), np.float32)), TypeError,
     r"x_input: expected dtype float64, got float32; convert it"),
    (lambda: Dense(2, 3).backward(np.ones((4, 2)), np.ones((4, 2))), ValueError,
     r"Dense\(2, 3\)\.backward: grad_output: expected shape \(4, 3\), got \(4, 2\)"),
    (lambda: setattr(Dense(2, 3), "W", np.ones((3, 2))), ValueError, r"W: expected shape \(2, 3\), got \(3, 2\)"),
    (lambda: ReLU().forward(np.array(["a"])), TypeError, r"x_input: expected an array of numbers"),
    (lambda: ReLU().forward(np.array([np.nan])), ValueError, r"x_input: expected finite values"),
    (lambda: ReLU().backward(np.ones((2, 2)), np.ones((2, 3))), ValueError, r"grad_output: expected shape \(2, 2\)"),
    (lambda: Dropout(1.5), ValueError, r"drop_rate: expected a number in \[0, 1\), got 1.5"),
    (lambda: Dropout(-0.1), ValueError, r"drop_rate: expected a number >= 0"),
    (lambda: Dropout(0.5).backward(np.ones((2, 2)), np.ones((2, 2))), RuntimeError,
     r"Dropout\(0.5\)\.backward: no training mask"),
    (lambda: Hinge().forward(np.ones(3), np.ones(4)), ValueError,
     r"target_pred and target_true: expected the same shape, got \(3,\) and \(4,\)"),
    (lambda: MSE().backward(np.ones((3, 1)), np.ones(3)), ValueError, r"expected the same shape, got \(3, 1\) and"),
    (lambda: MSE(backend="torch"), ValueError, r"backend: expected one of"),
    (lambda: SGD(_net(), lr=-1), ValueError, r"lr: expected a number > 0.0, got -1"),
    (lambda: SGD(_net(), lr=0), ValueError, r"lr: expected a number > 0.0, got 0"),
    (lambda: SGD(_net(), weight_decay=-0.5), ValueError, r"weight_decay: expected a number >= 0.0, got -0.5"),
    (lambda: SGD(object()), TypeError, r"model: expected a model with get_params"),
    (lambda: SequentialNN().add(object()), TypeError, r"layer: expected a Layer .* object without forward"),
    (lambda: SequentialNN(backend="gpu"), ValueError, r"backend: expected one of"),
    (lambda: _net().backward(np.ones((1, 2)), np.ones((1, 3))), RuntimeError, r"call forward first"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_same_layer_twice_is_refused():
    model, relu = SequentialNN(), ReLU()
    model.add(relu)
    with pytest.raises(ValueError, match=r"layer: ReLU\(\) is already in this model"):
        model.add(relu)
