"""Activations: each one's value and slope side by side, the row loops every
kernel applies them with, and the stand-alone activation kernels.

An activation is one code in :data:`ACTIVATIONS`, a ``_value``/``_slope``
pair of scalar functions (the slope is written in terms of the activation's
*output* ``a``, which is what layers store), and one branch in each of
:func:`bias_activation` and :func:`activation_gradient`. The branch sits
outside the inner loop, so each loop is a plain pass over a 1-d row that
LLVM vectorises. The linear kernels, the whole-epoch kernels, the model
layer, checkpoints, the command line and ``jitprop verify`` all read
:data:`ACTIVATIONS`; the NumPy twins are in ``reference.py``.
"""
import numpy as np

from jitprop.kernels.config import jit_leaf
from jitprop.kernels.fastexp import exp_nonpositive
from jitprop.kernels.registry import kernel

IDENTITY, SIGMOID, RELU, TANH, LEAKY_RELU = 0, 1, 2, 3, 4
ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "relu": RELU, "tanh": TANH,
               "leaky-relu": LEAKY_RELU}
LEAKY_SLOPE = 0.01  # leaky ReLU: z for z > 0, LEAKY_SLOPE * z otherwise


# ---------------------------------------------------------------- the math

@jit_leaf
def _sigmoid_value(z, one):
    # exp(-|z|) never overflows; the numerator choice avoids 1 - (1 - tiny).
    # A select, not a branch, so loops over it vectorise.
    e = exp_nonpositive(-abs(z))
    return (one if z >= 0 else e) / (one + e)


@jit_leaf
def _sigmoid_slope(a, one):
    return a * (one - a)


@jit_leaf
def _relu_value(z, zero):
    return z if z > zero else zero


@jit_leaf
def _relu_slope(a, one, zero):
    return one if a > zero else zero


@jit_leaf
def _tanh_value(z):
    return np.tanh(z)


@jit_leaf
def _tanh_slope(a, one):
    return one - a * a


@jit_leaf
def _leaky_value(z, zero, slope):
    return z if z > zero else slope * z


@jit_leaf
def _leaky_slope(a, one, zero, slope):
    # a > 0 exactly when z > 0, so the output tells the side.
    return one if a > zero else slope


# ----------------------------------------------------------- the row loops

