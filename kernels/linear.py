"""Compiled linear-layer kernels: fused forward and batched backward.

Same names, signatures and order as the twins in ``reference.py``. Shapes:
x (B, n_in), w (n_out, n_in), b (1, n_out), out/a/dz/d_out (B, n_out),
d_in (B, n_in); one float dtype throughout, C-contiguous (the model layer
enforces both before it calls here).
"""
import numpy as np

from jitprop.kernels.config import jit
from jitprop.kernels.fastexp import exp_nonpositive
from jitprop.kernels.layout import ACT_IDENTITY, ACT_RELU, ACT_SIGMOID

# Hand loops against BLAS (np.dot), measured per shape at batch 1..32 with one
# thread (seed and default layer shapes 784x128, 128x32, 32x10, 784x512,
# 512x10): loops win at or below these many rows, BLAS above. The backward
# weight product also needs a temporary plus an add with BLAS, so loops win
# it longer, and always when the layer has few outputs. The ratios are in the
# closing note of issue 3 (measured with a one-off script; bench/test_kernels.py
# times the kernels themselves at these shapes).
LOOP_ROWS_F32 = 8
LOOP_ROWS_F64 = 4
ACC_ROWS_F32 = 4
ACC_ROWS_F64 = 2
FEW_OUTPUTS = 16


@jit
def _sigmoid_scalar(z, one):
    # exp(-|z|) never overflows; the numerator choice avoids 1 - (1 - tiny).
    # A select, not a branch, so loops over it vectorise.
    e = exp_nonpositive(-abs(z))
    return (one if z >= 0 else e) / (one + e)


@jit
def _copy_row(dst, src):
    # An explicit loop: Numba's slice assignment copied the rows of a
    # minibatch at half this speed (600 x 784 float32: 450 vs 230 us).
    for i in range(src.shape[0]):
        dst[i] = src[i]


@jit
def _loop_rows(x):
    return LOOP_ROWS_F32 if x.itemsize == 4 else LOOP_ROWS_F64


@jit
def _matmul_nt(out, x, w):
    """out (B, n_out) = x (B, n_in) @ w.T."""
    if x.shape[0] <= _loop_rows(x):
        for r in range(x.shape[0]):
            for o in range(w.shape[0]):
                acc = out.dtype.type(0)
                for i in range(w.shape[1]):
                    acc += x[r, i] * w[o, i]
                out[r, o] = acc
    else:
        np.dot(x, w.T, out)


@jit
def _matmul_nn(d_in, dz, w):
    """d_in (B, n_in) = dz (B, n_out) @ w (n_out, n_in)."""
    if dz.shape[0] <= _loop_rows(dz):
        d_in[:, :] = 0
        for r in range(dz.shape[0]):
            for o in range(w.shape[0]):
                c = dz[r, o]
                for i in range(w.shape[1]):
                    d_in[r, i] += c * w[o, i]
    else:
        np.dot(dz, w, d_in)


@jit
def _accumulate_matmul_tn(dw, dz, x, overwrite):
    """dw (n_out, n_in) += dz.T (n_out, B) @ x (B, n_in).

    With ``overwrite`` the caller promises dw is zero, so the BLAS path may
    write the product straight into dw (no temporary, no add).
    """
    rows = ACC_ROWS_F32 if dw.itemsize == 4 else ACC_ROWS_F64
    if dz.shape[0] <= rows or (dw.shape[0] <= FEW_OUTPUTS and dz.shape[0] <= 32):
        for r in range(dz.shape[0]):
            for o in range(dw.shape[0]):
                c = dz[r, o]
                for i in range(dw.shape[1]):
                    dw[o, i] += c * x[r, i]
    elif overwrite:
        np.dot(dz.T, x, dw)
    else:
        dw += np.dot(dz.T, x)


@jit
def _bias_act(out, b, act):
    """out = act(out + b) in place, one pass over out (a plain loop per
    activation over 1-d rows, which LLVM vectorises)."""
    one = out.dtype.type(1)
    zero = out.dtype.type(0)
    bias = b[0]
    for r in range(out.shape[0]):
        row = out[r]
        if act == ACT_SIGMOID:
            for o in range(row.shape[0]):
                row[o] = _sigmoid_scalar(row[o] + bias[o], one)
        elif act == ACT_RELU:
            for o in range(row.shape[0]):
                z = row[o] + bias[o]
                row[o] = z if z > zero else zero
        else:
            for o in range(row.shape[0]):
                row[o] += bias[o]


@jit
def _act_grad(dz, d_out, a, act):
    """dz = d_out * act'(z), written through the stored output a (dz may be
    d_out). The loops update dz in place over 1-d rows, one per activation:
    with three arrays of which two are the same buffer, LLVM's overlap check
    fails and it falls back to a scalar loop whose ReLU select becomes an
    unpredictable branch (measured 64 x 512 float32: 38 us against 4.5)."""
    if dz.ctypes.data != d_out.ctypes.data:
        for r in range(dz.shape[0]):
            _copy_row(dz[r], d_out[r])
    one = a.dtype.type(1)
    zero = a.dtype.type(0)
    for r in range(a.shape[0]):
        dz_r, a_r = dz[r], a[r]
        if act == ACT_SIGMOID:
            for o in range(a_r.shape[0]):
                dz_r[o] = dz_r[o] * (a_r[o] * (one - a_r[o]))
        elif act == ACT_RELU:
            for o in range(a_r.shape[0]):
                dz_r[o] = dz_r[o] if a_r[o] > zero else zero


@jit
def _bias_grad_and_d_in(d_in, dw, db, dz, x, w, need_d_in, overwrite=False):
    _accumulate_matmul_tn(dw, dz, x, overwrite)
    for r in range(dz.shape[0]):
        for o in range(dz.shape[1]):
            db[0, o] += dz[r, o]
    if need_d_in:
        _matmul_nn(d_in, dz, w)


@jit
def linear_forward(out, x, w, b):
    """out (B, n_out) = x (B, n_in) @ w.T + b; overwrites ``out``."""
    _matmul_nt(out, x, w)
    _bias_act(out, b, ACT_IDENTITY)


@jit
def linear_sigmoid_forward(out, x, w, b):
    """out (B, n_out) = sigmoid(x @ w.T + b); bias and sigmoid in one pass."""
    _matmul_nt(out, x, w)
    _bias_act(out, b, ACT_SIGMOID)


@jit
def linear_relu_forward(out, x, w, b):
    """out (B, n_out) = max(x @ w.T + b, 0); bias and relu in one pass."""
    _matmul_nt(out, x, w)
    _bias_act(out, b, ACT_RELU)


@jit
def linear_backward(d_in, dw, db, d_out, x, w, need_d_in):
    """dw += d_out.T @ x; db += sum(d_out, 0); d_in = d_out @ w if need_d_in."""
    _bias_grad_and_d_in(d_in, dw, db, d_out, x, w, need_d_in)


@jit
def linear_sigmoid_backward(d_in, dw, db, dz, d_out, a, x, w, need_d_in):
    """dz = d_out * a * (1 - a) (dz may be d_out), then as ``linear_backward``."""
    _act_grad(dz, d_out, a, ACT_SIGMOID)
    _bias_grad_and_d_in(d_in, dw, db, dz, x, w, need_d_in)


@jit
def linear_relu_backward(d_in, dw, db, dz, d_out, a, x, w, need_d_in):
    """dz = d_out * (a > 0) (dz may be d_out), then as ``linear_backward``."""
    _act_grad(dz, d_out, a, ACT_RELU)
    _bias_grad_and_d_in(d_in, dw, db, dz, x, w, need_d_in)
