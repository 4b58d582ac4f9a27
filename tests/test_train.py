"""The training loop: every implementation trains the same network to the
same weights; same seed, same bits; divergence stops at once."""
import numpy as np
import pytest

import jitprop
from jitprop import CrossEntropy, MeanSquareError, TrainingDiverged

from conftest import DTYPES

# After 2 epochs of 40 steps the implementations differ only by summation
# order: float64 ~1e-15 observed, float32 ~1e-6 (chaotic growth over steps).
TRAIN_TOL = {np.float64: 1e-10, np.float32: 1e-4}


def small_set(dt, n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype(dt)
    y = (x[:, :4].argmax(axis=1)).astype(np.int64)
    return x, y


def trained(impl, dt, cost_name, activation="sigmoid", batch_size=8, epochs=2, seed=0):
    x, y = small_set(dt)
    output = "softmax" if cost_name == "ce" else "sigmoid"
    net = jitprop.mlp([12, 10, 6, 4], activation, output, 0.3, seed=1, dtype=dt)
    cost = CrossEntropy() if cost_name == "ce" else MeanSquareError()
    bs = 1 if impl.startswith("per-sample") else batch_size
    h = jitprop.train(net, cost, x, y, x, y, epochs=epochs, batch_size=bs, learning_rate=0.05,
                      weight_decay=1e-3, seed=seed, impl=impl, progress=False)
    return net, h


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("cost_name, activation", [("mse", "sigmoid"), ("ce", "relu"), ("ce", "sigmoid")])
def test_all_implementations_reach_the_same_weights(dt, cost_name, activation):
    tol = TRAIN_TOL[dt]
    batched, _ = trained("batched", dt, cost_name, activation)
    for impl in ("jit", "fused"):
        net, _ = trained(impl, dt, cost_name, activation)
        np.testing.assert_allclose(net.params, batched.params, rtol=tol, atol=tol, err_msg=impl)
    per_sample, _ = trained("per-sample", dt, cost_name, activation)
    net, _ = trained("per-sample-jit", dt, cost_name, activation)
    np.testing.assert_allclose(net.params, per_sample.params, rtol=tol, atol=tol)
    # batch size 1 through the model layer is the same algorithm again
    net, _ = trained("jit", dt, cost_name, activation, batch_size=1)
    np.testing.assert_allclose(net.params, per_sample.params, rtol=tol, atol=tol)


@pytest.mark.parametrize("impl", list(jitprop.IMPLS))
def test_same_seed_same_bits(impl):
    a, ha = trained(impl, np.float64, "mse")
    b, hb = trained(impl, np.float64, "mse")
    assert a.params.tobytes() == b.params.tobytes()
    assert ha.cost == hb.cost
    c, _ = trained(impl, np.float64, "mse", seed=1)
    assert c.params.tobytes() != a.params.tobytes()


def test_history_records_each_epoch():
    net, h = trained("fused", np.float64, "ce", "relu", epochs=3)
    assert [e["epoch"] for e in h.epochs] == [1, 2, 3]
    assert all(0 <= e["val_accuracy"] <= 1 for e in h.epochs)
    assert h.cost[-1] < h.cost[0]
    assert h.train_seconds > 0 and h.compile_seconds >= 0


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
@pytest.mark.parametrize("impl", list(jitprop.IMPLS))
def test_divergence_stops_with_epoch_and_step(impl):
    x, y = small_set(np.float64)
    x[5:] *= 1e200  # any step through these rows overflows
    net = jitprop.mlp([12, 10, 4], "relu", "softmax", 0.3, seed=1)
    bs = 1 if impl.startswith("per-sample") else 4
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+ of \d+.*lower learning rate"):
        jitprop.train(net, CrossEntropy(), x, y, epochs=1, batch_size=bs, learning_rate=0.1,
                      seed=0, impl=impl, progress=False)
    assert np.isfinite(net.params).all()


def test_lr_decay_multiplies_the_rate_each_epoch():
    x, y = small_set(np.float64)
    net = jitprop.mlp([12, 4], "sigmoid", "softmax", 0.3, seed=1)
    h = jitprop.train(net, CrossEntropy(), x, y, epochs=3, batch_size=8, learning_rate=0.1, lr_decay=0.5,
                      impl="fused", progress=False)
    assert [e["learning_rate"] for e in h.epochs] == [0.1, 0.05, 0.025]


def test_unsupported_network_for_fused_is_a_clear_error():
    x, y = small_set(np.float64)
    net = jitprop.Network([jitprop.Linear(12, 4), jitprop.Dropout(0.2), jitprop.Sigmoid()])
    with pytest.raises(ValueError, match="impl: fused trains plain MLPs only.*Dropout"):
        jitprop.train(net, MeanSquareError(), x, y, impl="fused", progress=False)
    # the model-layer loop trains it
    jitprop.train(net, MeanSquareError(), x, y, impl="jit", progress=False)


@pytest.mark.parametrize("impl", list(jitprop.IMPLS))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_value_of_x_train_is_named_and_changes_nothing(impl, bad):
    # The epoch kernels find it when a step reads its row (late in the
    # epoch here, after many updates); train() puts the parameters and the
    # optimizer back, so the call changes nothing, as a check made first.
    x, y = small_set(np.float32)
    net = jitprop.mlp([12, 10, 4], "relu", "softmax", 0.3, seed=1, dtype=np.float32)
    opt = jitprop.Adam(0.01)
    jitprop.train(net, CrossEntropy(), x, y, epochs=1, batch_size=1 if impl.startswith("per-sample") else 4,
                  optimizer=opt, seed=0, impl=impl, progress=False)
    params, state, t = net.params.copy(), opt.state.copy(), opt.t
    last = np.random.default_rng(0).permutation(len(x))[-1]  # the last row of epoch 1's order
    x[last, 7] = bad
    with pytest.raises(ValueError, match=rf"x_train: expected finite values, got {bad} at index \({last}, 7\)"):
        jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=1 if impl.startswith("per-sample") else 4,
                      optimizer=opt, seed=0, impl=impl, progress=False)
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(opt.state, state)
    assert opt.t == t


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
@pytest.mark.parametrize("impl", ["fused", "per-sample-jit", "per-sample"])
def test_a_non_finite_x_train_is_named_even_when_a_step_before_its_row_diverges(impl):
    # The epoch kernels stop at the first non-finite cost; when that is an
    # earlier step's (a diverging run), the NaN further on is still reported
    # as x_train's, with the parameters put back.
    x, y = small_set(np.float64)
    net = jitprop.mlp([12, 10, 4], "relu", "softmax", 0.3, seed=1)
    params = net.params.copy()
    order = np.random.default_rng(0).permutation(len(x))
    x[order[:4]] *= 1e200  # the first step overflows
    x[order[-1], 3] = np.nan
    with pytest.raises(ValueError, match=rf"x_train: expected finite values, got nan at index \({order[-1]}, 3\)"):
        jitprop.train(net, CrossEntropy(), x, y, epochs=1, batch_size=1 if impl.startswith("per-sample") else 4,
                      learning_rate=0.1, seed=0, impl=impl, progress=False)
    np.testing.assert_array_equal(net.params, params)


