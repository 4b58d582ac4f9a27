"""Whole-network kernels on the flat layout: an epoch of minibatch SGD, an
epoch of per-sample SGD, and a batched forward pass, each one compiled call.

Twins with the same names and signatures are in ``reference.py``; the flat
layout and the activation/loss codes are in ``layout.py``.
"""
import numpy as np

from jitprop.kernels.config import jit
from jitprop.kernels.costs import mse, softmax_cross_entropy
from jitprop.kernels.layout import ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, LOSS_SOFTMAX_CE
from jitprop.kernels.linear import (
    _act_grad, _bias_grad_and_d_in, _copy_row, linear_forward, linear_relu_forward,
    linear_sigmoid_forward,
)
from jitprop.kernels.sgd import _sgd_update_and_zero


@jit
def _param_offsets(sizes):
    offs = np.zeros(sizes.shape[0], np.int64)
    for l in range(sizes.shape[0] - 1):
        offs[l + 1] = offs[l] + sizes[l + 1] * sizes[l] + sizes[l + 1]
    return offs


@jit
def _row_offsets(sizes, rows):
    # Start of each layer's (rows, n_l) activation block in one work buffer.
    offs = np.zeros(sizes.shape[0] + 1, np.int64)
    for l in range(sizes.shape[0]):
        offs[l + 1] = offs[l] + rows * sizes[l]
    return offs


@jit
def _weight(flat, offs, sizes, l):
    n_out, n_in = sizes[l + 1], sizes[l]
    return flat[offs[l]:offs[l] + n_out * n_in].reshape((n_out, n_in))


@jit
def _bias(flat, offs, sizes, l):
    start = offs[l] + sizes[l + 1] * sizes[l]
    return flat[start:start + sizes[l + 1]].reshape((1, sizes[l + 1]))


@jit
def _block(buf, offs, l, rows, width):
    return buf[offs[l]:offs[l] + rows * width].reshape((rows, width))


@jit
def _forward(params, poffs, sizes, activations, acts, aoffs, rows):
    # acts block 0 holds the input rows; fills blocks 1..L.
    for l in range(sizes.shape[0] - 1):
        a_in = _block(acts, aoffs, l, rows, sizes[l])
        a_out = _block(acts, aoffs, l + 1, rows, sizes[l + 1])
        w = _weight(params, poffs, sizes, l)
        b = _bias(params, poffs, sizes, l)
        if activations[l] == ACT_SIGMOID:
            linear_sigmoid_forward(a_out, a_in, w, b)
        elif activations[l] == ACT_RELU:
            linear_relu_forward(a_out, a_in, w, b)
        else:
            linear_forward(a_out, a_in, w, b)


@jit
def _gather_rows(xb, yb, x, y, order, start):
    """xb[r] = x[order[start + r]], yb likewise: the minibatch, in order."""
    for r in range(xb.shape[0]):
        i = order[start + r]
        _copy_row(xb[r], x[i])
        _copy_row(yb[r], y[i])


@jit
def _backward(grad, params, poffs, sizes, activations, acts, deltas, aoffs, rows):
    # deltas block L holds dL/da_L; ``grad`` is zero on entry (np.zeros, then
    # cleared by each step's update) and receives
    # this minibatch's gradients (written straight into it where BLAS is used).
    for l in range(sizes.shape[0] - 2, -1, -1):
        dz = _block(deltas, aoffs, l + 1, rows, sizes[l + 1])
        d_in = _block(deltas, aoffs, l, rows, sizes[l])
        a_in = _block(acts, aoffs, l, rows, sizes[l])
        a_out = _block(acts, aoffs, l + 1, rows, sizes[l + 1])
        w = _weight(params, poffs, sizes, l)
        dw = _weight(grad, poffs, sizes, l)
        db = _bias(grad, poffs, sizes, l)
        if activations[l] != ACT_IDENTITY:
            _act_grad(dz, dz, a_out, activations[l])
        _bias_grad_and_d_in(d_in, dw, db, dz, a_in, w, l > 0, True)


