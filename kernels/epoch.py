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

from jitprop.kernels.activations import (
    IDENTITY, activation_gradient_cols, bias_activation_cols, copy_row,
)
from jitprop.kernels.config import jit, jit_inline, jit_inner
from jitprop.kernels.gemm import (
    TILE_ROWS, UPDATE_ROWS, rows_tile, sample_forward, sample_update, step_value, update_row, update_tile,
)
from jitprop.kernels.layout import n_params
from jitprop.kernels.losses import LOSSES, SOFTMAX_CE, mse_row, softmax_cross_entropy_row
from jitprop.kernels.optimizers import (
    OPTIMIZERS, STATE_BUFFERS, VARIANTS, step_constants, update_scaled, variant_args,
)
from jitprop.kernels.registry import kernel
from jitprop.kernels.simd import VEC_BYTES, vlanes
from jitprop.kernels.sync import atomic_add, atomic_load, wait_until


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
#
# The whole-epoch kernel runs as a team of threads (``team.py``), each
# running ``_epoch_worker`` over the same sequence of phases; a phase is a
# list of independent tasks (tiles of a product, rows of the loss, ...),
# and starts when every task before it is done. Each thread owns a
# contiguous share of every phase's tasks (the same tiles step after step,
# so its share of the weights and optimizer state stays in its core's
# cache) and claims them one at a time from its own counter; when its share
# is done it claims what is left of the others'. Tasks are fixed pieces of
# work and every output element is computed by the same sequence of
# operations whichever thread claims it, so the result does not depend on
# the number of threads, nor on which was faster: a thread that a
# neighbouring process slows down simply does fewer tasks.
#
# For the length of a call each layer's weights live transposed in ``wt``,
# WT (n_in, Op), Op the outputs padded to whole tiles (zeros past n_out), so
# every product is in outer-product form (``gemm.py``); the optimizer's
# state for them likewise in ``st``. WT is stored by tile column ("panel"):
# the pad columns of every row of one tile column, then the next tile
# column, so a product streams through contiguous memory. The input
# gradient needs the weights the other way round: ``ws`` holds a copy W
# (n_out, Ip) of each layer after the first, by tile column of its inputs
# likewise, refreshed after every update. Biases and their state stay in
# ``params`` and ``state``.

# Counters in ``sync``, a cache line apart: tasks done, non-zero when a
# thread failed, then each thread's count of claims from its share.
DONE, STOP, CLAIM = 0, 8, 16


def sync_size(threads):
    return CLAIM + 8 * threads
# Per-layer columns of ``plan`` (int64): widths, padded widths and offsets
# into params (W, b), wt (WT), ws (W copy, activations, dL/dz, bias sums).
P_IN, P_OUT, P_OP, P_IP, P_W, P_B, P_WT, P_WC, P_A, P_DZ, P_BS = range(11)
PLAN_COLUMNS = 11
PREP, FORWARD, LOSS, BACKWARD, FINISH, OUTPUT = range(6)
TASK_MACS = 65536   # multiply-adds per product task: ~1-2 us, well above the cost of claiming it
LOSS_ROWS = 64      # rows per loss task
COPY_VALUES = 32768  # weights per copy task (transposing in, out, and refreshing W copies)


