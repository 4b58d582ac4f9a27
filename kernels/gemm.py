"""Register-blocked matrix products for the whole-network kernels, with
their neighbours fused in: the optimizer step in the weight-gradient
product's epilogue (dW is never written to memory), and the rows of the
input read through an index (the minibatch is never copied).

The kernels keep each layer's weights transposed, WT (n_in, Op), for the
length of a call (Op: the outputs padded to whole tiles, zeros past n_out),
so every product is in outer-product form: a scalar of one operand
broadcast against vectors of the other, with no horizontal sums.

* ``rows_tile``:     C[6 rows, 2 vectors] = sum_k A[row, k] * B[k, 2 vectors]
                     (the forward product z = x @ WT, and the input
                     gradient dL/da = dL/dz @ W on a copy W of the weights)
* ``update_tile``:   WT[8 rows, 2 vectors] stepped with
                     g = sum_r A[r, i] * dL/dz[r, 2 vectors] / denom
* ``update_row``:    the same for one row of WT (edges)
* ``sample_forward``/``sample_update``: one sample's forward product and
                     its update of four vectors of columns of WT

Determinism: every output element is one chain of fused multiply-adds in
index order, whatever tile, task or thread computes it (edge tiles repeat
the same sequence), so results do not depend on how the work is shared
between threads. Flat offsets into 1-d arrays of one float dtype
throughout; ``ridx`` holds int64 row indices.
"""
from jitprop.kernels.config import jit_leaf
from jitprop.kernels.optimizers import SGD, STATE_BUFFERS, apply_rule
from jitprop.kernels.simd import hsum, load, vbroadcast, vfma, vlanes, vload, vstore, vzero


# ------------------------------------------------------- the optimizer step

@jit_leaf
def _step_vector(params, state, kind, c, i, acc, scale):
    """The optimizer rule on the vector of parameters at flat index i, with
    the gradient scale * acc (one call of the rule for every kind: fewer
    specialisations to compile); returns the new parameters. (The state rows are indexed flat, state[s, i]
    at s * P + i: a view of a row would be counted in and out of the
    reference counter on every call.)"""
    n_state = STATE_BUFFERS[kind]
    n = state.shape[1]
    p = vload(params, i)
    s0 = vload(state, i) if n_state > 0 else p
    s1 = vload(state, n + i) if n_state > 1 else p
    p, s0, s1 = apply_rule(kind, c, p, acc, scale, s0, s1)
    vstore(params, i, p)
    if n_state > 0:
        vstore(state, i, s0)
    if n_state > 1:
        vstore(state, n + i, s1)
    return p


@jit_leaf
def step_value(params, state, kind, c, i, acc, scale):
    """The optimizer rule on the single parameter at flat index i, with the
    gradient scale * acc."""
    n_state = STATE_BUFFERS[kind]
    p = params[i]
    s0 = state[0, i] if n_state > 0 else p
    s1 = state[1, i] if n_state > 1 else p
    p, s0, s1 = apply_rule(kind, c, p, acc, scale, s0, s1)
    params[i] = p
    if n_state > 0:
        state[0, i] = s0
    if n_state > 1:
        state[1, i] = s1


# ------------------------------------------------------------ minibatch tiles

TILE_ROWS = 6     # rows_tile: 6 rows x 2 vectors = 12 accumulators
UPDATE_ROWS = 8   # update_tile: 8 weight rows x 2 vectors = 16 accumulators


