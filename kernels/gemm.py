"""Register-blocked matrix products for the whole-epoch kernel, with their
neighbours fused in: the optimizer step in the weight-gradient product's
epilogue (dW is never written to memory), and the rows of the input read
through an index (the minibatch is never copied).

Three products, each over a range of tiles, so callers can split the work
between threads by tiles:

* ``forward_tiles``:       z[r, o] = x[rows[r]] . w[o]                (dot-product form)
* ``input_grad_cols``:     d_in[r, i] = sum_o dz[r, o] w[o, i]         (outer-product form)
* ``weight_update_cols``:  w[o, i] stepped with g = sum_r dz[r, o] x[rows[r], i] * (1 / denom)
                                                                        (outer-product form)

Determinism: every output element is computed with the same sequence of
operations whatever tile or thread computes it (fused multiply-adds in index
order, lane-wise, then ``hsum``'s fixed tree and the scalar remainder in
order; the edge code repeats that sequence), so results do not depend on how
the tiles are shared between threads. Shapes: x (N, I), w (O, I) as flat
blocks of ``params``, z and dz (B, O), d_in (B, I); rows (B,) int64 row
indices of x; C-contiguous, one float dtype.
"""
from jitprop.kernels.config import jit_inner
from jitprop.kernels.optimizers import STATE_BUFFERS, apply_rule
from jitprop.kernels.simd import hsum, sfma, vfma, vlanes, vload, vsplat, vstore, vzero

FWD_ROWS, FWD_OUTS = 3, 4   # forward tile: 3 rows x 4 outputs = 12 vector accumulators
DIN_ROWS = 4                # input gradient: 4 rows x 2 vectors = 8 accumulators
DW_OUTS = 6                 # weight update: 6 outputs x 2 vectors = 12 accumulators
DIRECT_ROWS = 32            # weight update: up to this many rows, read x in place (no packing)


@jit_inner
def _fma(a, b, c):
    return sfma(a, b, c)  # as vfma, lane by lane


# ---------------------------------------------------------------- forward

@jit_inner
def _tail(x, xo, w, wo, k0, n, s):
    """s + x[xo + k] * w[wo + k] for k = k0 .. n-1, in order (flat offsets)."""
    for k in range(k0, n):
        s = _fma(x.flat[xo + k], w[wo + k], s)
    return s


@jit_inner
def _dot(x, xo, w, wo, n):
    """One dot product, with the tile's sequence: lanes, hsum, the tail."""
    lanes = vlanes(w)
    acc = vzero(w)
    k = 0
    while k + lanes <= n:
        acc = vfma(vload(x, xo + k), vload(w, wo + k), acc)
        k += lanes
    return _tail(x, xo, w, wo, k, n, hsum(acc))


