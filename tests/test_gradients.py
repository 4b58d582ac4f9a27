"""Finite-difference checks (float64, central differences, step 1e-6) of every
layer, every cost and composed networks, on both backends. Central
differences are accurate to O(h^2) ~ 1e-12 plus rounding ~ 1e-16 / h ~ 1e-10,
so rtol 1e-6 / atol 1e-8 leaves a wide margin yet catches any wrong term."""
import numpy as np
import pytest

import jitprop
from jitprop import CrossEntropy, Hinge, LeakyReLU, Linear, MeanSquareError, Network, ReLU, Sigmoid, SoftMax, Tanh

from conftest import BACKENDS, numeric_grad


def check(analytic, numeric):
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def layer_cases(rng, backend):
    return [
        Linear(5, 3, 0.5, backend=backend, rng=rng),
        Sigmoid(backend=backend),
        ReLU(backend=backend),
        SoftMax(backend=backend),
        Network([Linear(5, 4, 0.5, backend=backend, rng=rng), Sigmoid(), Linear(4, 3, 0.5, rng=rng), ReLU(),
                 Linear(3, 3, 0.5, rng=rng), SoftMax()], backend=backend),
        Tanh(backend=backend),
        LeakyReLU(backend=backend),
        Network([Linear(5, 4, 0.5, backend=backend, rng=rng), Tanh(), Linear(4, 3, 0.5, rng=rng), LeakyReLU(),
                 Linear(3, 3, 0.5, rng=rng)], backend=backend),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(8))
def test_layer_input_and_parameter_gradients(backend, case, rng):
    layer = layer_cases(rng, backend)[case]
    n_in = layer.n_in or 5
    x = rng.standard_normal((4, n_in))
    if isinstance(layer, (ReLU, LeakyReLU)):
        x[np.abs(x) < 0.05] = 0.3  # keep away from the kink
    v = rng.standard_normal(layer.forward(x).shape)  # loss = sum(v * layer(x))
    loss = lambda: float((v * layer.forward(x)).sum())
    layer.zero_gradients()
    layer.forward(x)
    d_in = layer.backward(v)
    check(d_in, numeric_grad(loss, x))
    linears = layer.linears if isinstance(layer, Network) else ([layer] if isinstance(layer, Linear) else [])
    for lin in linears:
        check(lin.dw, numeric_grad(loss, lin.w))
        check(lin.db, numeric_grad(loss, lin.b))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cost_cls", [MeanSquareError, CrossEntropy, Hinge])
def test_cost_gradients_follow_the_seed_convention(backend, cost_cls, rng):
    b, k = 4, 3
    if cost_cls is Hinge:
        pred, target = rng.standard_normal((b, k)) * 2, np.sign(rng.standard_normal((b, k)))
        pred[np.abs(1 - pred * target) < 0.1] += 0.5
    else:
        pred, target = rng.random((b, k)) + 0.05, np.eye(k)[rng.integers(0, k, b)]
    cost = cost_cls(backend=backend)
    value = cost.estimate(target, pred)
    grad = cost.gradient(value)
    # gradient = d(batch SUM of per-sample costs)/d(pred): batch size times the
    # gradient of the batch-mean cost (MSE also averages over outputs: x k).
    scale = b * (k if cost_cls is MeanSquareError else 1)
    check(grad, scale * numeric_grad(lambda: cost_cls(backend=backend).estimate(target, pred), pred))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fused_softmax_cross_entropy_matches_the_unfused_path(backend, rng):
    def make():
        r = np.random.default_rng(3)
        return Network([Linear(6, 5, 0.5, rng=r), ReLU(), Linear(5, 4, 0.5, rng=r), SoftMax()], backend=backend)
    x = rng.standard_normal((7, 6))
    t = np.eye(4)[rng.integers(0, 4, 7)]
    fused, plain = make(), make()
    fused.zero_gradients()
    v_fused = fused.loss_and_backward(CrossEntropy(backend=backend), x, t)
    plain.zero_gradients()
    cost = CrossEntropy(backend=backend)
    v_plain = cost.estimate(t, plain.forward(x))
    plain.backward(cost.gradient(v_plain))
    assert v_fused == pytest.approx(v_plain, rel=1e-9)  # differ only by the 1e-12 eps
    np.testing.assert_allclose(fused.grads, plain.grads, rtol=1e-8, atol=1e-10)
    # and the fused gradient is the exact gradient of the exact loss
    loss = lambda: 7 * CrossEntropy(backend=backend).estimate(t, fused.forward(x))
    check(fused.linears[0].dw, numeric_grad(loss, fused.linears[0].w))