@jit_leaf
def rows_tile(c, c0, c1, c2, c3, c4, c5, a, a0, a1, a2, a3, a4, a5, b, bo, ldb, k):
    """Six rows of C, two vectors wide: c[c_m + v] = sum_kk a[a_m + kk] *
    b[bo + kk * ldb + v] for m < 6, v < 2 lanes (flat offsets into 1-d
    arrays; a row may repeat, an edge tile computes its last row again)."""
    lanes = vlanes(b)
    z = vzero(b)
    x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = x40 = x41 = x50 = x51 = z
    for kk in range(k):
        q0, q1 = vload(b, bo), vload(b, bo + lanes)
        s = vbroadcast(b, a, a0 + kk)
        x00, x01 = vfma(s, q0, x00), vfma(s, q1, x01)
        s = vbroadcast(b, a, a1 + kk)
        x10, x11 = vfma(s, q0, x10), vfma(s, q1, x11)
        s = vbroadcast(b, a, a2 + kk)
        x20, x21 = vfma(s, q0, x20), vfma(s, q1, x21)
        s = vbroadcast(b, a, a3 + kk)
        x30, x31 = vfma(s, q0, x30), vfma(s, q1, x31)
        s = vbroadcast(b, a, a4 + kk)
        x40, x41 = vfma(s, q0, x40), vfma(s, q1, x41)
        s = vbroadcast(b, a, a5 + kk)
        x50, x51 = vfma(s, q0, x50), vfma(s, q1, x51)
        bo += ldb
    vstore(c, c0, x00)
    vstore(c, c0 + lanes, x01)
    vstore(c, c1, x10)
    vstore(c, c1 + lanes, x11)
    vstore(c, c2, x20)
    vstore(c, c2 + lanes, x21)
    vstore(c, c3, x30)
    vstore(c, c3 + lanes, x31)
    vstore(c, c4, x40)
    vstore(c, c4 + lanes, x41)
    vstore(c, c5, x50)
    vstore(c, c5 + lanes, x51)


@jit_leaf
def update_tile(w, st, kind, cst, wo, ldw, a, ridx, r0, lda, ac, dz, dzo, ldz, n_rows, inv):
    """Eight rows of WT, two vectors wide, stepped by optimizer ``kind``:
    w[wo + m * ldw + v] with g = inv * sum_r a[ridx[r0 + r] * lda + ac + m]
    * dz[dzo + r * ldz + v] (r < n_rows in order; m < 8, v < 2 lanes); the
    gradient is never written to memory. st: the optimizer state, indexed
    as w."""
    lanes = vlanes(w)
    z = vzero(w)
    x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = x40 = x41 = x50 = x51 = x60 = x61 = x70 = x71 = z
    do = dzo
    for r in range(n_rows):
        ao = load(ridx, r0 + r) * lda + ac
        q0, q1 = vload(dz, do), vload(dz, do + lanes)
        s = vbroadcast(w, a, ao)
        x00, x01 = vfma(s, q0, x00), vfma(s, q1, x01)
        s = vbroadcast(w, a, ao + 1)
        x10, x11 = vfma(s, q0, x10), vfma(s, q1, x11)
        s = vbroadcast(w, a, ao + 2)
        x20, x21 = vfma(s, q0, x20), vfma(s, q1, x21)
        s = vbroadcast(w, a, ao + 3)
        x30, x31 = vfma(s, q0, x30), vfma(s, q1, x31)
        s = vbroadcast(w, a, ao + 4)
        x40, x41 = vfma(s, q0, x40), vfma(s, q1, x41)
        s = vbroadcast(w, a, ao + 5)
        x50, x51 = vfma(s, q0, x50), vfma(s, q1, x51)
        s = vbroadcast(w, a, ao + 6)
        x60, x61 = vfma(s, q0, x60), vfma(s, q1, x61)
        s = vbroadcast(w, a, ao + 7)
        x70, x71 = vfma(s, q0, x70), vfma(s, q1, x71)
        do += ldz
    # SGD's step is a few operations a vector: with the kind a constant in this call, the tests of the kind in
    # each vector's step fold away once LLVM inlines it (measured, batch 12, one core: +3% float32, +5% float64;
    # Adam's step, much longer, unchanged). _step_tile is a leaf, not inlined into this function's Numba IR:
    # LLVM inlines the SGD call and calls the other (one copy of the step instead of two in a large
    # function): batch 12 +11% float32 and float64, Adam +2%, and 0.3 s less of a first compile.
    if kind == SGD:
        _step_tile(w, st, SGD, cst, wo, ldw, inv, x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60,
                   x61, x70, x71)
    else:
        _step_tile(w, st, kind, cst, wo, ldw, inv, x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60,
                   x61, x70, x71)


