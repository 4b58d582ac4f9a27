"""Codes and the flat parameter layout shared by kernels, twins and the model.

A network with widths ``sizes = (n_0, ..., n_L)`` stores all its parameters
in one 1-D buffer: for each layer ``l``, ``w_l`` of shape (n_{l+1}, n_l)
row-major, then ``b_l`` of shape (n_{l+1},). Gradients use the same layout, so
zeroing every gradient is one fill and the update is one ``sgd_update``.
"""
import numpy as np

ACT_IDENTITY = 0
ACT_SIGMOID = 1
ACT_RELU = 2
ACTIVATION_CODES = {"identity": ACT_IDENTITY, "sigmoid": ACT_SIGMOID, "relu": ACT_RELU}

LOSS_MSE = 0
LOSS_SOFTMAX_CE = 1
LOSS_CODES = {"mse": LOSS_MSE, "softmax-ce": LOSS_SOFTMAX_CE}

CE_EPS = 1e-12


def n_params(sizes):
    """Number of scalars in the flat buffer of a network with these widths."""
    return int(sum(sizes[l + 1] * sizes[l] + sizes[l + 1] for l in range(len(sizes) - 1)))


def layer_offsets(sizes):
    """(L+1,) int64 start of each layer's block in the flat buffer (last = total)."""
    offs = [0]
    for l in range(len(sizes) - 1):
        offs.append(offs[-1] + sizes[l + 1] * sizes[l] + sizes[l + 1])
    return np.asarray(offs, dtype=np.int64)


def layer_views(flat, sizes):
    """List of ``(w, b)`` views into ``flat``: w (n_{l+1}, n_l), b (1, n_{l+1})."""
    views = []
    start = 0
    for l in range(len(sizes) - 1):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        w = flat[start:start + n_out * n_in].reshape(n_out, n_in)
        start += n_out * n_in
        b = flat[start:start + n_out].reshape(1, n_out)
        start += n_out
        views.append((w, b))
    return views
