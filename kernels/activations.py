"""Compiled stand-alone activation kernels (used when an activation is not
fused with the linear layer before it). Twins in ``reference.py``."""
import numpy as np

from jitprop.kernels.config import jit
from jitprop.kernels.layout import ACT_RELU, ACT_SIGMOID
from jitprop.kernels.linear import _act_grad, _sigmoid_scalar


@jit
def sigmoid_forward(out, z):
    """out = sigmoid(z), stable for any |z|; overwrites ``out``."""
    one = out.dtype.type(1)
    for r in range(z.shape[0]):
        out_r, z_r = out[r], z[r]
        for c in range(z_r.shape[0]):
            out_r[c] = _sigmoid_scalar(z_r[c], one)


@jit
def sigmoid_backward(d_in, d_out, a):
    """d_in = d_out * a * (1 - a) with ``a`` the forward output."""
    _act_grad(d_in, d_out, a, ACT_SIGMOID)


@jit
def relu_forward(out, z):
    """out = max(z, 0)."""
    zero = out.dtype.type(0)
    for r in range(z.shape[0]):
        out_r, z_r = out[r], z[r]
        for c in range(z_r.shape[0]):
            out_r[c] = z_r[c] if z_r[c] > zero else zero


@jit
def relu_backward(d_in, d_out, a):
    """d_in = d_out * (a > 0) with ``a`` the forward output."""
    _act_grad(d_in, d_out, a, ACT_RELU)


@jit
def _shifted_exp_row(out, z, r):
    """out[r] = exp(z[r] - max(z[r])); returns (max, sum). Shifting by the row
    max keeps every exp in (0, 1], so nothing overflows for any finite z."""
    m = z[r, 0]
    for c in range(1, z.shape[1]):
        if z[r, c] > m:
            m = z[r, c]
    s = out.dtype.type(0)
    for c in range(z.shape[1]):
        e = np.exp(z[r, c] - m)
        out[r, c] = e
        s += e
    return m, s


@jit
def softmax_forward(out, z):
    """Row-wise softmax of z (B, K), shifted by the row max."""
    for r in range(z.shape[0]):
        _, s = _shifted_exp_row(out, z, r)
        for c in range(z.shape[1]):
            out[r, c] /= s


@jit
def softmax_backward(d_in, d_out, p):
    """d_in = p * (d_out - sum(d_out * p, 1)): the softmax Jacobian applied."""
    for r in range(p.shape[0]):
        dot = p.dtype.type(0)
        for c in range(p.shape[1]):
            dot += d_out[r, c] * p[r, c]
        for c in range(p.shape[1]):
            d_in[r, c] = p[r, c] * (d_out[r, c] - dot)