@jit_inner
def _dot_3x4(z, zr, zo, x, x0, x1, x2, w, w0, w1, w2, w3, n):
    """The 3 x 4 tile z[zr..zr+2, zo..zo+3] of dot products of rows x0..x2
    of x with rows w0..w3 of w (flat offsets), each as ``_dot`` makes it."""
    lanes = vlanes(w)
    a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = a20 = a21 = a22 = a23 = vzero(w)
    k = 0
    while k + lanes <= n:
        p0, p1, p2 = vload(x, x0 + k), vload(x, x1 + k), vload(x, x2 + k)
        q = vload(w, w0 + k)
        a00, a10, a20 = vfma(p0, q, a00), vfma(p1, q, a10), vfma(p2, q, a20)
        q = vload(w, w1 + k)
        a01, a11, a21 = vfma(p0, q, a01), vfma(p1, q, a11), vfma(p2, q, a21)
        q = vload(w, w2 + k)
        a02, a12, a22 = vfma(p0, q, a02), vfma(p1, q, a12), vfma(p2, q, a22)
        q = vload(w, w3 + k)
        a03, a13, a23 = vfma(p0, q, a03), vfma(p1, q, a13), vfma(p2, q, a23)
        k += lanes
    z[zr, zo] = _tail(x, x0, w, w0, k, n, hsum(a00))
    z[zr, zo + 1] = _tail(x, x0, w, w1, k, n, hsum(a01))
    z[zr, zo + 2] = _tail(x, x0, w, w2, k, n, hsum(a02))
    z[zr, zo + 3] = _tail(x, x0, w, w3, k, n, hsum(a03))
    z[zr + 1, zo] = _tail(x, x1, w, w0, k, n, hsum(a10))
    z[zr + 1, zo + 1] = _tail(x, x1, w, w1, k, n, hsum(a11))
    z[zr + 1, zo + 2] = _tail(x, x1, w, w2, k, n, hsum(a12))
    z[zr + 1, zo + 3] = _tail(x, x1, w, w3, k, n, hsum(a13))
    z[zr + 2, zo] = _tail(x, x2, w, w0, k, n, hsum(a20))
    z[zr + 2, zo + 1] = _tail(x, x2, w, w1, k, n, hsum(a21))
    z[zr + 2, zo + 2] = _tail(x, x2, w, w2, k, n, hsum(a22))
    z[zr + 2, zo + 3] = _tail(x, x2, w, w3, k, n, hsum(a23))


@jit_inner
def _dot_1x4(z, zr, zo, x, x0, w, w0, w1, w2, w3, n):
    """The 1 x 4 tile z[zr, zo..zo+3]: one row against four rows of w (an
    edge row of a full tile; batch 1), each as ``_dot`` makes it, with four
    independent accumulators instead of one after the other."""
    lanes = vlanes(w)
    a0 = a1 = a2 = a3 = vzero(w)
    k = 0
    while k + lanes <= n:
        p = vload(x, x0 + k)
        a0 = vfma(p, vload(w, w0 + k), a0)
        a1 = vfma(p, vload(w, w1 + k), a1)
        a2 = vfma(p, vload(w, w2 + k), a2)
        a3 = vfma(p, vload(w, w3 + k), a3)
        k += lanes
    z[zr, zo] = _tail(x, x0, w, w0, k, n, hsum(a0))
    z[zr, zo + 1] = _tail(x, x0, w, w1, k, n, hsum(a1))
    z[zr, zo + 2] = _tail(x, x0, w, w2, k, n, hsum(a2))
    z[zr, zo + 3] = _tail(x, x0, w, w3, k, n, hsum(a3))


@jit_inner
def forward_tiles(z, x, rows, params, woff, r0, r1, t0, t1, row_block):
    """z[r, o] = x[rows[r]] . w[o] (no bias) for the rows r0..r1-1 and the
    output tiles t0..t1-1 (tile t: outputs FWD_OUTS*t .. FWD_OUTS*t +
    FWD_OUTS - 1); w (O, I) is params[woff:woff + O*I] row-major,
    O = z.shape[1]. Rows go in blocks of ``row_block`` so a block of x stays
    in cache across the tiles."""
    n_out = z.shape[1]
    n_in, ldx = x.shape[1], x.shape[1]
    for rb in range(r0, r1, row_block):
        re = min(rb + row_block, r1)
        for t in range(t0, t1):
            o0 = t * FWD_OUTS
            r = rb
            if o0 + FWD_OUTS <= n_out:
                w0 = woff + o0 * n_in
                while r + FWD_ROWS <= re:
                    _dot_3x4(z, r, o0, x, rows[r] * ldx, rows[r + 1] * ldx, rows[r + 2] * ldx,
                             params, w0, w0 + n_in, w0 + 2 * n_in, w0 + 3 * n_in, n_in)
                    r += FWD_ROWS
            for rr in range(r, re):  # edge rows, and every row of an edge tile
                if o0 + FWD_OUTS <= n_out:
                    w0 = woff + o0 * n_in
                    _dot_1x4(z, rr, o0, x, rows[rr] * ldx, params, w0, w0 + n_in, w0 + 2 * n_in, w0 + 3 * n_in,
                             n_in)
                else:
                    for o in range(o0, n_out):
                        z[rr, o] = _dot(x, rows[rr] * ldx, params, woff + o * n_in, n_in)