@jit
def train_epoch(params, sizes, activations, loss_kind, x, y, order, batch_size, lr, weight_decay):
    """One epoch of minibatch SGD, compiled as one call.

    params (P,) flat, updated in place; sizes (L+1,) int64; activations (L,)
    int64; x (N, n_0), y (N, n_L) in the dtype of params; order (N,) int64;
    lr, weight_decay scalars of that dtype. Returns costs (n_batches,)
    float64; stops before the update of the first step whose cost is not
    finite (that entry holds it, later entries are NaN).
    """
    n = order.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    costs = np.full(n_batches, np.nan)
    n_out = sizes[sizes.shape[0] - 1]
    last = sizes.shape[0] - 1
    poffs = _param_offsets(sizes)
    aoffs = _row_offsets(sizes, batch_size)
    acts = np.empty(aoffs[-1], params.dtype)
    deltas = np.empty(aoffs[-1], params.dtype)
    grad = np.zeros_like(params)
    yb_buf = np.empty(batch_size * n_out, params.dtype)
    for k in range(n_batches):
        start = k * batch_size
        rows = min(batch_size, n - start)
        xb = _block(acts, aoffs, 0, rows, sizes[0])
        yb = yb_buf[:rows * n_out].reshape((rows, n_out))
        _gather_rows(xb, yb, x, y, order, start)
        _forward(params, poffs, sizes, activations, acts, aoffs, rows)
        a_last = _block(acts, aoffs, last, rows, n_out)
        d_last = _block(deltas, aoffs, last, rows, n_out)
        if loss_kind == LOSS_SOFTMAX_CE:
            cost = softmax_cross_entropy(d_last, a_last, yb)
        else:
            cost = mse(d_last, a_last, yb)
        costs[k] = cost
        if not np.isfinite(cost):
            break
        _backward(grad, params, poffs, sizes, activations, acts, deltas, aoffs, rows)
        _sgd_update_and_zero(params, grad, lr, weight_decay)
    return costs


@jit
def train_epoch_per_sample(params, sizes, activations, loss_kind, x, y, order, lr, weight_decay):
    """One epoch of per-sample SGD (Homework 1's algorithm), compiled.

    Same arguments and result as ``train_epoch`` with batch size 1. Allocates
    its work vectors once per epoch, nothing per sample; each layer's update
    is fused into the pass over w that computes d_in (with the old w).
    """
    n = order.shape[0]
    costs = np.full(n, np.nan)
    last = sizes.shape[0] - 1
    n_out = sizes[last]
    zero = params.dtype.type(0)
    poffs = _param_offsets(sizes)
    aoffs = _row_offsets(sizes, 1)
    acts = np.empty(aoffs[-1], params.dtype)
    deltas = np.empty(aoffs[-1], params.dtype)
    for k in range(n):
        i = order[k]
        _copy_row(acts[:sizes[0]], x[i])
        _forward(params, poffs, sizes, activations, acts, aoffs, 1)
        a_last = _block(acts, aoffs, last, 1, n_out)
        d_last = _block(deltas, aoffs, last, 1, n_out)
        if loss_kind == LOSS_SOFTMAX_CE:
            cost = softmax_cross_entropy(d_last, a_last, y[i:i + 1, :])
        else:
            cost = mse(d_last, a_last, y[i:i + 1, :])
        costs[k] = cost
        if not np.isfinite(cost):
            break
        for l in range(last - 1, -1, -1):
            m, n_in = sizes[l + 1], sizes[l]
            dz = deltas[aoffs[l + 1]:aoffs[l + 1] + m]
            a_out = acts[aoffs[l + 1]:aoffs[l + 1] + m]
            a_in = acts[aoffs[l]:aoffs[l] + n_in]
            d_in = deltas[aoffs[l]:aoffs[l] + n_in]
            w = _weight(params, poffs, sizes, l)
            b = _bias(params, poffs, sizes, l)
            if activations[l] != ACT_IDENTITY:
                dz_row = dz.reshape((1, m))
                _act_grad(dz_row, dz_row, a_out.reshape((1, m)), activations[l])
            if l > 0:
                d_in[:] = zero
            for o in range(m):
                c = dz[o]
                if l > 0:
                    for j in range(n_in):
                        d_in[j] += w[o, j] * c
                for j in range(n_in):
                    w[o, j] -= lr * (c * a_in[j] + weight_decay * w[o, j])
                b[0, o] -= lr * (c + weight_decay * b[0, o])
    return costs


@jit
def network_forward(out, params, sizes, activations, x, batch_size):
    """Forward pass of a flat MLP over x (N, n_0) in chunks of ``batch_size``;
    overwrites out (N, n_L) with the last activation (logits for softmax-CE)."""
    n = x.shape[0]
    last = sizes.shape[0] - 1
    poffs = _param_offsets(sizes)
    aoffs = _row_offsets(sizes, batch_size)
    acts = np.empty(aoffs[-1], params.dtype)
    for start in range(0, n, batch_size):
        rows = min(batch_size, n - start)
        xb = _block(acts, aoffs, 0, rows, sizes[0])
        for r in range(rows):
            _copy_row(xb[r], x[start + r])
        _forward(params, poffs, sizes, activations, acts, aoffs, rows)
        out[start:start + rows, :] = _block(acts, aoffs, last, rows, sizes[last])
