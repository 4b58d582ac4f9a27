"""The flat parameter layout shared by kernels, twins and the model, and the
tile-column layout the whole-network kernels work in for the length of a call.

A network with widths ``sizes = (n_0, ..., n_L)`` stores all its parameters
in one 1-D buffer: for each layer ``l``, ``w_l`` of shape (n_{l+1}, n_l)
row-major, then ``b_l`` of shape (n_{l+1},). Gradients and optimizer state
use the same layout, so zeroing every gradient is one fill and an update is
one pass.

For the length of a call, the whole-network kernels keep each layer's
weights transposed, WT (n_in, Op), Op the outputs padded to whole tile
columns of ``pad`` values (zeros past n_out), so every product is in
outer-product form (``gemm.py``); the optimizer's state for them likewise.
WT is stored by tile column: the ``pad`` values of every row of the first
tile column, then the next tile column, so a product streams through
contiguous memory. The input gradient needs the weights the other way
round, so for the minibatch kernel (``tile_plan(copies=True)``) the layers
after the first also get a copy W (n_out, Ip) stored by tile column of its
inputs, refreshed by the kernel after every update.
Biases and their state stay in the flat buffers. ``tile_plan`` says where
everything is; ``lay_out`` and ``lay_back`` copy between the layouts, and
``laid_out`` does both around the call of a worker.
"""
import contextlib

import numpy as np

from jitprop.kernels.simd import VEC_BYTES


def n_params(sizes):
    """Number of scalars in the flat buffer of a network with these widths."""
    return int(sum(int(sizes[l + 1]) * int(sizes[l]) + int(sizes[l + 1]) for l in range(len(sizes) - 1)))


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


# Per-layer columns of a tile plan (int64): widths, padded widths, offsets
# into params (W, b), into wt (WT) and into the work buffer ws (W copy,
# activations, dL/dz, bias sums).
P_IN, P_OUT, P_OP, P_IP, P_W, P_B, P_WT, P_WC, P_A, P_DZ, P_BS = range(11)
PLAN_COLUMNS = 11


def tile_width(dtype, tile_vectors):
    """Values per tile column: ``tile_vectors`` SIMD vectors of ``dtype``."""
    return tile_vectors * VEC_BYTES // np.dtype(dtype).itemsize


def tile_plan(sizes, batch_size, dtype, tile_vectors, copies=True):
    """(plan (L, PLAN_COLUMNS), size of wt, size of ws) for a network of
    widths ``sizes`` at ``batch_size`` rows, in tile columns of
    ``tile_vectors`` vectors (see the module docstring); ``copies``: room
    for the W copies of the layers after the first (P_WC is -1 without)."""
    pad = tile_width(dtype, tile_vectors)
    n_layers = len(sizes) - 1
    plan = np.zeros((n_layers, PLAN_COLUMNS), np.int64)
    p = wt = ws = 0
    for l in range(n_layers):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        op = -(-n_out // pad) * pad
        ip = plan[l - 1, P_OP] if l else n_in
        plan[l, [P_IN, P_OUT, P_OP, P_IP, P_W, P_B, P_WT]] = n_in, n_out, op, ip, p, p + n_out * n_in, wt
        p += n_out * n_in + n_out
        wt += n_in * op
        plan[l, P_WC] = -1
        if l and copies:
            plan[l, P_WC] = ws
            ws += n_out * ip
        plan[l, P_A], plan[l, P_DZ], plan[l, P_BS] = ws, ws + batch_size * op, ws + 2 * batch_size * op
        ws += 2 * batch_size * op + op
    return plan, wt, ws


def aligned_zeros(n, dtype, align=64):
    """A zeroed 1-d array of n values whose data starts on an ``align``-byte
    boundary (vector loads then never straddle a cache line)."""
    raw = np.zeros(n + align // np.dtype(dtype).itemsize, dtype)
    skip = (-raw.ctypes.data % align) // raw.itemsize
    return raw[skip:skip + n]


def _weight_blocks(params, state, wt, st, plan, l):
    """(flat W, its WT) for layer l's weights and each state buffer's."""
    n_in, n_out, op = (int(v) for v in plan[l, [P_IN, P_OUT, P_OP]])
    w = slice(plan[l, P_W], plan[l, P_W] + n_out * n_in)
    t = slice(plan[l, P_WT], plan[l, P_WT] + n_in * op)
    return [(params[w], wt[t])] + [(state[s, w], st[s, t]) for s in range(state.shape[0])]


def lay_out(params, state, wt, st, ws, plan, pad):
    """Fill WT (and the state's, in st) by tile column from the flat W, and
    the W copies the plan has room for, in ws. wt, st and ws come zeroed and
    their padding stays zero."""
    for l in range(plan.shape[0]):
        n_in, n_out, op, ip = (int(v) for v in plan[l, [P_IN, P_OUT, P_OP, P_IP]])
        for flat, tiled in _weight_blocks(params, state, wt, st, plan, l):
            flat, tiled = flat.reshape(n_out, n_in), tiled.reshape(op // pad, n_in, pad)
            for j, o0 in enumerate(range(0, n_out, pad)):
                tiled[j, :, :min(pad, n_out - o0)] = flat[o0:o0 + pad].T
        if plan[l, P_WC] >= 0:
            flat = params[plan[l, P_W]:plan[l, P_W] + n_out * n_in].reshape(n_out, n_in)
            copy = ws[plan[l, P_WC]:plan[l, P_WC] + n_out * ip].reshape(ip // pad, n_out, pad)
            for j, i0 in enumerate(range(0, n_in, pad)):
                copy[j, :, :min(pad, n_in - i0)] = flat[:, i0:i0 + pad]


def lay_back(params, state, wt, st, plan, pad):
    """The flat W (and the state) back from WT: the inverse of ``lay_out``."""
    for l in range(plan.shape[0]):
        n_in, n_out, op = (int(v) for v in plan[l, [P_IN, P_OUT, P_OP]])
        for flat, tiled in _weight_blocks(params, state, wt, st, plan, l):
            flat, tiled = flat.reshape(n_out, n_in), tiled.reshape(op // pad, n_in, pad)
            for j, o0 in enumerate(range(0, n_out, pad)):
                flat[o0:o0 + pad] = tiled[j, :, :min(pad, n_out - o0)].T


@contextlib.contextmanager
def laid_out(params, state, sizes, batch_size, tile_vectors, copies=True, write_back=True):
    """The block runs with the weights and the optimizer state laid out
    (``tile_plan``, ``lay_out``): yields (plan, wt, st, ws). With
    ``write_back`` they are laid back when the block ends, however it ends:
    Ctrl-C lands once the compiled workers return, and the weights must still
    go back to sit with the biases they were stepped with."""
    plan, n_wt, n_ws = tile_plan(sizes, batch_size, params.dtype, tile_vectors, copies)
    wt, ws = aligned_zeros(n_wt, params.dtype), aligned_zeros(n_ws, params.dtype)
    st = np.zeros((state.shape[0], n_wt), params.dtype)
    pad = tile_width(params.dtype, tile_vectors)
    lay_out(params, state, wt, st, ws, plan, pad)
    try:
        yield plan, wt, st, ws
    finally:
        if write_back:
            lay_back(params, state, wt, st, plan, pad)
