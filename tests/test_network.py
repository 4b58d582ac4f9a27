"""Network around users' layers, prediction that keeps no state, ownership of
layers, and use from several threads."""
import copy
import pickle
import threading

import numpy as np
import pytest

import jitprop
from jitprop import CrossEntropy, Dropout, Layer, Linear, MeanSquareError, Network, Sigmoid, SoftMax, Tanh

from conftest import BACKENDS


class UserTanh(Layer):
    """A user's layer in the seed style: its own forward and backward."""

    def forward(self, x_in):
        self.out = np.tanh(x_in)
        return self.out

    def backward(self, d_out):
        return d_out * (1 - self.out ** 2)


def sigmoid_function(var):
    return 1.0 / (1.0 + np.exp(-var))


class SeedSigmoid(Layer):
    """HaMLeT's example class, as the notebook writes it (no super().__init__())."""

    def __init__(self):
        self.x_in = None

    def forward(self, x_in):
        self.x_in = x_in
        return sigmoid_function(x_in)

    def backward(self, d_out):
        s = sigmoid_function(self.x_in)
        return d_out * s * (1 - s)

    def zero_gradients(self):
        pass

    def update_parameters(self, learning_rate):
        pass


class UserScale(Layer):
    """A user's layer with a parameter it updates itself (seed interface)."""

    def __init__(self):
        super().__init__()
        self.a = np.array(1.5)
        self.da = 0.0

    def forward(self, x_in):
        self.x_in = x_in
        return self.a * x_in

    def backward(self, d_out):
        self.da += float((d_out * self.x_in).sum())
        return self.a * d_out

    def zero_gradients(self):
        self.da = 0.0

    def update_parameters(self, learning_rate):
        self.a = self.a - learning_rate * self.da


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("user_layer", [UserTanh, SeedSigmoid])
def test_a_users_layer_runs_inside_a_network(backend, user_layer, rng):
    lin = Linear(4, 3, 0.5, rng=rng)
    net = Network([lin, user_layer()], backend=backend)
    x = rng.standard_normal((5, 4))
    z = x @ lin.w.T + lin.b
    want = np.tanh(z) if user_layer is UserTanh else 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(net.forward(x), want, rtol=1e-14)  # not skipped: not the linear output z
    v = rng.standard_normal((5, 3))
    net.zero_gradients()
    net.backward(v)
    slope = 1 - want ** 2 if user_layer is UserTanh else want * (1 - want)
    np.testing.assert_allclose(lin.dw, (v * slope).T @ x, rtol=1e-12)
    np.testing.assert_allclose(net.predict(x), want, rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("impl", ["jit", "batched"])
def test_a_users_layer_trains_with_its_own_parameters(backend, impl, rng):
    """Training through a user's layer: its gradient reaches the layers before
    it and its own parameter is updated through update_parameters(lr)."""
    x = rng.standard_normal((40, 4))
    y = (x[:, 0] > 0).astype(np.int64)
    np.random.seed(0)
    net = Network([Linear(4, 6, 0.5, rng=1), UserScale(), Tanh(), Linear(6, 2, 0.5, rng=2), SoftMax()], backend=backend)
    before = net.layers[0].w.copy()
    with pytest.raises(ValueError, match="impl: fused trains plain MLPs only.*user-defined"):
        jitprop.train(net, CrossEntropy(), x, y, batch_size=8, impl="fused", progress=False)
    h = jitprop.train(net, CrossEntropy(), x, y, epochs=3, batch_size=8, learning_rate=0.05, impl=impl,
                      progress=False)
    assert net.layers[1].a != 1.5 and not np.array_equal(net.layers[0].w, before)
    assert h.cost[-1] < h.cost[0]


def test_a_users_layer_gives_the_same_gradients_as_jitprops_own(rng):
    """Tanh written by a user and jitprop's Tanh: the same forward, backward
    and training, to rounding."""
    x = rng.standard_normal((30, 4))
    y = rng.integers(0, 3, 30)
    nets = [Network([Linear(4, 5, 0.5, rng=7), act(), Linear(5, 3, 0.5, rng=8), SoftMax()]) for act in (UserTanh, Tanh)]
    for net in nets:
        jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=5, learning_rate=0.05, impl="jit",
                      progress=False)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_between_forward_and_backward_changes_nothing(backend, rng):
    net = jitprop.mlp([6, 5, 3], "sigmoid", "sigmoid", 0.5, seed=1, backend=backend)
    x, other = rng.standard_normal((4, 6)), rng.standard_normal((9, 6))
    d = rng.standard_normal((4, 3))
    net.zero_gradients()
    net.forward(x)
    net.backward(d)
    want = net.grads.copy()
    net.zero_gradients()
    net.forward(x)
    net.predict(other)  # other rows, another batch size
    net.backward(d)
    np.testing.assert_array_equal(net.grads, want)


