"""Cost kernels: value and gradient in one pass. Twins in ``reference.py``.

Every gradient is per sample, summed over the batch (the seeds' convention:
``MeanSquareError.gradient`` is ``prediction - target``); every returned
cost is a batch mean, in float64. The whole-epoch kernels take a loss code
from :data:`LOSSES`.
"""
import numpy as np

from jitprop.kernels.activations import shifted_exp
from jitprop.kernels.config import jit_leaf
from jitprop.kernels.registry import kernel

MSE, SOFTMAX_CE = 0, 1
LOSSES = {"mse": MSE, "softmax-ce": SOFTMAX_CE}
CE_EPS = 1e-12


def _one_hot(rng, b, k, dt, soft=False):
    if soft:
        t = rng.random((b, k))
        return (t / t.sum(axis=1, keepdims=True)).astype(dt)
    t = np.zeros((b, k), dt)
    t[np.arange(b), rng.integers(0, k, b)] = 1
    return t


def _logits(rng, b, k, dt, scale):
    return (rng.standard_normal((b, k)) * scale).astype(dt)


def _softmax_ce_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    return (np.empty((b, n_out), dt), _logits(rng, b, n_out, dt, scale), _one_hot(rng, b, n_out, dt, n_in % 2 == 1))


def _mse_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    p = 1 / (1 + np.exp(-rng.standard_normal((b, n_out))))
    return (np.empty((b, n_out), dt), p.astype(dt), _one_hot(rng, b, n_out, dt))


def _cross_entropy_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    z = rng.standard_normal((b, n_out))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return (np.empty((b, n_out), dt), (p / p.sum(axis=1, keepdims=True)).astype(dt), _one_hot(rng, b, n_out, dt))


def _hinge_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    return (np.empty((b, n_out), dt), _logits(rng, b, n_out, dt, 1.0),
            np.where(rng.random((b, n_out)) < 0.5, -1, 1).astype(dt))


@jit_leaf
def softmax_cross_entropy_row(d, z, t):
    """One row of ``softmax_cross_entropy`` (1-d rows): d = softmax(z) - t;
    returns -sum(t * log_softmax(z)) (float64). The loss is taken in
    float64 from the row's sum of exponentials: a float32 logarithm under
    the "afn" fastmath flag was off by 1.5e-4 relative (z = [787.94, 785.77],
    found by the property test)."""
    m, s = shifted_exp(d, z)
    log_s = np.log(np.float64(s))
    m64 = np.float64(m)
    loss = 0.0
    for c in range(z.shape[0]):
        tc = t[c]
        d[c] = d[c] / s - tc
        if tc != 0:
            loss -= np.float64(tc) * (np.float64(z[c]) - m64 - log_s)
    return loss


@jit_leaf
def mse_row(d, p, t):
    """One row of ``mse`` (1-d rows): d = p - t; returns sum((p - t)**2) (float64)."""
    acc = 0.0
    for c in range(p.shape[0]):
        diff = p[c] - t[c]
        d[c] = diff
        acc += diff * diff
    return acc


@jit_leaf
def batch_cost(loss_kind, total, rows, n_out):
    """The batch cost from the sum of its rows' costs (``*_row``): the mean
    over rows (softmax-CE) or half the mean over every value (MSE)."""
    return total / rows if loss_kind == SOFTMAX_CE else 0.5 * total / (rows * n_out)


@kernel(arrays={"d_logits": "B K", "logits": "B K", "target": "B K"}, writes=("d_logits",),
        inputs=_softmax_ce_inputs, extreme=True, bench_shapes=((12, 0, 10), (64, 0, 10)))
def softmax_cross_entropy(d_logits, logits, target):
    """Fused softmax + cross-entropy: returns the batch mean of
    ``-sum(target * log_softmax(logits))`` (float64) and overwrites d_logits
    (B, K) with ``softmax(logits) - target``."""
    loss = 0.0
    for r in range(logits.shape[0]):
        loss += softmax_cross_entropy_row(d_logits[r], logits[r], target[r])
    return batch_cost(SOFTMAX_CE, loss, logits.shape[0], logits.shape[1])


@kernel(arrays={"d_pred": "B K", "pred": "B K", "target": "B K"}, writes=("d_pred",), inputs=_mse_inputs,
        bench_shapes=((12, 0, 10), (64, 0, 10)))
def mse(d_pred, pred, target):
    """Returns ``0.5 * mean((target - pred)**2)`` (float64); d_pred = pred - target."""
    acc = 0.0
    for r in range(pred.shape[0]):
        acc += mse_row(d_pred[r], pred[r], target[r])
    return batch_cost(MSE, acc, pred.shape[0], pred.shape[1])


@kernel(arrays={"d_pred": "B K", "pred": "B K", "target": "B K"}, writes=("d_pred",),
        inputs=_cross_entropy_inputs)
def cross_entropy(d_pred, pred, target):
    """Seed cross-entropy on probabilities: returns the batch mean of
    ``-sum(target * log(pred + eps))``; d_pred = ``-target / (pred + eps)``."""
    eps = pred.dtype.type(CE_EPS)
    acc = 0.0
    for r in range(pred.shape[0]):
        for c in range(pred.shape[1]):
            p = pred[r, c] + eps
            d_pred[r, c] = -target[r, c] / p
            acc -= target[r, c] * np.log(p)
    return acc / pred.shape[0]


@kernel(arrays={"d_pred": "B K", "pred": "B K", "target": "B K"}, writes=("d_pred",), inputs=_hinge_inputs)
def hinge(d_pred, pred, target):
    """Returns the batch mean of ``sum(max(0, 1 - target * pred))``;
    d_pred = ``-target * (1 - target * pred > 0)``."""
    one = pred.dtype.type(1)
    zero = pred.dtype.type(0)
    acc = 0.0
    for r in range(pred.shape[0]):
        for c in range(pred.shape[1]):
            margin = one - target[r, c] * pred[r, c]
            if margin > zero:
                acc += margin
                d_pred[r, c] = -target[r, c]
            else:
                d_pred[r, c] = zero
    return acc / pred.shape[0]
