"""Compiled cost kernels: value and gradient in one pass. Twins in
``reference.py``; every gradient is per sample, summed over the batch."""
import numpy as np

from jitprop.kernels.activations import _shifted_exp_row
from jitprop.kernels.config import jit
from jitprop.kernels.layout import CE_EPS


@jit
def softmax_cross_entropy(d_logits, logits, target):
    """Fused softmax + cross-entropy: returns the batch-mean loss (float64),
    overwrites d_logits (B, K) with softmax(logits) - target."""
    loss = 0.0
    for r in range(logits.shape[0]):
        m, s = _shifted_exp_row(d_logits, logits, r)
        log_s = np.log(s)
        for c in range(logits.shape[1]):
            t = target[r, c]
            d_logits[r, c] = d_logits[r, c] / s - t
            if t != 0:
                loss -= t * (logits[r, c] - m - log_s)
    return loss / logits.shape[0]


@jit
def mse(d_pred, pred, target):
    """Returns 0.5 * mean((target - pred)**2) (float64); d_pred = pred - target."""
    acc = 0.0
    for r in range(pred.shape[0]):
        for c in range(pred.shape[1]):
            diff = pred[r, c] - target[r, c]
            d_pred[r, c] = diff
            acc += diff * diff
    return 0.5 * acc / pred.size


@jit
def cross_entropy(d_pred, pred, target):
    """Seed cross-entropy on probabilities: batch mean of
    -sum(target * log(pred + eps)); d_pred = -target / (pred + eps)."""
    eps = pred.dtype.type(CE_EPS)
    acc = 0.0
    for r in range(pred.shape[0]):
        for c in range(pred.shape[1]):
            p = pred[r, c] + eps
            d_pred[r, c] = -target[r, c] / p
            acc -= target[r, c] * np.log(p)
    return acc / pred.shape[0]


@jit
def hinge(d_pred, pred, target):
    """Batch mean of sum(max(0, 1 - target * pred)); d_pred = -target * [margin > 0]."""
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