def _pad(n, tile):
    # outputs padded to whole tiles of ``tile`` columns
    return -(-n // tile) * tile


def _aligned_zeros(n, dtype, align=64):
    """A zeroed 1-d array of n values whose data starts on an ``align``-byte
    boundary (vector loads then never straddle a cache line)."""
    raw = np.zeros(n + align // np.dtype(dtype).itemsize, dtype)
    skip = (-raw.ctypes.data % align) // raw.itemsize
    return raw[skip:skip + n]


def epoch_plan(sizes, batch_size, dtype, tile_vectors=2):
    """The per-layer layout (``plan``, see P_*) and the sizes of ``wt`` and
    ``ws`` for a network of widths ``sizes`` at ``batch_size`` rows, the
    outputs padded to whole tiles of ``tile_vectors`` vectors."""
    tile = tile_vectors * VEC_BYTES // np.dtype(dtype).itemsize
    n_layers = len(sizes) - 1
    plan = np.zeros((n_layers, PLAN_COLUMNS), np.int64)
    p = wt = ws = 0
    for l in range(n_layers):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        op = _pad(n_out, tile)
        ip = plan[l - 1, P_OP] if l else n_in
        plan[l, [P_IN, P_OUT, P_OP, P_IP, P_W, P_B, P_WT]] = n_in, n_out, op, ip, p, p + n_out * n_in, wt
        p += n_out * n_in + n_out
        wt += n_in * op
        if l:
            plan[l, P_WC] = ws
            ws += n_out * ip
        plan[l, P_A], plan[l, P_DZ], plan[l, P_BS] = ws, ws + batch_size * op, ws + 2 * batch_size * op
        ws += 2 * batch_size * op + op
    return plan, wt, ws


@jit_inline
def _tasks(kind, l, rows, plan, pad, n_layers):
    """The number of tasks of phase ``kind`` (of layer l) for ``rows`` rows."""
    if kind == PREP or kind == FINISH:
        return -(-plan[l, P_IN] * plan[l, P_OP] // COPY_VALUES)
    if kind == FORWARD:
        rg = _row_group(plan[l, P_IN], pad)
        return plan[l, P_OP] // pad * -(-rows // rg)
    if kind == LOSS or kind == OUTPUT:
        return -(-rows // LOSS_ROWS)
    n = plan[l, P_OP] // pad * -(-plan[l, P_IN] // _input_group(rows, pad)) + 1  # updates, biases
    if l > 0:
        n += plan[l, P_IP] // pad * -(-rows // _row_group(plan[l, P_OUT], pad))  # input gradient
    if l + 1 < n_layers:
        n += _copy_tasks(plan, l + 1)  # refresh the W copy of the layer updated in the phase before
    return n


@jit_inline
def _row_group(k, pad):
    # rows per task of a rows_tile product with inner dimension k
    return TILE_ROWS * max(1, TASK_MACS // (TILE_ROWS * pad * max(k, 1)))


@jit_inline
def _input_group(rows, pad):
    # weight rows per update task at ``rows`` minibatch rows
    return UPDATE_ROWS * max(1, TASK_MACS // (UPDATE_ROWS * pad * max(rows, 1)))


@jit_inline
def _copy_tasks(plan, l):
    return -(-plan[l, P_OUT] * plan[l, P_IN] // COPY_VALUES)


@jit_inline
def _chunk(n, tasks, t):
    # rows t * ceil(n / tasks) .. of n, for task t of ``tasks``
    per = -(-n // tasks)
    return min(n, t * per), min(n, (t + 1) * per)


@jit_inner
def _transpose_in(params, state, wt, st, ws, plan, l, t, n_state, pad):
    """Task t of layer l's PREP: rows of WT (and of the state) from W's
    columns; the first task also copies W into its W copy."""
    n_in, n_out = plan[l, P_IN], plan[l, P_OUT]
    i0, i1 = _chunk(n_in, _tasks(PREP, l, 0, plan, 1, 0), t)
    w = plan[l, P_W]
    for i in range(i0, i1):
        for o0 in range(0, n_out, pad):
            seg = plan[l, P_WT] + o0 * n_in + i * pad
            for q in range(min(pad, n_out - o0)):
                wt[seg + q] = params[w + (o0 + q) * n_in + i]
                for s in range(n_state):
                    st[s, seg + q] = state[s, w + (o0 + q) * n_in + i]
    if l > 0 and t == 0:
        for o in range(n_out):
            for i0 in range(0, n_in, pad):
                seg = plan[l, P_WC] + i0 * n_out + o * pad
                for q in range(min(pad, n_in - i0)):
                    ws[seg + q] = params[w + o * n_in + i0 + q]


@jit_inner
def _transpose_out(params, state, wt, st, plan, l, t, n_state, pad):
    """Task t of layer l's FINISH: W's columns (and the state's) from rows of WT."""
    n_in, n_out = plan[l, P_IN], plan[l, P_OUT]
    i0, i1 = _chunk(n_in, _tasks(FINISH, l, 0, plan, 1, 0), t)
    w = plan[l, P_W]
    for i in range(i0, i1):
        for o0 in range(0, n_out, pad):
            seg = plan[l, P_WT] + o0 * n_in + i * pad
            for q in range(min(pad, n_out - o0)):
                params[w + (o0 + q) * n_in + i] = wt[seg + q]
                for s in range(n_state):
                    state[s, w + (o0 + q) * n_in + i] = st[s, seg + q]


@jit_inner
def _refresh_copy(wt, ws, plan, l, t, pad):
    """Task t of refreshing layer l's W copy from WT."""
    n_in, n_out = plan[l, P_IN], plan[l, P_OUT]
    o0, o1 = _chunk(n_out, _copy_tasks(plan, l), t)
    for o in range(o0, o1):
        src = plan[l, P_WT] + o // pad * pad * n_in + o % pad
        for i0 in range(0, n_in, pad):
            seg = plan[l, P_WC] + i0 * n_out + o * pad
            for q in range(min(pad, n_in - i0)):
                ws[seg + q] = wt[src + (i0 + q) * pad]


@jit_inner
def _rows_product(c, c_base, ldc, a, ridx, r_start, lda, a_base, b, b_base, ldb, k, r0, r1):
    """Rows r0..r1-1 of c[c_base + r * ldc + (0 .. 2 lanes)] = sum_kk
    a[ridx[r_start + r] * lda + a_base + kk] * b[b_base + kk * ldb + ..],
    six rows per tile (the last tile repeats its last row)."""
    for r in range(r0, r1, TILE_ROWS):
        e = r1 - 1
        m0, m1, m2 = r, min(r + 1, e), min(r + 2, e)
        m3, m4, m5 = min(r + 3, e), min(r + 4, e), min(r + 5, e)
        rows_tile(c, c_base + m0 * ldc, c_base + m1 * ldc, c_base + m2 * ldc, c_base + m3 * ldc,
                  c_base + m4 * ldc, c_base + m5 * ldc,
                  a, ridx[r_start + m0] * lda + a_base, ridx[r_start + m1] * lda + a_base,
                  ridx[r_start + m2] * lda + a_base, ridx[r_start + m3] * lda + a_base,
                  ridx[r_start + m4] * lda + a_base, ridx[r_start + m5] * lda + a_base,
                  b, b_base, ldb, k)


@jit_inner
def _forward_task(params, acts, xf, order, start, rows, wt, ws, ident, plan, l, t, pad, batch_size):
    """Task t of layer l's forward: one tile column of 2 vectors, a group of
    rows: z = act(a_in @ w.T + b) into the layer's activation block."""
    n_in, n_out, op = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP]
    rg = _row_group(n_in, pad)
    groups = -(-rows // rg)
    j, g = t // groups, t % groups  # by tile column first: a thread's share is whole columns of WT
    r0, r1 = g * rg, min(rows, (g + 1) * rg)
    col = j * pad
    z = plan[l, P_A]
    panel = plan[l, P_WT] + col * n_in
    if l == 0:
        _rows_product(ws, z + col, op, xf, order, start, n_in, 0, wt, panel, pad, n_in, r0, r1)
    else:
        _rows_product(ws, z + col, op, ws, ident, 0, plan[l - 1, P_OP], plan[l - 1, P_A], wt, panel, pad, n_in, r0,
                      r1)
    z2 = ws[z:z + batch_size * op].reshape((batch_size, op))
    b2 = params[plan[l, P_B]:plan[l, P_B] + n_out].reshape((1, n_out))
    bias_activation_cols(z2, b2, acts[l], r0, r1, col, min(col + pad, n_out))


@jit_inner
def _loss_task(acts, loss_kind, y, order, start, rows, ws, row_costs, plan, t, batch_size):
    """Task t of the loss: rows' dL/dz of the last layer (through its
    activation) and their costs."""
    l = plan.shape[0] - 1
    n_out, op = plan[l, P_OUT], plan[l, P_OP]
    r0, r1 = t * LOSS_ROWS, min(rows, (t + 1) * LOSS_ROWS)
    a, d = plan[l, P_A], plan[l, P_DZ]
    for r in range(r0, r1):
        zr, dr = ws[a + r * op:a + r * op + n_out], ws[d + r * op:d + r * op + n_out]
        if loss_kind == SOFTMAX_CE:
            row_costs[start + r] = softmax_cross_entropy_row(dr, zr, y[order[start + r]])
        else:
            row_costs[start + r] = mse_row(dr, zr, y[order[start + r]])
    if acts[l] != IDENTITY:
        activation_gradient_cols(ws[d:d + batch_size * op].reshape((batch_size, op)),
                                 ws[a:a + batch_size * op].reshape((batch_size, op)), acts[l], r0, r1, 0, n_out)


@jit_inner
def _output_task(out, start, rows, ws, plan, t):
    """Task t of a forward pass's output: rows of the last layer into out."""
    l = plan.shape[0] - 1
    n_out, op, a = plan[l, P_OUT], plan[l, P_OP], plan[l, P_A]
    for r in range(t * LOSS_ROWS, min(rows, (t + 1) * LOSS_ROWS)):
        copy_row(out[start + r], ws[a + r * op:a + r * op + n_out])


@jit_inner
def _backward_task(params, state, acts, kind, cst, inv, xf, order, start, rows, wt, st, ws, ident, plan, l, t,
                   pad, batch_size):
    """Task t of layer l's backward phase: in order, the weight updates
    (tiles of WT), the bias update, the input gradient (tiles of dL/da of
    the layer below, through its activation), refreshing the W copy of the
    layer above."""
    n_in, n_out, op, ip = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP], plan[l, P_IP]
    panels = op // pad
    ig = _input_group(rows, pad)
    n_update = panels * -(-n_in // ig)
    dz = plan[l, P_DZ]
    if t < n_update:
        j, g = t // (n_update // panels), t % (n_update // panels)  # by tile column, as the forward tasks
        i0, i1 = g * ig, min(n_in, (g + 1) * ig)
        col = j * pad
        a, ridx, r_start, lda, a_base = xf, order, start, n_in, 0
        if l > 0:
            a, ridx, r_start, lda, a_base = ws, ident, 0, ip, plan[l - 1, P_A]
        wo = plan[l, P_WT] + col * n_in
        i = i0
        while i + UPDATE_ROWS <= i1:
            update_tile(wt, st, kind, cst, wo + i * pad, pad, a, ridx, r_start, lda, a_base + i, ws, dz + col, op,
                        rows, inv)
            i += UPDATE_ROWS
        for ii in range(i, i1):
            update_row(wt, st, kind, cst, wo + ii * pad, a, ridx, r_start, lda, a_base + ii, ws, dz + col, op, rows,
                       inv)
        return
    t -= n_update
    if t == 0:  # biases: dL/db = sum of the rows of dL/dz, in row order
        bs = ws[plan[l, P_BS]:plan[l, P_BS] + n_out]
        bs[:] = 0
        for r in range(rows):
            d_r = ws[dz + r * op:dz + r * op + n_out]
            for o in range(n_out):
                bs[o] += d_r[o]
        for o in range(n_out):
            step_value(params, state, kind, cst, plan[l, P_B] + o, bs[o] * inv)
        return
    t -= 1
    if l > 0:
        rg = _row_group(n_out, pad)
        n_grad = ip // pad * -(-rows // rg)
        if t < n_grad:
            cols = ip // pad
            j, g = t % cols, t // cols
            r0, r1 = g * rg, min(rows, (g + 1) * rg)
            col = j * pad
            below = plan[l - 1, P_DZ]
            _rows_product(ws, below + col, ip, ws, ident, 0, op, dz, ws, plan[l, P_WC] + col * n_out, pad, n_out, r0,
                          r1)
            a_below = plan[l - 1, P_A]
            activation_gradient_cols(ws[below:below + batch_size * ip].reshape((batch_size, ip)),
                                     ws[a_below:a_below + batch_size * ip].reshape((batch_size, ip)),
                                     acts[l - 1], r0, r1, col, min(col + pad, n_in))
            return
        t -= n_grad
    _refresh_copy(wt, ws, plan, l + 1, t, pad)


@jit_inline
def _task(kind, l, t, params, state, acts, loss_kind, opt_kind, cst, inv, xf, y, order, start, rows, wt, st, ws,
          ident, row_costs, out, plan, pad, batch_size, n_state):
    """Task t of phase ``kind`` (of layer l)."""
    if kind == FORWARD:
        _forward_task(params, acts, xf, order, start, rows, wt, ws, ident, plan, l, t, pad, batch_size)
    elif kind == BACKWARD:
        _backward_task(params, state, acts, opt_kind, cst, inv, xf, order, start, rows, wt, st, ws, ident, plan, l, t,
                       pad, batch_size)
    elif kind == LOSS:
        _loss_task(acts, loss_kind, y, order, start, rows, ws, row_costs, plan, t, batch_size)
    elif kind == PREP:
        _transpose_in(params, state, wt, st, ws, plan, l, t, n_state, pad)
    elif kind == OUTPUT:
        _output_task(out, start, rows, ws, plan, t)
    else:
        _transpose_out(params, state, wt, st, plan, l, t, n_state, pad)


@jit_inline
def _phase_at(p, n_layers, n_steps, training):
    """Phase p of a call: (kind, layer, step). Training: PREP of every
    layer, then per step FORWARD of every layer, LOSS and BACKWARD from the
    last layer down, then FINISH of every layer. A forward pass: PREP, then
    per step FORWARD of every layer and OUTPUT."""
    if p < n_layers:
        return PREP, p, 0
    p -= n_layers
    if not training:
        k, r = p // (n_layers + 1), p % (n_layers + 1)
        return (FORWARD, r, k) if r < n_layers else (OUTPUT, 0, k)
    per_step = 2 * n_layers + 1
    if p < n_steps * per_step:
        k, r = p // per_step, p % per_step
        if r < n_layers:
            return FORWARD, r, k
        if r == n_layers:
            return LOSS, 0, k
        return BACKWARD, 2 * n_layers - r, k
    return FINISH, p - n_steps * per_step, 0


@jit
def _epoch_worker(params, state, acts, loss_kind, opt_kind, hyper, step, mean_loss, xf, y, order, batch_size, lrs,
                  costs, out, training, plan, wt, st, ws, ident, row_costs, sync, threads, tid):
    """The part of ``train_epoch`` (``training``) or of ``network_forward``
    (into ``out``) thread ``tid`` of ``threads`` runs: every
    phase in order (see the comment above DONE), its own share of each
    phase's tasks first, then whatever is left of the others' shares.
    pend[u]: a claim on thread u's counter not yet run (it belongs to a
    later phase); bases[u]: the tasks of thread u's shares before this phase.
    (One loop over the phases with one call of the tasks: the compiler then
    builds the task code once.)"""
    n_layers = plan.shape[0]
    n = order.shape[0]
    n_steps = -(-n // batch_size)
    pad = 2 * vlanes(wt)
    n_state = STATE_BUFFERS[opt_kind]
    pend = np.full(threads, -1, np.int64)
    bases = np.zeros(threads, np.int64)
    done = 0
    one = wt.dtype.type(1)
    cst = step_constants(wt, opt_kind, hyper, 0.0, 1)
    inv = one
    start = rows = 0
    n_phases = 2 * n_layers + n_steps * (2 * n_layers + 1) if training else n_layers + n_steps * (n_layers + 1)
    p = 0
    while p < n_phases:
        kind, l, k = _phase_at(p, n_layers, n_steps, training)
        if kind == FORWARD and l == 0:
            start = k * batch_size
            rows = min(batch_size, n - start)
        elif kind == BACKWARD and l == n_layers - 1:
            cst = step_constants(wt, opt_kind, hyper, lrs[k], step + k + 1)
            inv = one / wt.dtype.type(rows if mean_loss else 1)
        elif kind == FINISH and l == 0:
            rows = 0
        nt = _tasks(kind, l, rows, plan, pad, n_layers)
        if not wait_until(sync, DONE, done, STOP):
            return
        for j in range(threads):
            u = (tid + j) % threads
            lo = nt * u // threads
            end = bases[u] + nt * (u + 1) // threads - lo
            while True:
                if pend[u] < 0:
                    if atomic_load(sync, CLAIM + 8 * u) >= end:
                        break  # all claimed: do not claim (and hold) a task of a later phase
                    pend[u] = atomic_add(sync, CLAIM + 8 * u, 1)
                if pend[u] >= end:
                    break
                _task(kind, l, lo + pend[u] - bases[u], params, state, acts, loss_kind, opt_kind, cst, inv, xf, y,
                      order, start, rows, wt, st, ws, ident, row_costs, out, plan, pad, batch_size, n_state)
                atomic_add(sync, DONE, 1)
                pend[u] = -1
        for u in range(threads):
            bases[u] += nt * (u + 1) // threads - nt * u // threads
        done += nt
        p += 1
        if kind == LOSS:  # every thread needs the cost (row_costs is per sample of the epoch: a thread
            if not wait_until(sync, DONE, done, STOP):  # ahead does not overwrite it)
                return
            total = 0.0
            for r in range(start, start + rows):
                total += row_costs[r]
            cost = total / rows if loss_kind == SOFTMAX_CE else 0.5 * total / (rows * plan[n_layers - 1, P_OUT])
            if tid == 0:
                costs[k] = cost
            if not np.isfinite(cost):
                p = n_phases - n_layers  # stop before this step's update: on to FINISH


def _run_team(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order, batch_size, lrs,
              costs, out, training, threads=None):
    """Run ``_epoch_worker`` on ``threads`` threads (default: Numba's thread
    count, ``numba.set_num_threads``)."""
    import numba

    from jitprop.kernels import team
    plan, n_wt, n_ws = epoch_plan(sizes, batch_size, params.dtype)
    wt = _aligned_zeros(n_wt, params.dtype)
    st = np.zeros((state.shape[0], n_wt), params.dtype)
    ws = _aligned_zeros(n_ws, params.dtype)
    threads = numba.get_num_threads() if threads is None else threads
    sync = np.zeros(sync_size(threads), np.int64)
    args = (params, state, acts, loss_kind, opt_kind, hyper, step, bool(mean_loss), x.reshape(-1), y, order,
            batch_size, lrs, costs, out, training, plan, wt, st, ws, np.arange(batch_size, dtype=np.int64),
            np.zeros(order.shape[0] if training else 0), sync, threads)
    team.run(_epoch_worker, threads, args, sync, STOP)


@kernel(arrays=_TRAIN_ARRAYS, writes=("params", "state"), ints=("sizes", "acts", "order"),
        f64=("hyper", "lrs"), codes=_CODES, inputs=_train_epoch_inputs, variants=tuple(VARIANTS), family="network",
        check=_network_check("train_epoch"), driver=True)
def train_epoch(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order,
                batch_size, lrs):
    """One epoch of minibatch training.

    params (P,) flat, and state (S, P) of the optimizer, updated in place;
    step: updates done before this call (the first here is step + 1);
    mean_loss: divide each minibatch's summed gradient by its rows (the
    batch-mean loss) instead of using the sum (the seeds' convention);
    x (N, n_0), y (N, n_L) in the dtype of params; order (M,) int64 rows of
    x in training order; lrs (ceil(M / batch_size),) float64, one learning
    rate per step. Returns the costs (n_steps,) float64; stops before the
    update of the first step whose cost is not finite (that entry holds it,
    later entries are NaN).

    Runs on Numba's thread count (``numba.set_num_threads``) of threads,
    which share fixed tasks (see the comment above CLAIM): the same bits at
    any thread count. Every weight's update is fused into the product that
    makes its gradient (``gemm.update_tile``), after the layer's input
    gradient is taken with the old weights; the rows of x are read where
    they are.
    """
    n_batches = -(-order.shape[0] // batch_size)
    costs = np.full(n_batches, np.nan)
    _run_team(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order, batch_size, lrs,
              costs, np.empty((0, int(sizes[-1])), params.dtype), True)
    return costs



SAMPLE_VECTORS = 4  # per-sample kernel: columns in groups of 4 vectors (4 chains of fused multiply-adds)


@jit
def _per_sample_worker(params, state, acts, loss_kind, opt_kind, hyper, step, xf, y, order, lrs, costs, plan, wt, st,
                       ws, row_costs):
    """``train_epoch_per_sample`` on the transposed layout of ``_epoch_worker``
    (one thread): per sample the forward pass, the loss, then from the last
    layer down one pass over each layer's WT that takes the input gradient
    (old weights) and steps every row; the first layer's pass also makes
    the next sample's first product, so those weights are read once per
    sample."""
    n_layers = plan.shape[0]
    n = order.shape[0]
    group = SAMPLE_VECTORS * vlanes(wt)
    n_state = STATE_BUFFERS[opt_kind]
    one = wt.dtype.type(1)
    ident = np.zeros(1, np.int64)
    for l in range(n_layers):
        for t in range(_tasks(PREP, l, 0, plan, 1, 0)):
            _transpose_in(params, state, wt, st, ws, plan, l, t, n_state, group)
    n_in0, op0, a0 = plan[0, P_IN], plan[0, P_OP], plan[0, P_A]
    if n > 0:
        for c in range(0, op0, group):
            sample_forward(ws, a0 + c, xf, order[0] * n_in0, n_in0, wt, plan[0, P_WT] + c * n_in0, group)
    for k in range(n):
        for l in range(n_layers):
            n_in, n_out, op, z = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP], plan[l, P_A]
            if l > 0:
                for c in range(0, op, group):
                    sample_forward(ws, z + c, ws, plan[l - 1, P_A], n_in, wt, plan[l, P_WT] + c * n_in, group)
            bias_activation_cols(ws[z:z + op].reshape((1, op)),
                                 params[plan[l, P_B]:plan[l, P_B] + n_out].reshape((1, n_out)), acts[l], 0, 1, 0,
                                 n_out)
        _loss_task(acts, loss_kind, y, order, k, 1, ws, row_costs, plan, 0, 1)
        cost = row_costs[k] if loss_kind == SOFTMAX_CE else 0.5 * row_costs[k] / plan[n_layers - 1, P_OUT]
        costs[k] = cost
        if not np.isfinite(cost):
            break
        cst = step_constants(wt, opt_kind, hyper, lrs[k], step + k + 1)
        for l in range(n_layers - 1, -1, -1):
            n_in, n_out, op, dz = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP], plan[l, P_DZ]
            update_scaled(params, state, opt_kind, cst, plan[l, P_B], one, ws[dz:dz + n_out])
            if l > 0:
                below, a_below = plan[l - 1, P_DZ], plan[l - 1, P_A]
                ws[below:below + n_in] = 0
                for c in range(0, op, group):
                    sample_update(wt, st, opt_kind, cst, plan[l, P_WT] + c * n_in, group, n_in, ws, a_below, ws, dz + c,
                                  ws, below, True, ws, 0, ws, 0, False)
                ip = plan[l, P_IP]
                activation_gradient_cols(ws[below:below + ip].reshape((1, ip)), ws[a_below:a_below + ip].reshape((1, ip)),
                                         acts[l - 1], 0, 1, 0, n_in)
            else:
                forward = k + 1 < n
                xno = order[k + 1] * n_in0 if forward else 0
                for c in range(0, op, group):
                    sample_update(wt, st, opt_kind, cst, plan[0, P_WT] + c * n_in, group, n_in, xf, order[k] * n_in0, ws,
                                  dz + c, ws, 0, False, xf, xno, ws, a0 + c, forward)
    for l in range(n_layers):
        for t in range(_tasks(FINISH, l, 0, plan, 1, 0)):
            _transpose_out(params, state, wt, st, plan, l, t, n_state, group)


@kernel(arrays=_TRAIN_ARRAYS, writes=("params", "state"),
        ints=("sizes", "acts", "order"), f64=("hyper", "lrs"), codes=_CODES, inputs=_per_sample_inputs,
        variants=tuple(VARIANTS), family="network", check=_network_check("train_epoch_per_sample"), driver=True)
def train_epoch_per_sample(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, x, y, order, lrs):
    """One epoch of per-sample training (Homework 1's algorithm), compiled.

    Same arguments and result as ``train_epoch`` with batch size 1. One
    thread; works on the transposed weights of the whole-epoch kernel, and
    each layer's update is fused with its input gradient (taken with the old
    weights, so it equals computing every gradient, then updating) and, for
    the first layer, with the next sample's product.
    """
    plan, n_wt, n_ws = epoch_plan(sizes, 1, params.dtype, SAMPLE_VECTORS)
    costs = np.full(order.shape[0], np.nan)
    _per_sample_worker(params, state, acts, loss_kind, opt_kind, hyper, step, x.reshape(-1), y, order, lrs, costs,
                       plan, _aligned_zeros(n_wt, params.dtype), np.zeros((state.shape[0], n_wt), params.dtype),
                       _aligned_zeros(n_ws, params.dtype), np.zeros(order.shape[0]))
    return costs


@kernel(arrays={"out": "N K", "params": "P", "sizes": "L1", "acts": "L", "x": "N I"}, writes=("out",),
        ints=("sizes", "acts"), inputs=_forward_inputs, family="network", check=_network_check("network_forward"),
        driver=True)
def network_forward(out, params, sizes, acts, x, batch_size):
    """Forward pass of a flat MLP over x (N, n_0) in chunks of ``batch_size``
    rows; overwrites out (N, n_L) with the last activation (the logits for a
    softmax-CE network). The whole-epoch kernel's forward phases (the same
    threads and tiles, no training state), so any number of threads may
    call it at once and the result does not depend on the thread count."""
    n = x.shape[0]
    if not params.flags.writeable:  # the worker's type has writable parameters (training writes them)
        params = params.copy()
    _run_team(params, np.zeros((0, params.shape[0]), params.dtype), sizes, acts, 0, 0, np.zeros(7), 0, False, x,
              np.zeros((1, int(sizes[-1])), params.dtype), np.arange(n, dtype=np.int64), max(1, min(batch_size, n)),
              np.zeros(1), np.zeros(1), out, False)