# ---------------------------------------------------------- input gradient

@jit_inner
def input_grad_cols(d_in, dz, params, woff, c0, c1):
    """d_in[r, i] = sum_o dz[r, o] * w[o, i] (o in order) for the input
    columns c0..c1-1 and every row; w (O, I) = params[woff:] row-major."""
    lanes = vlanes(params)
    n_rows, n_out, n_in = dz.shape[0], dz.shape[1], d_in.shape[1]
    r = 0
    c_end = c0 + (c1 - c0) // (2 * lanes) * (2 * lanes)
    while r + DIN_ROWS <= n_rows:
        for c in range(c0, c_end, 2 * lanes):
            a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = vzero(params)
            for o in range(n_out):
                q0, q1 = vload(params, woff + o * n_in + c), vload(params, woff + o * n_in + c + lanes)
                s = vsplat(params, dz[r, o])
                a00, a01 = vfma(s, q0, a00), vfma(s, q1, a01)
                s = vsplat(params, dz[r + 1, o])
                a10, a11 = vfma(s, q0, a10), vfma(s, q1, a11)
                s = vsplat(params, dz[r + 2, o])
                a20, a21 = vfma(s, q0, a20), vfma(s, q1, a21)
                s = vsplat(params, dz[r + 3, o])
                a30, a31 = vfma(s, q0, a30), vfma(s, q1, a31)
            vstore(d_in, r * n_in + c, a00)
            vstore(d_in, r * n_in + c + lanes, a01)
            vstore(d_in, (r + 1) * n_in + c, a10)
            vstore(d_in, (r + 1) * n_in + c + lanes, a11)
            vstore(d_in, (r + 2) * n_in + c, a20)
            vstore(d_in, (r + 2) * n_in + c + lanes, a21)
            vstore(d_in, (r + 3) * n_in + c, a30)
            vstore(d_in, (r + 3) * n_in + c + lanes, a31)
        for rr in range(r, r + DIN_ROWS):
            _input_grad_row(d_in, dz, params, woff, rr, c_end, c1)
        r += DIN_ROWS
    for rr in range(r, n_rows):
        _input_grad_row(d_in, dz, params, woff, rr, c0, c1)


@jit_inner
def _input_grad_row(d_in, dz, params, woff, r, c0, c1):
    """Row r of input_grad_cols over columns c0..c1-1, the same sequence per
    element (fused multiply-adds over o in order)."""
    lanes = vlanes(params)
    n_out, n_in = dz.shape[1], d_in.shape[1]
    c = c0
    while c + lanes <= c1:
        a = vzero(params)
        for o in range(n_out):
            a = vfma(vsplat(params, dz[r, o]), vload(params, woff + o * n_in + c), a)
        vstore(d_in, r * n_in + c, a)
        c += lanes
    for cc in range(c, c1):
        s = d_in.dtype.type(0)
        for o in range(n_out):
            s = _fma(dz[r, o], params[woff + o * n_in + cc], s)
        d_in[r, cc] = s


# ------------------------------------------------------ weight update (dW)

@jit_inner
def _step_vector(params, state, kind, c, i, g):
    """The optimizer rule on the vector of parameters at flat index i (one
    call of the rule for every kind: fewer specialisations to compile)."""
    n_state = STATE_BUFFERS[kind]
    p = vload(params, i)
    s0 = vload(state[0], i) if n_state > 0 else p
    s1 = vload(state[1], i) if n_state > 1 else p
    p, s0, s1 = apply_rule(kind, c, p, g, s0, s1)
    vstore(params, i, p)
    if n_state > 0:
        vstore(state[0], i, s0)
    if n_state > 1:
        vstore(state[1], i, s1)


