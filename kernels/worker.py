"""The whole-epoch kernel's compiled worker: ``train_epoch`` and
``network_forward`` (``epoch.py``) run it on a team of threads (``team.py``).

Every thread runs ``_epoch_worker`` over the same sequence of phases; a phase is a
list of independent tasks (tiles of a product, rows of the loss, ...),
and starts when every task before it is done. Each thread owns a
contiguous share of every phase's tasks (the same tiles step after step,
so its share of the weights and optimizer state stays in its core's
cache) and claims them one at a time from its own counter; when its share
is done it claims what is left of the others'. Tasks are fixed pieces of
work and every output element is computed by the same sequence of
operations whichever thread claims it, so the result does not depend on
the number of threads, nor on which was faster: a thread that a
neighbouring process slows down simply does fewer tasks.

The weights are in the tile-column layout of ``layout.py`` for the length
of a call; the products are the micro-kernels of ``gemm.py``.
"""
import numpy as np

from jitprop.kernels.activations import IDENTITY, activation_gradient_cols, bias_activation_cols, copy_row
from jitprop.kernels.config import jit, jit_inline, jit_leaf
from jitprop.kernels.gemm import TILE_ROWS, UPDATE_ROWS, rows_tile, step_value, update_row, update_tile
from jitprop.kernels.layout import (
    P_A, P_B, P_BS, P_DZ, P_IN, P_IP, P_OP, P_OUT, P_WC, P_WT, laid_out,
)
from jitprop.kernels.losses import SOFTMAX_CE, batch_cost, mse_row, softmax_cross_entropy_row
from jitprop.kernels.optimizers import step_constants
from jitprop.kernels.simd import hsum, imax, imin, load, sfma, store, vfma, view2d, vlanes, vload, vzero
from jitprop.kernels.sync import atomic_add, atomic_load, cycles, wait_until

TILE_VECTORS = 2  # a tile column is 2 vectors wide (the micro-kernels' width)

# Counters in ``sync``, a cache line apart: tasks done, non-zero when a
# thread failed or the run was interrupted (stop), then each thread's count of claims from its share, then
# each thread's time-stamp cycles spent waiting for the others, then in all
# (``team.record``).
DONE, STOP, CLAIM = 0, 8, 16


def sync_size(threads):
    return CLAIM + 24 * threads


FORWARD, LOSS, BACKWARD, OUTPUT = range(4)
TASK_MACS = 65536   # multiply-adds per product task: ~1-2 us, well above the cost of claiming it
LOSS_ROWS = 64      # rows per loss task
COPY_VALUES = 32768  # weights per task refreshing a W copy


