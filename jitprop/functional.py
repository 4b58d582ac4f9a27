"""Assignment 1's functions, with its exact names and signatures.

Here, as in that notebook, W has shape (n_in, n_out) and b (n_out,), and the
MSE and hinge gradients are those of the batch *mean*. The arithmetic is done
by the NumPy twins in ``jitprop.kernels.reference`` where one fits, so these
functions and the model layer agree by construction.

Inputs may be lists or arrays of integers (the notebook's examples are
written so); they are computed in float64, float32 arrays stay float32, and
mixed dtypes promote as NumPy does (a dropout mask, 0 or 1, takes its
input's dtype).
``jitprop.sequential`` re-exports every function here next to Assignment 1's
classes.
"""
import numbers

import numpy as np

import jitprop.kernels.reference as ref
from jitprop.kernels.activations import IDENTITY, RELU
from jitprop.checks import check_array, check_scalar

__all__ = ["dense_forward", "dense_grad_input", "dense_grad_W", "dense_grad_b", "relu_forward", "relu_grad_input",
           "hinge_forward", "hinge_grad_input", "l2_regularizer", "dropout_generate_mask", "dropout_forward",
           "dropout_grad_input", "mse_forward", "mse_grad_input"]


def _float(name, x, ndim=None):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.dtype.kind == "b":
        raise TypeError(f"{name}: expected a numeric array, got dtype {x.dtype}")
    x = x.astype(np.float64) if x.dtype.kind != "f" else x
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array of objects (at least 1-D), got a scalar")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {x.shape}")
    return check_array(name, x, x.dtype, ndim=x.ndim)


def _dense_args(x_input, W, b, grad_output=None):
    x_input = _float("x_input", x_input, 2)
    W = _float("W", W, 2)
    b = _float("b", b, 1)
    if W.shape[0] != x_input.shape[1]:
        raise ValueError(f"W: expected shape ({x_input.shape[1]}, n_out) to match x_input {x_input.shape}, got {W.shape}")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b: expected shape ({W.shape[1]},), got {b.shape}")
    if grad_output is not None:
        grad_output = _float("grad_output", grad_output, 2)
        if grad_output.shape != (x_input.shape[0], W.shape[1]):
            raise ValueError(f"grad_output: expected shape {(x_input.shape[0], W.shape[1])}, got {grad_output.shape}")
    dt = np.result_type(x_input, W, b)
    return x_input.astype(dt, copy=False), W.astype(dt, copy=False), b.astype(dt, copy=False), grad_output


def dense_forward(x_input, W, b):
    """x_input (n_objects, n_in) @ W (n_in, n_out) + b (n_out,)."""
    x_input, W, b, _ = _dense_args(x_input, W, b)
    out = np.empty((x_input.shape[0], W.shape[1]), x_input.dtype)
    ref.linear_forward(out, x_input, np.ascontiguousarray(W.T), b[None, :], IDENTITY)
    return out


def dense_grad_input(x_input, grad_output, W, b):
    """dL/dx_input = grad_output @ W.T, shape (n_objects, n_in)."""
    x_input, W, b, g = _dense_args(x_input, W, b, grad_output)
    return g @ W.T


def dense_grad_W(x_input, grad_output, W, b):
    """dL/dW = x_input.T @ grad_output, shape (n_in, n_out)."""
    x_input, W, b, g = _dense_args(x_input, W, b, grad_output)
    return x_input.T @ g


def dense_grad_b(x_input, grad_output, W, b):
    """dL/db = sum of grad_output over objects, shape (n_out,)."""
    x_input, W, b, g = _dense_args(x_input, W, b, grad_output)
    return g.sum(axis=0)


def relu_forward(x_input):
    """max(x_input, 0)."""
    x = _float("x_input", x_input)
    out = np.empty_like(x)
    ref.activation_forward(out, x, RELU)
    return out


def relu_grad_input(x_input, grad_output):
    """grad_output where x_input > 0, else 0."""
    x = _float("x_input", x_input)
    g = _float("grad_output", grad_output)
    if g.shape != x.shape:
        raise ValueError(f"grad_output: expected shape {x.shape} (as x_input), got {g.shape}")
    return g * (x > 0)