@jit_leaf
def _step_tile(w, st, kind, cst, wo, ldw, inv, x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60, x61,
               x70, x71):
    """update_tile's step of its eight rows of WT with the sums x (the rows'
    two vectors each)."""
    lanes = vlanes(w)
    _step_vector(w, st, kind, cst, wo, x00, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x01, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x10, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x11, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x20, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x21, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x30, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x31, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x40, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x41, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x50, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x51, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x60, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x61, inv)
    wo += ldw
    _step_vector(w, st, kind, cst, wo, x70, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x71, inv)


@jit_leaf
def update_row(w, st, kind, cst, wo, a, ridx, r0, lda, ac, dz, dzo, ldz, n_rows, inv):
    """One row of WT, two vectors wide, as ``update_tile`` steps each of its
    rows (the same sequence per element): for the rows past the last whole
    tile."""
    lanes = vlanes(w)
    x0 = x1 = vzero(w)
    do = dzo
    for r in range(n_rows):
        s = vbroadcast(w, a, load(ridx, r0 + r) * lda + ac)
        x0, x1 = vfma(s, vload(dz, do), x0), vfma(s, vload(dz, do + lanes), x1)
        do += ldz
    _step_vector(w, st, kind, cst, wo, x0, inv)
    _step_vector(w, st, kind, cst, wo + lanes, x1, inv)


# ------------------------------------------------------- one sample at a time

@jit_leaf
def sample_forward(z, zo, a, ao, n_in, wt, wo, ldw):
    """Four vectors of one row: z[zo + v] = sum_i a[ao + i] * wt[wo + i * ldw + v]
    (i in order; v < 4 lanes)."""
    lanes = vlanes(wt)
    z0 = z1 = z2 = z3 = vzero(wt)
    for i in range(n_in):
        s = vbroadcast(wt, a, ao + i)
        z0, z1 = vfma(s, vload(wt, wo), z0), vfma(s, vload(wt, wo + lanes), z1)
        z2, z3 = vfma(s, vload(wt, wo + 2 * lanes), z2), vfma(s, vload(wt, wo + 3 * lanes), z3)
        wo += ldw
    vstore(z, zo, z0)
    vstore(z, zo + lanes, z1)
    vstore(z, zo + 2 * lanes, z2)
    vstore(z, zo + 3 * lanes, z3)


@jit_leaf
def sample_update(wt, st, kind, cst, wo, ldw, n_in, a, ao, dz, dzo, d_in, dio, need_d_in, xn, xno, z, zo, forward):
    """Four vectors of columns of WT (from flat index wo, rows of ldw), every
    row i stepped by optimizer ``kind`` with g = a[ao + i] * dz[dzo + v]: one
    sample's update, one pass over the weights. Before the step, with
    ``need_d_in``, d_in[dio + i] += the row's dot product with dz (the input
    gradient, old weights); after it, with ``forward``, z[zo + v] = sum_i
    xn[xno + i] * the new row (the next sample's product, the weights read
    once for both)."""
    lanes = vlanes(wt)
    d0, d1 = vload(dz, dzo), vload(dz, dzo + lanes)
    d2, d3 = vload(dz, dzo + 2 * lanes), vload(dz, dzo + 3 * lanes)
    z0 = z1 = z2 = z3 = vzero(wt)
    for i in range(n_in):
        if need_d_in:
            q = vfma(vload(wt, wo + lanes), d1, vload(wt, wo) * d0)
            q = vfma(vload(wt, wo + 3 * lanes), d3, vfma(vload(wt, wo + 2 * lanes), d2, q))
            d_in[dio + i] += hsum(q)
        s = load(a, ao + i)
        p0 = _step_vector(wt, st, kind, cst, wo, d0, s)
        p1 = _step_vector(wt, st, kind, cst, wo + lanes, d1, s)
        p2 = _step_vector(wt, st, kind, cst, wo + 2 * lanes, d2, s)
        p3 = _step_vector(wt, st, kind, cst, wo + 3 * lanes, d3, s)
        if forward:
            x = vbroadcast(wt, xn, xno + i)
            z0, z1, z2, z3 = vfma(x, p0, z0), vfma(x, p1, z1), vfma(x, p2, z2), vfma(x, p3, z3)
        wo += ldw
    if forward:
        vstore(z, zo, z0)
        vstore(z, zo + lanes, z1)
        vstore(z, zo + 2 * lanes, z2)
        vstore(z, zo + 3 * lanes, z3)