@jit_inline
def _tasks(kind, l, rows, plan, pad, n_layers):
    """The number of tasks of phase ``kind`` (of layer l) for ``rows`` rows."""
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
    return TILE_ROWS * imax(1, TASK_MACS // (TILE_ROWS * pad * imax(k, 1)))


@jit_inline
def _input_group(rows, pad):
    # weight rows per update task at ``rows`` minibatch rows
    return UPDATE_ROWS * imax(1, TASK_MACS // (UPDATE_ROWS * pad * imax(rows, 1)))


@jit_inline
def _copy_tasks(plan, l):
    return -(-plan[l, P_OUT] * plan[l, P_IN] // COPY_VALUES)


@jit_inline
def _chunk(n, tasks, t):
    # rows t * ceil(n / tasks) .. of n, for task t of ``tasks``
    per = -(-n // tasks)
    return imin(n, t * per), imin(n, (t + 1) * per)


@jit_leaf
def _refresh_copy(wt, ws, plan, l, t, pad):
    """Task t of refreshing layer l's W copy from WT: rows o of W, each
    read down a column of WT (a stride of pad: the layers after the first
    are small enough to stay in cache). Flat loads and stores, no index
    wraparound: per step this is a transpose of the whole layer, 10% of a
    batch-12 step of 784-128-32-10 with indexed copies (measured)."""
    n_in, n_out = plan[l, P_IN], plan[l, P_OUT]
    o0, o1 = _chunk(n_out, _copy_tasks(plan, l), t)
    for o in range(o0, o1):
        src = plan[l, P_WT] + o // pad * pad * n_in + o % pad
        dst = plan[l, P_WC] + o * pad
        for i0 in range(0, n_in, pad):
            for q in range(imin(pad, n_in - i0)):
                store(ws, dst + q, load(wt, src + q * pad))
            src += pad * pad
            dst += pad * n_out


@jit_leaf
def _rows_product(c, c_base, ldc, a, ridx, r_start, lda, a_base, b, b_base, ldb, k, r0, r1):
    """Rows r0..r1-1 of c[c_base + r * ldc + (0 .. 2 lanes)] = sum_kk
    a[ridx[r_start + r] * lda + a_base + kk] * b[b_base + kk * ldb + ..],
    six rows per tile (the last tile repeats its last row)."""
    for r in range(r0, r1, TILE_ROWS):
        e = r1 - 1
        m0, m1, m2 = r, imin(r + 1, e), imin(r + 2, e)
        m3, m4, m5 = imin(r + 3, e), imin(r + 4, e), imin(r + 5, e)
        rows_tile(c, c_base + m0 * ldc, c_base + m1 * ldc, c_base + m2 * ldc, c_base + m3 * ldc,
                  c_base + m4 * ldc, c_base + m5 * ldc,
                  a, ridx[r_start + m0] * lda + a_base, ridx[r_start + m1] * lda + a_base,
                  ridx[r_start + m2] * lda + a_base, ridx[r_start + m3] * lda + a_base,
                  ridx[r_start + m4] * lda + a_base, ridx[r_start + m5] * lda + a_base,
                  b, b_base, ldb, k)


@jit_leaf
def finite_mark(x, o, n):
    """0.0 when x[o:o + n] are all finite, else NaN (float64): the sum of
    v * 0, which is 0 for a finite v and NaN for NaN or an infinity, as
    fused multiply-adds (with the kernels' fast-math flags, LLVM may fold a
    plain v * 0 or v - v away)."""
    lanes = vlanes(x)
    acc = zero = vzero(x)
    i = 0
    while i + lanes <= n:
        acc = vfma(vload(x, o + i), zero, acc)
        i += lanes
    s = hsum(acc)
    for j in range(i, n):
        s = sfma(load(x, o + j), x.dtype.type(0.0), s)
    return np.float64(s)


@jit_leaf
def _forward_task(params, acts, xf, order, start, rows, wt, ws, ident, row_costs, plan, l, t, pad, batch_size):
    """Task t of layer l's forward: one tile column of 2 vectors, a group of
    rows: z = act(a_in @ w.T + b) into the layer's activation block. In
    training, the first column's tasks of the first layer also start each
    of their rows' cost at finite_mark of its row of x (just read, in the
    cache): NaN for a row that is not all finite, so the step stops before
    its update, as for any non-finite cost."""
    n_in, n_out, op = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP]
    rg = _row_group(n_in, pad)
    groups = -(-rows // rg)
    j, g = t // groups, t % groups  # by tile column first: a thread's share is whole columns of WT
    r0, r1 = g * rg, imin(rows, (g + 1) * rg)
    col = j * pad
    z = plan[l, P_A]
    panel = plan[l, P_WT] + col * n_in
    if l == 0:
        _rows_product(ws, z + col, op, xf, order, start, n_in, 0, wt, panel, pad, n_in, r0, r1)
    else:
        _rows_product(ws, z + col, op, ws, ident, 0, plan[l - 1, P_OP], plan[l - 1, P_A], wt, panel, pad, n_in, r0,
                      r1)
    z2 = view2d(ws, z, batch_size, op)
    b2 = view2d(params, plan[l, P_B], 1, n_out)
    bias_activation_cols(z2, b2, acts[l], r0, r1, col, imin(col + pad, n_out))
    if l == 0 and j == 0 and row_costs.shape[0] > 0:
        for r in range(r0, r1):
            row_costs[start + r] = finite_mark(xf, order[start + r] * n_in, n_in)


@jit_leaf
def _loss_task(acts, loss_kind, y, order, start, rows, ws, row_costs, plan, t, batch_size):
    """Task t of the loss: rows' dL/dz of the last layer (through its
    activation) and their costs, added to row_costs (which holds each row's
    finite_mark)."""
    l = plan.shape[0] - 1
    n_out, op = plan[l, P_OUT], plan[l, P_OP]
    r0, r1 = t * LOSS_ROWS, imin(rows, (t + 1) * LOSS_ROWS)
    a, d = plan[l, P_A], plan[l, P_DZ]
    for r in range(r0, r1):
        zr, dr = ws[a + r * op:a + r * op + n_out], ws[d + r * op:d + r * op + n_out]
        if loss_kind == SOFTMAX_CE:
            row_costs[start + r] += softmax_cross_entropy_row(dr, zr, y[order[start + r]])
        else:
            row_costs[start + r] += mse_row(dr, zr, y[order[start + r]])
    if acts[l] != IDENTITY:
        activation_gradient_cols(view2d(ws, d, batch_size, op),
                                 view2d(ws, a, batch_size, op), acts[l], r0, r1, 0, n_out)


@jit_leaf
def _output_task(out, start, rows, ws, plan, t):
    """Task t of a forward pass's output: rows of the last layer into out."""
    l = plan.shape[0] - 1
    n_out, op, a = plan[l, P_OUT], plan[l, P_OP], plan[l, P_A]
    for r in range(t * LOSS_ROWS, imin(rows, (t + 1) * LOSS_ROWS)):
        copy_row(out[start + r], ws[a + r * op:a + r * op + n_out])


@jit_leaf
def _backward_task(params, state, acts, kind, cst, inv, xf, order, start, rows, wt, st, ws, ident, plan, l, t,
                   pad, batch_size):
    """Task t of layer l's backward phase: in order, the weight updates
    (tiles of WT), the bias update, the input gradient (tiles of dL/da of
    the layer below, through its activation), refreshing the W copy of the
    layer above."""
    n_in, n_out, op, ip = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP], plan[l, P_IP]
    ig = _input_group(rows, pad)
    groups = -(-n_in // ig)
    n_update = op // pad * groups
    dz = plan[l, P_DZ]
    if t < n_update:
        j, g = t // groups, t % groups  # by tile column, as the forward tasks
        i0, i1 = g * ig, imin(n_in, (g + 1) * ig)
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
            step_value(params, state, kind, cst, plan[l, P_B] + o, bs[o], inv)
        return
    t -= 1
    if l > 0:
        rg = _row_group(n_out, pad)
        row_groups = -(-rows // rg)
        n_grad = ip // pad * row_groups
        if t < n_grad:
            j, g = t // row_groups, t % row_groups  # by tile column: the columns the update below reads
            r0, r1 = g * rg, imin(rows, (g + 1) * rg)
            col = j * pad
            below = plan[l - 1, P_DZ]
            _rows_product(ws, below + col, ip, ws, ident, 0, op, dz, ws, plan[l, P_WC] + col * n_out, pad, n_out, r0,
                          r1)
            a_below = plan[l - 1, P_A]
            activation_gradient_cols(view2d(ws, below, batch_size, ip),
                                     view2d(ws, a_below, batch_size, ip),
                                     acts[l - 1], r0, r1, col, imin(col + pad, n_in))
            return
        t -= n_grad
    _refresh_copy(wt, ws, plan, l + 1, t, pad)


@jit_inline
def _task(kind, l, t, params, state, acts, loss_kind, opt_kind, cst, inv, xf, y, order, start, rows, wt, st, ws,
          ident, row_costs, out, plan, pad, batch_size):
    """Task t of phase ``kind`` (of layer l)."""
    if kind == FORWARD:
        _forward_task(params, acts, xf, order, start, rows, wt, ws, ident, row_costs, plan, l, t, pad, batch_size)
    elif kind == BACKWARD:
        _backward_task(params, state, acts, opt_kind, cst, inv, xf, order, start, rows, wt, st, ws, ident, plan, l, t,
                       pad, batch_size)
    elif kind == LOSS:
        _loss_task(acts, loss_kind, y, order, start, rows, ws, row_costs, plan, t, batch_size)
    else:
        _output_task(out, start, rows, ws, plan, t)


@jit_inline
def _phase_at(p, n_layers, n_steps, training):
    """Phase p of a call: (kind, layer, step). Training: per step FORWARD of
    every layer, LOSS and BACKWARD from the last layer down. A forward pass:
    per step FORWARD of every layer and OUTPUT."""
    if not training:
        k, r = p // (n_layers + 1), p % (n_layers + 1)
        return (FORWARD, r, k) if r < n_layers else (OUTPUT, 0, k)
    per_step = 2 * n_layers + 1
    k, r = p // per_step, p % per_step
    if r < n_layers:
        return FORWARD, r, k
    if r == n_layers:
        return LOSS, 0, k
    return BACKWARD, 2 * n_layers - r, k


@jit
def _epoch_worker(params, state, acts, loss_kind, opt_kind, hyper, step, mean_loss, xf, y, order, batch_size, lrs,
                  costs, out, training, plan, wt, st, ws, ident, row_costs, sync, claims, threads, tid):
    """The part of ``train_epoch`` (``training``) or of ``network_forward``
    (into ``out``) thread ``tid`` of ``threads`` runs: every
    phase in order (the module docstring; ``_phase_at``), its own share of each
    phase's tasks first, then whatever is left of the others' shares.
    claims[tid] (see ``_claims``): pend[u], a claim on thread u's counter not
    yet run (it belongs to a later phase); bases[u], the tasks of thread u's
    shares before this phase.
    (One loop over the phases with one call of the tasks: the compiler then
    builds the task code once.)"""
    n_layers = plan.shape[0]
    n = order.shape[0]
    n_steps = -(-n // batch_size)
    pad = TILE_VECTORS * vlanes(wt)
    pend, bases = claims[tid, :threads], claims[tid, threads:2 * threads]
    done = 0
    one = wt.dtype.type(1)
    cst = step_constants(wt, opt_kind, hyper, 0.0, 1)
    inv = one
    start = rows = 0
    began = cycles()
    n_phases = n_steps * (2 * n_layers + 1 if training else n_layers + 1)
    p = 0
    while p < n_phases:
        kind, l, k = _phase_at(p, n_layers, n_steps, training)
        if kind == FORWARD and l == 0:
            start = k * batch_size
            rows = imin(batch_size, n - start)
        elif kind == BACKWARD and l == n_layers - 1:
            cst = step_constants(wt, opt_kind, hyper, lrs[k], step + k + 1)
            inv = one / wt.dtype.type(rows if mean_loss else 1)
        nt = _tasks(kind, l, rows, plan, pad, n_layers)
        waited = cycles()
        if not wait_until(sync, DONE, done, STOP):
            break
        sync[CLAIM + 8 * (threads + tid)] += cycles() - waited
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
                      order, start, rows, wt, st, ws, ident, row_costs, out, plan, pad, batch_size)
                atomic_add(sync, DONE, 1)
                pend[u] = -1
        for u in range(threads):
            bases[u] += nt * (u + 1) // threads - nt * u // threads
        done += nt
        p += 1
        if kind == LOSS:  # every thread needs the cost (row_costs is per sample of the epoch: a thread
            waited = cycles()  # ahead does not overwrite it)
            if not wait_until(sync, DONE, done, STOP):
                break
            sync[CLAIM + 8 * (threads + tid)] += cycles() - waited
            total = 0.0
            for r in range(start, start + rows):
                total += row_costs[r]
            cost = batch_cost(loss_kind, total, rows, plan[n_layers - 1, P_OUT])
            if tid == 0:
                costs[k] = cost
            if not np.isfinite(cost):
                break  # before this step's update
    sync[CLAIM + 8 * (2 * threads + tid)] = cycles() - began


def _claims(threads):
    """Each thread's row of ``_epoch_worker``'s claim bookkeeping: pend (-1,
    no claim) then bases (0), padded so no two threads write one cache line.
    (Made here: np.full and np.zeros in the worker compiled four functions
    of their own on a first run.)"""
    claims = np.zeros((threads, 2 * threads + 8), np.int64)
    claims[:, :threads] = -1
    return claims


def run_team(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order, batch_size, lrs,
              costs, out, training, threads=None):
    """Run ``_epoch_worker`` on ``threads`` threads (default:
    ``team.threads()``), the weights laid out for it and back."""
    from jitprop.kernels import team
    threads = team.threads() if threads is None else threads
    batch_size = max(1, min(batch_size, order.shape[0]))  # one step of all the rows: the same bits, buffers to fit
    sync = np.zeros(sync_size(threads), np.int64)
    with laid_out(params, state, sizes, batch_size, TILE_VECTORS, write_back=training) as (plan, wt, st, ws):
        args = (params, state, acts, loss_kind, opt_kind, hyper, step, bool(mean_loss), x.reshape(-1), y,
                np.ascontiguousarray(order, np.int64), batch_size, lrs, costs, out, training, plan, wt, st, ws,
                np.arange(batch_size, dtype=np.int64), np.empty(order.shape[0] if training else 0), sync,
                _claims(threads), threads)
        team.run(_epoch_worker, threads, args, sync, STOP)
    team.record(threads, sync[CLAIM + 8 * threads:CLAIM + 16 * threads:8], sync[CLAIM + 16 * threads::8])