def test_a_non_finite_row_left_out_by_sample_order_is_still_an_error_before_training():
    # With sample_order the rows an epoch reads are the caller's choice, so
    # x_train is checked first, as every implementation did before.
    x, y = small_set(np.float32)
    net = jitprop.mlp([12, 10, 4], "relu", "softmax", 0.3, seed=1, dtype=np.float32)
    params = net.params.copy()
    x[5, 2] = np.inf
    seen = []
    with pytest.raises(ValueError, match=r"x_train: expected finite values, got inf at index \(5, 2\)"):
        jitprop.train(net, CrossEntropy(), x, y, epochs=2, batch_size=4, impl="fused", progress=False,
                      sample_order=lambda e: np.zeros(len(x), np.int64), on_epoch=lambda *a: seen.append(a))
    assert seen == []
    np.testing.assert_array_equal(net.params, params)


def test_a_new_optimizer_is_left_new_by_a_call_that_fails_on_x_train():
    # Its state is made on first use: a call that changes nothing leaves
    # none (the optimizer can still go to a network of another size).
    x, y = small_set(np.float32)
    net = jitprop.mlp([12, 10, 4], "relu", "softmax", 0.3, seed=1, dtype=np.float32)
    opt = jitprop.Adam(0.01)
    x[-1, 0] = np.nan
    with pytest.raises(ValueError, match="x_train: expected finite values"):
        jitprop.train(net, CrossEntropy(), x, y, epochs=1, batch_size=4, optimizer=opt, impl="fused", progress=False)
    assert opt.state is None and opt.t == 0
    other = jitprop.mlp([12, 6, 4], "relu", "softmax", 0.3, seed=1, dtype=np.float32)
    x[-1, 0] = 0.0
    jitprop.train(other, CrossEntropy(), x, y, epochs=1, batch_size=4, optimizer=opt, impl="fused", progress=False)