@jit_inner
def step_value(params, state, kind, c, i, g):
    """The optimizer rule on the single parameter at flat index i."""
    n_state = STATE_BUFFERS[kind]
    p = params[i]
    s0 = state[0, i] if n_state > 0 else p
    s1 = state[1, i] if n_state > 1 else p
    p, s0, s1 = apply_rule(kind, c, p, g, s0, s1)
    params[i] = p
    if n_state > 0:
        state[0, i] = s0
    if n_state > 1:
        state[1, i] = s1


@jit_inner
def _pack(panel, x, rows, col, width):
    """panel[r, :width] = x[rows[r], col:col + width]: the column chunk of the
    minibatch's rows, contiguous, so the tiles read it sequentially."""
    ldx = x.shape[1]
    for r in range(panel.shape[0]):
        src = rows[r] * ldx + col
        for j in range(width):
            panel[r, j] = x.flat[src + j]


@jit_inner
def pack_dz(dzp, dz):
    """dzp[t, r, j] = dz[r, DW_OUTS * t + j] (zero past the last output): the
    columns of each weight-update tile contiguous row after row."""
    n_rows, n_out = dz.shape[0], dz.shape[1]
    for t in range(dzp.shape[0]):
        o0 = t * DW_OUTS
        for r in range(n_rows):
            for j in range(DW_OUTS):
                dzp[t, r, j] = dz[r, o0 + j] if o0 + j < n_out else 0


@jit_inner
def _update_row(params, state, kind, c, woff, n_in, dzp, panel, o, col, width, denom):
    """Weights (o, col .. col+width-1) stepped with their gradients from the
    packed dz and panel, the same sequence per element (fused multiply-adds
    over the rows in order)."""
    lanes = vlanes(params)
    pw = panel.shape[1]
    t, j0 = o // DW_OUTS, o % DW_OUTS
    n_rows = panel.shape[0]
    j = 0
    while j + lanes <= width:
        a = vzero(params)
        po = j
        for r in range(n_rows):
            a = vfma(vsplat(params, dzp[t, r, j0]), vload(panel, po), a)
            po += pw
        _step_vector(params, state, kind, c, woff + o * n_in + col + j, a * (params.dtype.type(1) / denom))
        j += lanes
    for jj in range(j, width):
        s = params.dtype.type(0)
        for r in range(n_rows):
            s = _fma(dzp[t, r, j0], panel[r, jj], s)
        step_value(params, state, kind, c, woff + o * n_in + col + jj, s * (params.dtype.type(1) / denom))


@jit_inner
def _tile_6x2(params, state, kind, c, i, n_in, dzt, src, offs, col, n_rows, inv):
    """One tile: weights (6 outputs from flat index i, 2 vectors) stepped
    with sum_r dzt[r, j] * src[offs[r] + col ..] * inv (dzt: the tile's
    packed dz), the offsets advancing by addition."""
    lanes = vlanes(params)
    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = vzero(params)
    do = 0
    for r in range(n_rows):
        xo = offs[r] + col
        q0, q1 = vload(src, xo), vload(src, xo + lanes)
        s = vsplat(params, dzt.flat[do])
        a00, a01 = vfma(s, q0, a00), vfma(s, q1, a01)
        s = vsplat(params, dzt.flat[do + 1])
        a10, a11 = vfma(s, q0, a10), vfma(s, q1, a11)
        s = vsplat(params, dzt.flat[do + 2])
        a20, a21 = vfma(s, q0, a20), vfma(s, q1, a21)
        s = vsplat(params, dzt.flat[do + 3])
        a30, a31 = vfma(s, q0, a30), vfma(s, q1, a31)
        s = vsplat(params, dzt.flat[do + 4])
        a40, a41 = vfma(s, q0, a40), vfma(s, q1, a41)
        s = vsplat(params, dzt.flat[do + 5])
        a50, a51 = vfma(s, q0, a50), vfma(s, q1, a51)
        do += DW_OUTS
    _step_vector(params, state, kind, c, i, a00 * inv)
    _step_vector(params, state, kind, c, i + lanes, a01 * inv)
    i += n_in
    _step_vector(params, state, kind, c, i, a10 * inv)
    _step_vector(params, state, kind, c, i + lanes, a11 * inv)
    i += n_in
    _step_vector(params, state, kind, c, i, a20 * inv)
    _step_vector(params, state, kind, c, i + lanes, a21 * inv)
    i += n_in
    _step_vector(params, state, kind, c, i, a30 * inv)
    _step_vector(params, state, kind, c, i + lanes, a31 * inv)
    i += n_in
    _step_vector(params, state, kind, c, i, a40 * inv)
    _step_vector(params, state, kind, c, i + lanes, a41 * inv)
    i += n_in
    _step_vector(params, state, kind, c, i, a50 * inv)
    _step_vector(params, state, kind, c, i + lanes, a51 * inv)


