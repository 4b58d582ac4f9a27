"""Whole-network kernels on the flat layout: an epoch of minibatch training,
an epoch of per-sample training, and a batched forward pass, each one
compiled call. Twins with the same names and signatures are in
``reference.py``; the flat layout is in ``layout.py``.

A network is described by ``sizes`` (L+1,) int64 widths, ``acts`` (L,)
int64 activation codes (``activations.ACTIVATIONS``) and a loss code
(``losses.LOSSES``; with softmax-CE the last layer's output is the logits).
Training takes an optimizer as in ``optimizers.py``: its code, hyper vector,
state (S, P) and the number of updates done before this call, plus one
learning rate per step (``lrs``), so any schedule runs inside.
"""
import numpy as np
from numba import prange

from jitprop.kernels.activations import IDENTITY, activation_gradient, bias_activation_cols, copy_row
from jitprop.kernels.config import jit_inner, jit_inner_parallel
from jitprop.kernels.gemm import (
    DW_OUTS, FWD_OUTS, FWD_ROWS, bias_update, forward_tiles, input_grad_cols, pack_dz, weight_update_cols,
)
from jitprop.kernels.layout import n_params
from jitprop.kernels.linear import linear_forward
from jitprop.kernels.losses import LOSSES, SOFTMAX_CE, mse, softmax_cross_entropy
from jitprop.kernels.optimizers import (
    OPTIMIZERS, STATE_BUFFERS, VARIANTS, step_constants, update_scaled, variant_args,
)
from jitprop.kernels.registry import kernel
from jitprop.kernels.simd import vlanes


@jit_inner
def _param_offsets(sizes):
    offs = np.zeros(sizes.shape[0], np.int64)
    for l in range(sizes.shape[0] - 1):
        offs[l + 1] = offs[l] + sizes[l + 1] * sizes[l] + sizes[l + 1]
    return offs


@jit_inner
def _row_offsets(sizes, rows):
    # Start of each layer's (rows, n_l) activation block in one work buffer.
    offs = np.zeros(sizes.shape[0] + 1, np.int64)
    for l in range(sizes.shape[0]):
        offs[l + 1] = offs[l] + rows * sizes[l]
    return offs


@jit_inner
def _weight(flat, offs, sizes, l):
    n_out, n_in = sizes[l + 1], sizes[l]
    return flat[offs[l]:offs[l] + n_out * n_in].reshape((n_out, n_in))


@jit_inner
def _bias(flat, offs, sizes, l):
    start = offs[l] + sizes[l + 1] * sizes[l]
    return flat[start:start + sizes[l + 1]].reshape((1, sizes[l + 1]))


@jit_inner
def _block(buf, offs, l, rows, width):
    return buf[offs[l]:offs[l] + rows * width].reshape((rows, width))


@jit_inner
def _forward(params, poffs, sizes, acts, buf, aoffs, rows):
    # buf block 0 holds the input rows; fills blocks 1..L.
    for l in range(sizes.shape[0] - 1):
        linear_forward(_block(buf, aoffs, l + 1, rows, sizes[l + 1]), _block(buf, aoffs, l, rows, sizes[l]),
                       _weight(params, poffs, sizes, l), _bias(params, poffs, sizes, l), acts[l])


@jit_inner
def _loss(d_last, a_last, yb, loss_kind):
    if loss_kind == SOFTMAX_CE:
        return softmax_cross_entropy(d_last, a_last, yb)
    return mse(d_last, a_last, yb)


# ------------------------------------------------------------ test recipes

def _network(rng, b, n_in, n_out, dt, variant, scale=1.0):
    """A 3-layer MLP n_in -> 16 -> 8 -> max(n_out, 2) with random activations
    and loss, random data and order, optimizer ``variant``."""
    from jitprop.kernels.activations import ACTIVATIONS
    sizes = np.array([n_in, 16, 8, max(n_out, 2)], np.int64)
    loss_kind = int(rng.integers(0, len(LOSSES)))
    acts = rng.integers(0, len(ACTIVATIONS), 3).astype(np.int64)
    if loss_kind == SOFTMAX_CE:
        acts[-1] = IDENTITY
    p = n_params(sizes)
    params = (rng.standard_normal(p) * 0.1 * scale).astype(dt)
    state, kind, hyper = variant_args(rng, variant, p, dt)
    n = 3 * b + 1
    x = rng.standard_normal((n, n_in)).astype(dt)
    y = np.zeros((n, int(sizes[-1])), dt)
    y[np.arange(n), rng.integers(0, int(sizes[-1]), n)] = 1
    order = rng.permutation(n).astype(np.int64)
    return sizes, acts, loss_kind, params, state, kind, hyper, x, y, order