@jit_leaf
def copy_row(dst, src):
    """dst[:] = src[:] for 1-d rows. An explicit loop: Numba's slice
    assignment copied minibatch rows at half this speed (600 x 784 float32:
    450 vs 230 us)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@jit_leaf
def bias_activation(out, b, act):
    """out (B, n) = act(out + b) in place, b (1, n); one pass over out."""
    bias_activation_cols(out, b, act, 0, out.shape[0], 0, out.shape[1])


@jit_leaf
def bias_activation_cols(out, b, act, r0, r1, c0, c1):
    """``bias_activation`` on rows r0..r1-1, columns c0..c1-1 (a thread's share).
    The loops run over sliced rows: a loop over range(c0, c1) of a whole row
    did not vectorise (measured 600 x 128 float32, identity: 85 us against 13)."""
    one = out.dtype.type(1)
    zero = out.dtype.type(0)
    slope = out.dtype.type(LEAKY_SLOPE)
    bias = b[0, c0:c1]
    for r in range(r0, r1):
        row = out[r, c0:c1]
        if act == SIGMOID:
            for o in range(row.shape[0]):
                row[o] = _sigmoid_value(row[o] + bias[o], one)
        elif act == RELU:
            for o in range(row.shape[0]):
                row[o] = _relu_value(row[o] + bias[o], zero)
        elif act == TANH:
            for o in range(row.shape[0]):
                row[o] = _tanh_value(row[o] + bias[o])
        elif act == LEAKY_RELU:
            for o in range(row.shape[0]):
                row[o] = _leaky_value(row[o] + bias[o], zero, slope)
        else:
            for o in range(row.shape[0]):
                row[o] += bias[o]


@jit_leaf
def activation_gradient(dz, d_out, a, act):
    """dz (B, n) = d_out * act'(z), written through the stored output a;
    dz may be d_out itself."""
    if dz.ctypes.data != d_out.ctypes.data:
        for r in range(dz.shape[0]):
            copy_row(dz[r], d_out[r])
    activation_gradient_cols(dz, a, act, 0, a.shape[0], 0, a.shape[1])


@jit_leaf
def activation_gradient_cols(dz, a, act, r0, r1, c0, c1):
    """dz *= act'(z) in place on rows r0..r1-1, columns c0..c1-1, written
    through the stored output a (a thread's share, as ``bias_activation_cols``).

    The loops update dz in place over 1-d rows: with three arrays of which
    two are the same buffer, LLVM's overlap check fails and it falls back to
    a scalar loop (measured 64 x 512 float32 ReLU: 38 us against 4.5)."""
    one = a.dtype.type(1)
    zero = a.dtype.type(0)
    slope = a.dtype.type(LEAKY_SLOPE)
    for r in range(r0, r1):
        dz_r, a_r = dz[r, c0:c1], a[r, c0:c1]
        if act == SIGMOID:
            for o in range(a_r.shape[0]):
                dz_r[o] *= _sigmoid_slope(a_r[o], one)
        elif act == RELU:
            for o in range(a_r.shape[0]):
                dz_r[o] *= _relu_slope(a_r[o], one, zero)
        elif act == TANH:
            for o in range(a_r.shape[0]):
                dz_r[o] *= _tanh_slope(a_r[o], one)
        elif act == LEAKY_RELU:
            for o in range(a_r.shape[0]):
                dz_r[o] *= _leaky_slope(a_r[o], one, zero, slope)


@jit_leaf
def shifted_exp(out, z):
    """out = exp(z - max(z)) for 1-d rows; returns (max, sum). Shifting by
    the row max keeps every exp in (0, 1], so nothing overflows for any
    finite z."""
    m = z[0]
    for c in range(1, z.shape[0]):
        if z[c] > m:
            m = z[c]
    s = out.dtype.type(0)
    for c in range(z.shape[0]):
        e = np.exp(z[c] - m)
        out[c] = e
        s += e
    return m, s


# -------------------------------------------------- test recipes and kernels

def _z(rng, b, n, dt, scale):
    return (rng.standard_normal((b, n)) * scale).astype(dt)


def reference_output(z, act):
    """The activation's output for z in float64 (independent of both
    implementations: used to make realistic stored outputs for tests)."""
    z = np.asarray(z, np.float64)
    return {IDENTITY: lambda: z, SIGMOID: lambda: 1 / (1 + np.exp(-np.clip(z, -500, 500))),
            RELU: lambda: np.maximum(z, 0), TANH: lambda: np.tanh(z),
            LEAKY_RELU: lambda: np.where(z > 0, z, LEAKY_SLOPE * z)}[act]()


def _activation_forward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    return (np.empty((b, n_out), dt), _z(rng, b, n_out, dt, scale), ACTIVATIONS[variant])


def _activation_backward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    act = ACTIVATIONS[variant]
    a = reference_output(_z(rng, b, n_out, np.float64, scale), act).astype(dt)
    return (np.empty((b, n_out), dt), _z(rng, b, n_out, dt, 1.0), a, act)


def _softmax_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    return (np.empty((b, n_out), dt), _z(rng, b, n_out, dt, scale))


def _softmax_backward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    z = _z(rng, b, n_out, np.float64, 1.0)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return (np.empty((b, n_out), dt), _z(rng, b, n_out, dt, 1.0), p.astype(dt))


_ACT_NAMES = tuple(ACTIVATIONS)


@kernel(arrays={"out": "B N", "z": "B N"}, writes=("out",), codes={"act": ACTIVATIONS},
        inputs=_activation_forward_inputs, variants=_ACT_NAMES, extreme=True)
def activation_forward(out, z, act):
    """out (B, N) = act(z) elementwise; overwrites ``out``."""
    for r in range(z.shape[0]):
        copy_row(out[r], z[r])
    bias_activation(out, np.zeros((1, z.shape[1]), z.dtype), act)


@kernel(arrays={"d_in": "B N", "d_out": "B N", "a": "B N"}, writes=("d_in",), codes={"act": ACTIVATIONS},
        inputs=_activation_backward_inputs, variants=_ACT_NAMES)
def activation_backward(d_in, d_out, a, act):
    """d_in (B, N) = d_out * act'(z), with ``a`` = act(z) the forward output."""
    activation_gradient(d_in, d_out, a, act)


@kernel(arrays={"out": "B K", "z": "B K"}, writes=("out",), inputs=_softmax_inputs, extreme=True)
def softmax_forward(out, z):
    """Row-wise softmax of z (B, K), shifted by the row max."""
    for r in range(z.shape[0]):
        _, s = shifted_exp(out[r], z[r])
        for c in range(z.shape[1]):
            out[r, c] /= s


@kernel(arrays={"d_in": "B K", "d_out": "B K", "p": "B K"}, writes=("d_in",), inputs=_softmax_backward_inputs)
def softmax_backward(d_in, d_out, p):
    """d_in = p * (d_out - sum(d_out * p, 1)): the softmax Jacobian applied."""
    for r in range(p.shape[0]):
        dot = p.dtype.type(0)
        for c in range(p.shape[1]):
            dot += d_out[r, c] * p[r, c]
        for c in range(p.shape[1]):
            d_in[r, c] = p[r, c] * (d_out[r, c] - dot)