def _pair(target_pred, target_true):
    p = _float("target_pred", target_pred)
    t = _float("target_true", target_true)
    if p.shape != t.shape:
        raise ValueError(f"target_pred and target_true: expected the same shape, got {p.shape} and {t.shape}")
    return p, t


def hinge_forward(target_pred, target_true):
    """mean over objects of max(0, 1 - target_pred * target_true)."""
    p, t = _pair(target_pred, target_true)
    return float(np.maximum(0, 1 - p * t).sum() / p.shape[0])


def hinge_grad_input(target_pred, target_true):
    """-target_true * (1 - target_pred * target_true > 0) / n_objects."""
    p, t = _pair(target_pred, target_true)
    return -t * ((1 - p * t) > 0) / p.shape[0]


def l2_regularizer(weight_decay, weights):
    """weight_decay / 2 * the sum of the squared entries of every array in
    ``weights``: a list (or tuple) of arrays of any shapes, such as
    ``model.get_params()``, or one array, whose numbers are then scalar
    weights (the notebook's example: ``l2_regularizer(2, np.array([5, 3, 7,
    5, 0.5]))`` is 108.25). Returns a float."""
    from jitprop.model.optim import l2_term
    if not isinstance(weights, (list, tuple, np.ndarray)):
        raise TypeError(f"weights: expected a list of arrays or an array, got {type(weights).__name__}")
    return l2_term(weight_decay, weights)


def mse_forward(target_pred, target_true):
    """1 / (2 n_objects) * sum((target_true - target_pred)**2)."""
    p, t = _pair(target_pred, target_true)
    return float(((t - p) ** 2).sum() / (2 * p.shape[0]))


def mse_grad_input(target_pred, target_true):
    """(target_pred - target_true) / n_objects."""
    p, t = _pair(target_pred, target_true)
    return (p - t) / p.shape[0]


def check_drop_rate(drop_rate):
    """A probability in [0, 1): 1 would drop everything (and scale by 0 at
    test time)."""
    rate = check_scalar("drop_rate", drop_rate)
    if rate >= 1:
        raise ValueError(f"drop_rate: expected a number in [0, 1), got {drop_rate!r}")
    return rate


def _check_shape(shape):
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    try:
        dims = tuple(dims)
    except TypeError:
        raise TypeError(f"shape: expected a tuple of positive integers, got {shape!r}") from None
    if not dims or any(isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral) or d < 1
                       for d in dims):
        raise ValueError(f"shape: expected a tuple of positive integers, got {shape!r}")
    return tuple(int(d) for d in dims)


def dropout_generate_mask(shape, drop_rate, rng=None):
    """Binary float64 mask of ``shape`` (a tuple of positive integers): each
    entry 0 with probability ``drop_rate`` in [0, 1), else 1. ``rng``: a
    ``numpy.random.Generator`` or ``RandomState``; by default NumPy's global
    generator (``np.random.seed`` repeats it)."""
    shape = _check_shape(shape)
    rate = check_drop_rate(drop_rate)
    rng = rng if rng is not None else np.random
    return (rng.random(shape) >= rate).astype(np.float64)


def dropout_forward(x_input, mask, drop_rate, training_phase):
    """x_input * mask while training (mask as x_input); x_input * (1 -
    drop_rate) at test time (mask unused). In x_input's dtype."""
    x = _float("x_input", x_input)
    rate = check_drop_rate(drop_rate)
    if not isinstance(training_phase, (bool, np.bool_)):
        raise TypeError(f"training_phase: expected True or False, got {training_phase!r}")
    if training_phase:
        m = _float("mask", mask)
        if m.shape != x.shape:
            raise ValueError(f"mask: expected shape {x.shape} (as x_input), got {m.shape}")
        return x * m.astype(x.dtype, copy=False)
    return x * x.dtype.type(1 - rate)


def dropout_grad_input(x_input, grad_output, mask):
    """grad_output * mask, in grad_output's dtype."""
    g = _float("grad_output", grad_output)
    m = _float("mask", mask)
    if m.shape != g.shape:
        raise ValueError(f"mask: expected shape {g.shape} (as grad_output), got {m.shape}")
    return g * m.astype(g.dtype, copy=False)
