"""The linear layer, with its activation fused: forward and backward.

Same names, signatures and order as the twins in ``reference.py``. Shapes:
x (B, n_in), w (n_out, n_in), b (1, n_out), out/a/dz/d_out (B, n_out),
d_in (B, n_in); one float dtype throughout, C-contiguous. ``act`` is a code
from ``activations.ACTIVATIONS``: the bias and the activation are applied in
one pass after the product, and the activation's gradient in one pass before
the backward products.
"""
import numpy as np

from jitprop.kernels.activations import ACTIVATIONS, activation_gradient, bias_activation, reference_output
from jitprop.kernels.config import jit_inner
from jitprop.kernels.registry import kernel

# Hand loops against BLAS (np.dot), measured per shape at batch 1..32 with one
# thread (seed and default layer shapes 784x128, 128x32, 32x10, 784x512,
# 512x10): loops win at or below these many rows, BLAS above. The backward
# weight product also needs a temporary plus an add with BLAS, so loops win
# it longer, and always when the layer has few outputs. The ratios are in the
# closing note of issue 3 (measured with a one-off script; `jitprop bench`
# times the kernels themselves at these shapes).
LOOP_ROWS_F32 = 8
LOOP_ROWS_F64 = 4
ACC_ROWS_F32 = 4
ACC_ROWS_F64 = 2
FEW_OUTPUTS = 16


@jit_inner
def _loop_rows(x):
    return LOOP_ROWS_F32 if x.itemsize == 4 else LOOP_ROWS_F64


@jit_inner
def matmul_nt(out, x, w):
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


@jit_inner
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


@jit_inner
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


@jit_inner
def linear_gradients(d_in, dw, db, dz, x, w, need_d_in, overwrite=False):
    """The products of the backward pass for dz = dL/dz (B, n_out):
    dw += dz.T @ x, db += sum(dz, 0), d_in = dz @ w if ``need_d_in``."""
    _accumulate_matmul_tn(dw, dz, x, overwrite)
    for r in range(dz.shape[0]):
        for o in range(dz.shape[1]):
            db[0, o] += dz[r, o]
    if need_d_in:
        _matmul_nn(d_in, dz, w)


# -------------------------------------------------- test recipes and kernels

def _normal(rng, shape, dt, s=1.0):
    return (rng.standard_normal(shape) * s).astype(dt)


def _layer(rng, b, n_in, n_out, dt, scale):
    """x, w, b for a layer; with ``scale`` != 1, extreme pre-activations made
    from small integers, so x @ w.T + b is exact in any summation order and
    only the activation itself is compared."""
    if scale == 1.0:
        return (_normal(rng, (b, n_in), dt), _normal(rng, (n_out, n_in), dt, 1 / np.sqrt(n_in)),
                _normal(rng, (1, n_out), dt))
    x = rng.integers(-3, 4, (b, n_in)).astype(dt)
    w = (rng.integers(-3, 4, (n_out, n_in)) * max(1, int(scale) // n_in)).astype(dt)
    bias = (rng.integers(-3, 4, (1, n_out)) * scale).astype(dt)
    return x, w, bias


def _forward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    x, w, bias = _layer(rng, b, n_in, n_out, dt, scale)
    return (np.empty((b, n_out), dt), x, w, bias, ACTIVATIONS[variant])


def _backward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    x, w, _ = _layer(rng, b, n_in, n_out, dt, 1.0)
    act = ACTIVATIONS[variant]
    a = reference_output(rng.standard_normal((b, n_out)), act).astype(dt)
    return (np.empty((b, n_in), dt), _normal(rng, (n_out, n_in), dt), _normal(rng, (1, n_out), dt),
            np.empty((b, n_out), dt), _normal(rng, (b, n_out), dt), a, x, w, act, True)


BENCH_SHAPES = ((12, 784, 128), (12, 128, 32), (12, 32, 10), (1, 784, 128), (64, 784, 512), (64, 512, 10))


@kernel(arrays={"out": "B O", "x": "B I", "w": "O I", "b": "1 O"}, writes=("out",),
        codes={"act": ACTIVATIONS}, inputs=_forward_inputs, variants=tuple(ACTIVATIONS), extreme=True,
        bench_shapes=BENCH_SHAPES)
def linear_forward(out, x, w, b, act):
    """out (B, O) = act(x (B, I) @ w.T + b); overwrites ``out``. The bias and
    the activation are one pass over ``out`` after the product."""
    matmul_nt(out, x, w)
    bias_activation(out, b, act)


@kernel(arrays={"d_in": "B I", "dw": "O I", "db": "1 O", "dz": "B O", "d_out": "B O", "a": "B O",
                "x": "B I", "w": "O I"}, writes=("d_in", "dw", "db", "dz"), codes={"act": ACTIVATIONS},
        inputs=_backward_inputs, variants=tuple(ACTIVATIONS), bench_shapes=BENCH_SHAPES)
def linear_backward(d_in, dw, db, dz, d_out, a, x, w, act, need_d_in):
    """Backward of ``a = act(x @ w.T + b)`` given d_out = dL/da (B, O).

    Overwrites ``dz`` (may be ``d_out`` itself) with ``d_out * act'(z)``
    (written through the stored output ``a``; unused for identity), then
    accumulates ``dw += dz.T @ x`` and ``db += sum(dz, 0)`` and overwrites
    ``d_in`` with ``dz @ w`` when ``need_d_in`` (a first layer skips it).
    """
    activation_gradient(dz, d_out, a, act)
    linear_gradients(d_in, dw, db, dz, x, w, need_d_in)