@jit_inner
def weight_update_cols(params, state, kind, c, woff, n_out, dzp, x, rows, c0, c1, denom, panel, roff,
                       roff_panel):
    """Step every weight w[o, i] of the input columns c0..c1-1 (w =
    params[woff:] row-major, n_out x I with I = x.shape[1]) with
    g = sum_r dz[r, o] * x[rows[r], i] / denom, never writing g to memory;
    dz comes packed by ``pack_dz``. Columns go in chunks of two vectors: each
    chunk of the minibatch's rows is packed once into ``panel`` (rows x 2
    lanes, scratch), then every tile of DW_OUTS outputs reads it sequentially.
    (Offsets advance by addition: the multiplications of 2-D indexing in the
    inner loop cost a third of its speed, measured.) Up to DIRECT_ROWS rows
    the tiles read x in place instead, at the offsets ``roff`` (rows[r] * I):
    packing a few rows costs more than it saves (measured 784 x 128 float32:
    12 rows 61 us direct against 85 packed; 64 rows 253 against 204). Both
    give the same bits. ``roff_panel``: scratch for the panel's offsets."""
    n_rows, n_in = panel.shape[0], x.shape[1]
    pw = panel.shape[1]
    full = n_out // DW_OUTS
    inv = params.dtype.type(1) / denom  # a multiply per gradient (a vector division costs ~4x an FMA)
    direct = n_rows <= DIRECT_ROWS
    poff = roff_panel[:n_rows]
    for r in range(n_rows):
        poff[r] = r * pw
    for col in range(c0, c1, pw):
        width = min(pw, c1 - col)
        if not direct or width < pw or full * DW_OUTS < n_out:
            _pack(panel, x, rows, col, width)
        if width == pw:
            for t in range(full):
                i = woff + t * DW_OUTS * n_in + col
                if direct:
                    _tile_6x2(params, state, kind, c, i, n_in, dzp[t], x, roff, col, n_rows, inv)
                else:
                    _tile_6x2(params, state, kind, c, i, n_in, dzp[t], panel, poff, 0, n_rows, inv)
            for o in range(full * DW_OUTS, n_out):
                _update_row(params, state, kind, c, woff, n_in, dzp, panel, o, col, width, denom)
        else:
            for o in range(n_out):
                _update_row(params, state, kind, c, woff, n_in, dzp, panel, o, col, width, denom)


@jit_inner
def bias_update(params, state, kind, c, boff, dz, o0, o1, denom, acc):
    """Biases o0..o1-1 (params[boff + o]) stepped with sum_r dz[r, o] / denom
    (summed over r in order, rows added as vectors: ``acc`` is scratch of at
    least o1 - o0 values)."""
    s = acc[:o1 - o0]
    s[:] = 0
    for r in range(dz.shape[0]):
        row = dz[r, o0:o1]
        for j in range(row.shape[0]):
            s[j] += row[j]
    inv = params.dtype.type(1) / denom
    for j in range(o1 - o0):
        step_value(params, state, kind, c, boff + o0 + j, s[j] * inv)


def n_tiles(n, per_tile):
    return -(-n // per_tile)
