"""The seed interface of the model layer, on both backends."""
import numpy as np
import pytest

import jitprop
from jitprop import Dropout, Linear, MeanSquareError, Network, ReLU, SGD, Sigmoid, SoftMax

from conftest import BACKENDS, DTYPES


def test_linear_shapes_and_seed_attributes(rng):
    lin = Linear(4, 3, initial_sigma=0.1, rng=rng)
    assert lin.w.shape == (3, 4) and lin.b.shape == (1, 3)
    assert lin.dw.shape == (3, 4) and lin.db.shape == (1, 3)
    assert lin.w.dtype == np.float64
    assert 0.03 < lin.w.std() < 0.3 and (lin.b == 0).all()


def test_np_random_seed_makes_default_init_repeatable():
    np.random.seed(5)
    a = Linear(4, 3).w.copy()
    np.random.seed(5)
    np.testing.assert_array_equal(a, Linear(4, 3).w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_accumulates_until_zero_gradients(backend, rng):
    lin = Linear(4, 3, rng=rng, backend=backend)
    x, d = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    lin.forward(x)
    lin.backward(d)
    once = lin.dw.copy()
    lin.backward(d)
    np.testing.assert_allclose(lin.dw, 2 * once)
    lin.zero_gradients()
    assert (lin.dw == 0).all() and (lin.db == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_update_parameters_is_sgd_with_weight_decay(backend, rng):
    lin = Linear(4, 3, rng=rng, backend=backend)
    lin.forward(rng.standard_normal((2, 4)))
    lin.backward(rng.standard_normal((2, 3)))
    w, dw = lin.w.copy(), lin.dw.copy()
    lin.update_parameters(0.1, 0.01)
    np.testing.assert_allclose(lin.w, w - 0.1 * (dw + 0.01 * w), rtol=1e-14)


def test_network_rehomes_parameters_into_one_buffer(rng):
    l1, l2 = Linear(4, 3, rng=rng), Linear(3, 2, rng=rng)
    w1 = l1.w.copy()
    net = Network([l1, Sigmoid(), l2])
    np.testing.assert_array_equal(l1.w, w1)
    assert np.shares_memory(l1.w, net.params) and np.shares_memory(l2.db, net.grads)
    assert net.params.size == 4 * 3 + 3 + 3 * 2 + 2
    l1.w = np.ones((3, 4))  # assignment writes into the network's buffer
    assert net.params[:12].sum() == 12
    with pytest.raises(ValueError, match=r"w: expected shape \(3, 4\), got \(4, 3\)"):
        l1.w = np.ones((4, 3))


def test_network_hands_its_backend_to_its_layers(rng):
    net = Network([Linear(4, 3, rng=rng, backend="numpy"), ReLU(backend="numpy")], backend="numba")
    assert all(l.backend == "numba" for l in net.layers)
    net.backend = "numpy"
    assert all(l.backend == "numpy" for l in net.layers)


@pytest.mark.parametrize("dt", DTYPES)
def test_both_backends_give_the_same_forward_backward_update(dt, rng):
    nets = [jitprop.mlp([6, 5, 4, 3], "sigmoid", "sigmoid", 0.5, seed=2, backend=b, dtype=dt) for b in BACKENDS]
    x = rng.standard_normal((8, 6)).astype(dt)
    t = np.eye(3, dtype=dt)[rng.integers(0, 3, 8)]
    for net in nets:
        net.zero_gradients()
        cost = MeanSquareError(backend=net.backend, dtype=dt)
        value = cost.estimate(t, net.forward(x))
        net.backward(cost.gradient(value))
        net.update_parameters(0.1)
    tol = 1e-12 if dt == np.float64 else 1e-5
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=tol, atol=tol)
    np.testing.assert_allclose(nets[0].grads, nets[1].grads, rtol=tol, atol=tol)
    # each layer's stored state is what running it alone would store
    np.testing.assert_allclose(nets[0].layers[1].out, nets[1].layers[1].out, rtol=tol)


def test_fused_pair_exposes_layer_state(rng):
    net = jitprop.mlp([5, 4, 3], "relu", "sigmoid", 0.5, seed=1)
    x = rng.standard_normal((2, 5))
    net.forward(x)
    lin, act = net.layers[0], net.layers[1]
    np.testing.assert_array_equal(lin.x_in, x)
    np.testing.assert_allclose(act.out, np.maximum(x @ lin.w.T + lin.b, 0), rtol=1e-14)


def test_dropout_honours_the_training_phase(rng):
    d = Dropout(0.5, rng=rng)
    x = np.ones((100, 100))
    y = d.forward(x)
    assert set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), d.mask)
    d.training = False
    np.testing.assert_array_equal(d.forward(x), 0.5 * x)
    net = Network([Linear(3, 3, rng=rng), Dropout(0.5, rng=rng)])
    net.set_training(False)
    assert net.layers[1].training is False


def test_mlp_spec_recognises_plain_mlps(rng):
    assert jitprop.mlp([4, 3, 2], "relu", "softmax").mlp_spec()[2] is True
    sizes, acts, softmax = jitprop.mlp([4, 3, 2], "sigmoid", "sigmoid").mlp_spec()
    assert list(sizes) == [4, 3, 2] and list(acts) == [1, 1] and softmax is False
    assert Network([Linear(4, 3, rng=rng), Dropout(0.1), Linear(3, 2, rng=rng)]).mlp_spec() is None
    sizes, acts, _ = jitprop.mlp([4, 3, 3, 2], "tanh", "leaky-relu").mlp_spec()
    assert list(acts) == [3, 3, 4]


def test_sgd_optimizer_and_l2_term(rng):
    net = jitprop.mlp([3, 2], "sigmoid", "linear", 1.0, seed=0)
    opt = SGD(lr=0.1, weight_decay=0.5)
    expected = 0.25 * float((net.linears[0].w ** 2).sum())
    assert opt.l2_term(net) == pytest.approx(expected)
    before = net.params.copy()
    opt.step(net)  # zero gradients: pure decay
    np.testing.assert_allclose(net.params, before * (1 - 0.05))