def _train_epoch_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    sizes, acts, loss_kind, params, state, kind, hyper, x, y, order = _network(rng, b, n_in, n_out, dt, variant)
    steps = -(-order.shape[0] // b)
    lrs = np.linspace(0.01, 0.005, steps)
    return (params, state, sizes, acts, loss_kind, kind, hyper, int(rng.integers(0, 5)), bool(b % 2),
            x, y, order, b, lrs)


def _per_sample_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    sizes, acts, loss_kind, params, state, kind, hyper, x, y, order = _network(rng, b, n_in, n_out, dt, variant)
    order = order[:8]
    return (params, state, sizes, acts, loss_kind, kind, hyper, int(rng.integers(0, 5)), x, y, order,
            np.linspace(0.01, 0.005, order.shape[0]))


def _forward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    sizes, acts, loss_kind, params, _, _, _, x, _, _ = _network(rng, b, n_in, n_out, dt, "sgd")
    return (np.empty((x.shape[0], int(sizes[-1])), dt), params, sizes, acts, x, b)


def _network_check(name):
    return lambda args, dims: _check_network(name, args)


def _check_network(name, args):
    """What dimensions cannot say: the widths match the parameters, the data
    and the codes; every index of ``order`` is a row of x."""
    from jitprop.kernels.activations import ACTIVATIONS
    sizes, acts = args["sizes"], args["acts"]
    if sizes.shape[0] < 2 or (sizes < 1).any():
        raise ValueError(f"{name}: sizes: expected at least two positive widths, got {sizes.tolist()}")
    if acts.shape[0] != sizes.shape[0] - 1:
        raise ValueError(f"{name}: acts: expected one code per layer ({sizes.shape[0] - 1}), got {acts.shape[0]}")
    if ((acts < 0) | (acts >= len(ACTIVATIONS))).any():
        raise ValueError(f"{name}: acts: expected codes in 0..{len(ACTIVATIONS) - 1}, got {acts.tolist()}")
    if args["params"].shape[0] != n_params(sizes):
        raise ValueError(f"{name}: params: widths {sizes.tolist()} need {n_params(sizes)} parameters, "
                         f"got {args['params'].shape[0]}")
    x = args["x"]
    if x.shape[1] != sizes[0]:
        raise ValueError(f"{name}: x: expected {sizes[0]} columns (sizes[0]), got {x.shape[1]}")
    if "y" in args and args["y"].shape[1] != sizes[-1]:
        raise ValueError(f"{name}: y: expected {sizes[-1]} columns (sizes[-1]), got {args['y'].shape[1]}")
    if "out" in args and args["out"].shape[1] != sizes[-1]:
        raise ValueError(f"{name}: out: expected {sizes[-1]} columns (sizes[-1]), got {args['out'].shape[1]}")
    if args.get("loss_kind") == SOFTMAX_CE and acts[-1] != IDENTITY:
        raise ValueError(f"{name}: acts: softmax-CE takes the last layer's output as logits; "
                         f"expected identity (0) last, got {acts[-1]}")
    if "batch_size" in args and args["batch_size"] < 1:
        raise ValueError(f"{name}: batch_size: expected an integer >= 1, got {args['batch_size']}")
    if "order" in args:
        order = args["order"]
        if order.size and (order.min() < 0 or order.max() >= x.shape[0]):
            raise ValueError(f"{name}: order: expected row indices in 0..{x.shape[0] - 1}, "
                             f"got {int(order.min())}..{int(order.max())}")
        steps = -(-order.shape[0] // args.get("batch_size", 1))
        if args["lrs"].shape[0] != steps:
            raise ValueError(f"{name}: lrs: expected one learning rate per step ({steps}), got {args['lrs'].shape[0]}")
    if "state" in args:
        kind = args["opt_kind"]
        if args["state"].shape != (STATE_BUFFERS[kind], args["params"].shape[0]):
            raise ValueError(f"{name}: state: optimizer {kind} needs shape "
                             f"{(STATE_BUFFERS[kind], args['params'].shape[0])}, got {args['state'].shape}")
        if args["step"] < 0:
            raise ValueError(f"{name}: step: expected the number of updates done so far (>= 0), got {args['step']}")


_TRAIN_ARRAYS = {"params": "P", "state": "S P", "sizes": "L1", "acts": "L", "hyper": "7", "x": "N I", "y": "N K",
                 "order": "M", "lrs": "T"}
_CODES = {"loss_kind": LOSSES, "opt_kind": OPTIMIZERS}


# ---------------------------------------------------------------- kernels

# Each product is split into PARTS shares of tiles, run by Numba's threads
# (prange's static schedule: with 2 threads, the first four shares on one
# core, the last four on the other, step after step, so each core keeps its
# share of the weights in its own cache). The results do not depend on the
# split, so PARTS is a constant (asking Numba for the thread count inside a
# kernel would make it uncachable).
PARTS = 8
# The forward product is split by rows from this many rows up (each share
# then has whole tiles of rows), by output tiles below.
ROW_SPLIT = PARTS * 4 * FWD_ROWS


@jit_inner
def _share(n, parts, i, align):
    """The i-th of ``parts`` consecutive, balanced shares of range(n), made
    of whole chunks of ``align`` (the last chunk may be short)."""
    chunks = -(-n // align)
    return min(n, i * chunks // parts * align), min(n, (i + 1) * chunks // parts * align)


@jit_inner
def _row_block(n_in, itemsize):
    # rows of x per forward block: ~96 KB of them, a multiple of the tile's rows
    return max(FWD_ROWS, (98304 // (n_in * itemsize)) // FWD_ROWS * FWD_ROWS)


@jit_inner_parallel
def _forward_layer(z, x, rows, params, woff, b, act, tiles, block):
    """z = act(x[rows] @ w.T + b), split between Numba's threads: by shares
    of rows from ROW_SPLIT rows (x read once, w by every share from cache),
    by shares of output tiles below (few rows, each share reads them all).
    (A small parallel function of its own: the parallel transformation of
    the whole epoch loop took Numba ~20 s to compile.)"""
    n, n_out = z.shape[0], z.shape[1]
    by_rows = n >= ROW_SPLIT
    for th in prange(PARTS):  # one parallel loop: each costs ~1.5 s of compile time
        if by_rows:
            r0, r1 = _share(n, PARTS, th, FWD_ROWS)
            t0, t1 = 0, tiles
        else:
            r0, r1 = 0, n
            t0, t1 = _share(tiles, PARTS, th, 1)
        forward_tiles(z, x, rows, params, woff, r0, r1, t0, t1, block)
        bias_activation_cols(z, b, act, r0, r1, min(t0 * FWD_OUTS, n_out), min(t1 * FWD_OUTS, n_out))


@jit_inner_parallel
def _backward_layer(d_in, dz, dzp, params, state, kind, c, woff, boff, x, rows, roffs, denom, panels, panel_offs,
                    bias_acc, need_d_in):
    """A layer's input gradient (if ``need_d_in``) and its weights' and
    biases' update, split between Numba's threads by shares of the input
    columns: each share first takes its columns' input gradient with the
    weights before the update, then updates those columns."""
    lanes2 = panels.shape[2]
    n_in, n_out = x.shape[1], dz.shape[1]
    for th in prange(PARTS):
        c0, c1 = _share(n_in, PARTS, th, lanes2)
        if need_d_in:
            input_grad_cols(d_in, dz, params, woff, c0, c1)
        weight_update_cols(params, state, kind, c, woff, n_out, dzp, x, rows, c0, c1, denom, panels[th],
                           roffs, panel_offs[th])
        o0, o1 = _share(n_out, PARTS, th, 1)
        bias_update(params, state, kind, c, boff, dz, o0, o1, denom, bias_acc[th])


@kernel(arrays=_TRAIN_ARRAYS, writes=("params", "state"), ints=("sizes", "acts", "order"),
        f64=("hyper", "lrs"), codes=_CODES, inputs=_train_epoch_inputs, variants=tuple(VARIANTS), family="network",
        check=_network_check("train_epoch"))
def train_epoch(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order,
                batch_size, lrs):
    """One epoch of minibatch training, compiled as one call.

    params (P,) flat, and state (S, P) of the optimizer, updated in place;
    step: updates done before this call (the first here is step + 1);
    mean_loss: divide each minibatch's summed gradient by its rows (the
    batch-mean loss) instead of using the sum (the seeds' convention);
    x (N, n_0), y (N, n_L) in the dtype of params; order (M,) int64 rows of
    x in training order; lrs (ceil(M / batch_size),) float64, one learning
    rate per step. Returns the costs (n_steps,) float64; stops before the
    update of the first step whose cost is not finite (that entry holds it,
    later entries are NaN).

    Each layer's products are split by fixed tiles between the threads of
    Numba's pool (``gemm.py``); every weight's update is fused into the
    product that makes its gradient, after the layer's input gradient is
    taken with the old weights. The rows of x are read where they are.
    Results are the same bits at any thread count.
    """
    n = order.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    costs = np.full(n_batches, np.nan)
    last = sizes.shape[0] - 1
    n_out = sizes[last]
    poffs = _param_offsets(sizes)
    aoffs = _row_offsets(sizes, batch_size)
    buf = np.empty(aoffs[-1], params.dtype)
    deltas = np.empty(aoffs[-1], params.dtype)
    yb_buf = np.empty(batch_size * n_out, params.dtype)
    ident = np.arange(batch_size)
    lanes2 = 2 * vlanes(params)
    panels = np.empty((PARTS, batch_size, lanes2), params.dtype)  # weight_update_cols' scratch
    widest = 0
    for l in range(sizes.shape[0]):
        widest = max(widest, sizes[l])
    bias_acc = np.empty((PARTS, widest), params.dtype)  # bias_update's scratch
    roffs = np.empty(batch_size, np.int64)  # row offsets of a layer's input, for weight_update_cols
    panel_offs = np.empty((PARTS, batch_size), np.int64)  # and of the rows of each part's panel
    dz_packed = np.empty((-(-widest // DW_OUTS)) * DW_OUTS * batch_size, params.dtype)  # pack_dz's
    for k in range(n_batches):
        start = k * batch_size
        rows = min(batch_size, n - start)
        idx = order[start:start + rows]
        for l in range(last):
            x_l = x if l == 0 else _block(buf, aoffs, l, rows, sizes[l])
            r_l = idx if l == 0 else ident[:rows]
            z = _block(buf, aoffs, l + 1, rows, sizes[l + 1])
            b = _bias(params, poffs, sizes, l)
            tiles = -(-sizes[l + 1] // FWD_OUTS)
            block = _row_block(sizes[l], params.itemsize)
            _forward_layer(z, x_l, r_l, params, poffs[l], b, acts[l], tiles, block)
        yb = yb_buf[:rows * n_out].reshape((rows, n_out))
        for r in range(rows):
            copy_row(yb[r], y[idx[r]])
        cost = _loss(_block(deltas, aoffs, last, rows, n_out), _block(buf, aoffs, last, rows, n_out), yb, loss_kind)
        costs[k] = cost
        if not np.isfinite(cost):
            break
        c = step_constants(params, opt_kind, hyper, lrs[k], step + k + 1)
        denom = params.dtype.type(rows if mean_loss else 1)
        for l in range(last - 1, -1, -1):
            dz = _block(deltas, aoffs, l + 1, rows, sizes[l + 1])
            if acts[l] != IDENTITY:
                activation_gradient(dz, dz, _block(buf, aoffs, l + 1, rows, sizes[l + 1]), acts[l])
            x_l = x if l == 0 else _block(buf, aoffs, l, rows, sizes[l])
            r_l = idx if l == 0 else ident[:rows]
            boff = poffs[l] + sizes[l + 1] * sizes[l]
            dzp = dz_packed[:-(-sizes[l + 1] // DW_OUTS) * rows * DW_OUTS].reshape((-(-sizes[l + 1] // DW_OUTS), rows,
                                                                                DW_OUTS))
            pack_dz(dzp, dz)
            for r in range(rows):
                roffs[r] = r_l[r] * sizes[l]
            d_in = _block(deltas, aoffs, l, rows, sizes[l])
            _backward_layer(d_in, dz, dzp, params, state, opt_kind, c, poffs[l], boff, x_l, r_l, roffs[:rows],
                            denom, panels[:, :rows], panel_offs, bias_acc, l > 0)
    return costs


@kernel(arrays=_TRAIN_ARRAYS, writes=("params", "state"),
        ints=("sizes", "acts", "order"), f64=("hyper", "lrs"), codes=_CODES, inputs=_per_sample_inputs,
        variants=tuple(VARIANTS), family="network", check=_network_check("train_epoch_per_sample"))
def train_epoch_per_sample(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, x, y, order, lrs):
    """One epoch of per-sample training (Homework 1's algorithm), compiled.

    Same arguments and result as ``train_epoch`` with batch size 1. Allocates
    its work vectors once per epoch, nothing per sample; each layer's update
    is fused into the backward pass, right after its d_in is computed with
    the old weights (so it equals computing every gradient, then updating).
    """
    n = order.shape[0]
    costs = np.full(n, np.nan)
    last = sizes.shape[0] - 1
    n_out = sizes[last]
    zero, one = params.dtype.type(0), params.dtype.type(1)
    poffs = _param_offsets(sizes)
    aoffs = _row_offsets(sizes, 1)
    buf = np.empty(aoffs[-1], params.dtype)
    deltas = np.empty(aoffs[-1], params.dtype)
    ident = np.zeros(1, np.int64)
    for k in range(n):
        i = order[k]
        for l in range(last):  # the forward tiles, x's row read in place
            x_l = x if l == 0 else _block(buf, aoffs, l, 1, sizes[l])
            z = _block(buf, aoffs, l + 1, 1, sizes[l + 1])
            forward_tiles(z, x_l, order[k:k + 1] if l == 0 else ident, params, poffs[l], 0, 1, 0,
                          -(-sizes[l + 1] // FWD_OUTS), FWD_ROWS)
            bias_activation_cols(z, _bias(params, poffs, sizes, l), acts[l], 0, 1, 0, sizes[l + 1])
        a_in0 = x[i]
        cost = _loss(_block(deltas, aoffs, last, 1, n_out), _block(buf, aoffs, last, 1, n_out), y[i:i + 1, :],
                     loss_kind)
        costs[k] = cost
        if not np.isfinite(cost):
            break
        cst = step_constants(params, opt_kind, hyper, lrs[k], step + k + 1)
        for l in range(last - 1, -1, -1):
            m, n_in = sizes[l + 1], sizes[l]
            dz = deltas[aoffs[l + 1]:aoffs[l + 1] + m]
            a_in = a_in0 if l == 0 else buf[aoffs[l]:aoffs[l] + n_in]
            if acts[l] != IDENTITY:
                dz_row = dz.reshape((1, m))
                activation_gradient(dz_row, dz_row, buf[aoffs[l + 1]:aoffs[l + 1] + m].reshape((1, m)), acts[l])
            d_in = deltas[aoffs[l]:aoffs[l] + n_in]
            if l > 0:
                d_in[:] = zero
            # Row o of w: first its part of d_in (with the old weights), then
            # its step with dW's row dz[o] * a_in (never stored), while in cache.
            for o in range(m):
                lo = poffs[l] + o * n_in
                if l > 0:
                    c = dz[o]
                    w_o = params[lo:lo + n_in]
                    for j in range(n_in):
                        d_in[j] += w_o[j] * c
                update_scaled(params, state, opt_kind, cst, lo, dz[o], a_in)
            update_scaled(params, state, opt_kind, cst, poffs[l] + m * n_in, one, dz)
    return costs


@kernel(arrays={"out": "N K", "params": "P", "sizes": "L1", "acts": "L", "x": "N I"}, writes=("out",),
        ints=("sizes", "acts"), inputs=_forward_inputs, family="network", check=_network_check("network_forward"))
def network_forward(out, params, sizes, acts, x, batch_size):
    """Forward pass of a flat MLP over x (N, n_0) in chunks of ``batch_size``
    rows; overwrites out (N, n_L) with the last activation (the logits for a
    softmax-CE network). Allocates its own work buffer, so any number of
    threads may call it at once."""
    n = x.shape[0]
    last = sizes.shape[0] - 1
    poffs = _param_offsets(sizes)
    aoffs = _row_offsets(sizes, batch_size)
    buf = np.empty(aoffs[-1], params.dtype)
    for start in range(0, n, batch_size):
        rows = min(batch_size, n - start)
        xb = _block(buf, aoffs, 0, rows, sizes[0])
        for r in range(rows):
            copy_row(xb[r], x[start + r])
        _forward(params, poffs, sizes, acts, buf, aoffs, rows)
        res = _block(buf, aoffs, last, rows, sizes[last])
        for r in range(rows):
            copy_row(out[start + r], res[r])
