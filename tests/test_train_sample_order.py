"""jitprop.train(..., sample_order=f): epoch e trains on the rows f(e)
returns, in that order (the scikit-learn estimators pass scikit-learn's
shuffle through it)."""
import re

import numpy as np
import pytest

import jitprop


def _data(rng, n=40):
    return rng.standard_normal((n, 5)), rng.integers(0, 3, n)


def _net():
    return jitprop.mlp([5, 4, 3], "relu", "softmax", "he", seed=1)


@pytest.mark.parametrize("impl", ["fused", "jit"])
def test_sample_order_is_the_order_trained(rng, impl):
    x, y = _data(rng)
    orders = {e: rng.permutation(40) for e in (1, 2, 3)}
    asked = []

    def order(epoch):
        asked.append(epoch)
        return orders[epoch]
    got = _net()
    jitprop.train(got, jitprop.CrossEntropy(), x, y, epochs=3, batch_size=8, learning_rate=0.05, impl=impl,
                  progress=False, sample_order=order)
    # the same as training on the rows rearranged in that order, epoch by epoch, without shuffling
    want = _net()
    opt = jitprop.SGD(0.05)
    for e in (1, 2, 3):
        jitprop.train(want, jitprop.CrossEntropy(), x[orders[e]], y[orders[e]], epochs=e, start_epoch=e,
                      batch_size=8, optimizer=opt, shuffle=False, impl=impl, progress=False)
    assert asked == [1, 2, 3]
    np.testing.assert_allclose(got.params, want.params, rtol=1e-12, atol=1e-14)  # float64: same sums


@pytest.mark.parametrize("order, message", [
    (lambda e: np.arange(39),
     "sample_order: expected 40 integer row indices for epoch 1, got int64 array of shape (39,)"),
    (lambda e: np.arange(40.0), "sample_order: expected 40 integer row indices for epoch 1, got float64"),
    (lambda e: np.arange(1, 41), "sample_order: expected row indices in 0..39 for epoch 1, got 40"),
])
def test_bad_sample_orders_are_refused(rng, order, message):
    x, y = _data(rng)
    with pytest.raises(ValueError, match=re.escape(message)):
        jitprop.train(_net(), jitprop.CrossEntropy(), x, y, progress=False, sample_order=order)
    with pytest.raises(TypeError, match="sample_order: expected a function of the epoch"):
        jitprop.train(_net(), jitprop.CrossEntropy(), x, y, progress=False, sample_order=np.arange(40))