def test_predict_keeps_the_dropout_mask(rng):
    net = Network([Linear(5, 8, 0.5, rng=rng), Dropout(0.5, rng=np.random.default_rng(1)), Linear(8, 2, 0.5, rng=rng)])
    x = rng.standard_normal((6, 5))
    net.set_training(True)
    net.forward(x)
    mask = net.layers[1].mask.copy()
    out = net.predict(x)
    np.testing.assert_array_equal(net.layers[1].mask, mask)
    lin1, lin2 = net.linears
    np.testing.assert_allclose(out, 0.5 * (x @ lin1.w.T + lin1.b) @ lin2.w.T + lin2.b, rtol=1e-12)
    assert net.training  # predict does not switch the phase either


def test_predict_restores_a_users_layer_state(rng):
    net = Network([Linear(3, 2, 0.5, rng=rng), SeedSigmoid()])
    x = rng.standard_normal((4, 3))
    net.forward(x)
    stored = net.layers[1].x_in
    net.predict(rng.standard_normal((7, 3)))
    assert net.layers[1].x_in is stored


def test_shared_and_nested_layers_are_refused(rng):
    lin = Linear(3, 2, rng=rng)
    first = Network([lin, Sigmoid()])
    with pytest.raises(ValueError, match=r"layers\[0\]: Linear\(3, 2\) already belongs to another Network"):
        Network([lin, Sigmoid()])
    with pytest.raises(ValueError, match=r"layers\[1\]: a Network inside a Network is not supported"):
        Network([Linear(4, 3, rng=rng), first])
    act = Sigmoid()
    with pytest.raises(ValueError, match=r"layers\[2\]: Sigmoid\(\) appears twice"):
        Network([Linear(3, 3, rng=rng), act, act])
    # an independent copy is fine, and so is re-using layers once their network is gone
    Network(copy.deepcopy(first.layers))
    del first
    Network([lin, Sigmoid()])


def test_copies_and_pickles_keep_layers_bound_to_their_buffer(rng):
    net = jitprop.mlp([4, 3, 2], "relu", "softmax", 0.5, seed=0)
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(twin.params, net.params)
        assert np.shares_memory(twin.linears[0].w, twin.params) and not np.shares_memory(twin.params, net.params)
        twin.linears[0].w = np.zeros((3, 4))
        assert twin.params[:12].sum() == 0 and net.params[:12].sum() != 0


def test_predict_from_eight_threads_while_another_net_trains(rng):
    """Each thread's predictions equal the single-threaded ones (no shared
    scratch state), while a different network trains in another thread."""
    net = jitprop.mlp([20, 16, 5], "relu", "softmax", "he", seed=0)
    xs = [rng.standard_normal((50, 20)) for _ in range(8)]
    want = [net.predict(x) for x in xs]
    other = jitprop.mlp([20, 16, 5], "relu", "softmax", "he", seed=1)
    x_train, y_train = rng.standard_normal((400, 20)), rng.integers(0, 5, 400)
    errors = []

    def predictor(i):
        for _ in range(30):
            if not np.array_equal(net.predict(xs[i]), want[i]):
                errors.append(i)

    def trainer():
        jitprop.train(other, CrossEntropy(), x_train, y_train, epochs=3, batch_size=10, impl="jit", progress=False)
    threads = [threading.Thread(target=predictor, args=(i,)) for i in range(8)] + [threading.Thread(target=trainer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_training_one_net_from_two_threads_is_refused(rng):
    net = jitprop.mlp([20, 8, 3], "relu", "softmax", "he", seed=0)
    x, y = rng.standard_normal((2000, 20)), rng.integers(0, 3, 2000)
    started, results = threading.Event(), {}

    def first():
        def on_epoch(record, state):
            started.set()
        try:
            jitprop.train(net, CrossEntropy(), x, y, epochs=30, batch_size=4, impl="jit", progress=False,
                          on_epoch=on_epoch)
            results["first"] = "done"
        except Exception as exc:  # pragma: no cover - reported below
            results["first"] = repr(exc)
    t = threading.Thread(target=first)
    t.start()
    assert started.wait(60)
    with pytest.raises(RuntimeError, match="already being trained"):
        jitprop.train(net, CrossEntropy(), x, y, epochs=1, batch_size=4, progress=False)
    with pytest.raises(RuntimeError, match="being trained by another thread"):
        net.forward(x[:3])
    net.predict(x[:3])  # prediction is always allowed
    t.join()
    assert results["first"] == "done"


def test_mean_squared_error_on_a_net_ending_in_a_users_layer(rng):
    net = Network([Linear(3, 2, 0.5, rng=rng), UserTanh()])
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    jitprop.train(net, MeanSquareError(), x, y, epochs=1, batch_size=4, impl="jit", progress=False)
    assert net.n_out is None and jitprop.accuracy(net, x, y) >= 0
