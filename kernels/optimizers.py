"""Optimizers over the flat parameter buffer: SGD (with weight decay),
momentum (heavy ball or Nesterov) and Adam (L2 or decoupled weight decay,
AdamW). Twin in ``reference.py``.

An optimizer is a code from :data:`OPTIMIZERS`, a vector of hyperparameters
laid out as :data:`HYPER` (float64), and ``STATE_BUFFERS[kind]`` state
buffers of the parameters' size, stacked as ``state`` (S, P) in the flat
parameter layout (llm.c keeps AdamW's m and v the same way). The learning
rate comes per call, so schedules stay outside; ``step`` is the 1-based
number of this update (Adam's bias correction). Each rule is one scalar
function below (:func:`apply_rule` picks it, for a value or a SIMD vector);
:func:`update_scaled` applies it to a block of the buffer (the per-sample
kernel, ``optimizer_step``), ``gemm.py`` inside the weight-gradient product.

The rules follow PyTorch's ``torch.optim``:

* sgd:       g = grad + wd * p;  p -= lr * g
* momentum:  g = grad + wd * p;  v = mu * v + g;  p -= lr * (g + mu * v if nesterov else v)
* adam:      g = grad + wd * p (or, decoupled, p *= 1 - lr * wd first);
             m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
             p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
"""
import math

import numpy as np

from jitprop.kernels.config import jit_leaf
from jitprop.kernels.registry import kernel
from jitprop.kernels.simd import fma

SGD, MOMENTUM, ADAM = 0, 1, 2
OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "adam": ADAM}
STATE_BUFFERS = (0, 1, 2)  # by code
WEIGHT_DECAY, MOMENTUM_COEF, NESTEROV, BETA1, BETA2, EPS, DECOUPLED = range(7)
HYPER = ("weight_decay", "momentum", "nesterov", "beta1", "beta2", "eps", "decoupled")


def hyper_vector(weight_decay=0.0, momentum=0.0, nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8,
                 decoupled=False):
    """The float64 hyperparameter vector in the order of :data:`HYPER`."""
    return np.array([weight_decay, momentum, float(nesterov), beta1, beta2, eps, float(decoupled)], np.float64)


# ----------------------------------------------------------------- the rules

# Each rule takes the gradient as ``scale * acc`` (the weight-gradient
# product's accumulator and 1 / denominator, or a sample's input and its
# dL/dz), and is written with fused multiply-adds: one rounding each, and few
# operations in the product's epilogue, where at small batches the rule is a
# large part of the time.

@jit_leaf
def _sgd(p, acc, scale, lr, decay):
    # p - lr * (scale * acc + wd * p) as p * (1 - lr * wd) - (lr * scale) * acc
    return fma(-(lr * scale), acc, p * decay)


@jit_leaf
def _momentum(p, acc, scale, v, lr, wd, mu, nesterov):
    # g = scale * acc + wd * p;  v = mu * v + g;  p - lr * (g + mu * v if nesterov else v)
    g = fma(scale, acc, wd * p)
    v = fma(mu, v, g)
    return fma(-lr, fma(mu, v, g) if nesterov else v, p), v


@jit_leaf
def _adam(p, acc, scale, m, v, step_size, wd, decay, b1, one_b1, b2, one_b2, inv_sqrt_c2, eps):
    # decay = 1 - lr * wd for AdamW (wd is then 0), else 1
    p = p * decay
    g = fma(scale, acc, wd * p)
    m = fma(b1, m, one_b1 * g)
    v = fma(b2, v, (one_b2 * g) * g)
    return fma(-step_size, m / fma(np.sqrt(v), inv_sqrt_c2, eps), p), m, v


@jit_leaf
def _power(b, n):
    """b ** n for float64 b and integer n >= 0 as Numba's ``**`` computes it
    (repeated squaring up to 2**16, then pow: the same bits), without the
    function of its own Numba compiles for ``**`` on a first run."""
    if n > 0x10000:
        return math.pow(b, float(n))
    r = 1.0
    while n > 0:  # (n < 0 is never asked for; != 0 would never end)
        if n & 1:
            r *= b
        n >>= 1
        b *= b
    return r


@jit_leaf
def step_constants(like, kind, hyper, lr, step):
    """The rule's constants for one update, in the dtype of the array
    ``like``: (lr, L2 weight decay, momentum, nesterov, Adam's step size,
    the decay factor 1 - lr * wd of SGD and AdamW (else 1), b1, 1 - b1, b2,
    1 - b2, 1 / sqrt(1 - b2^t), eps). Derived ones are computed in float64,
    then rounded once."""
    dt = like.dtype.type
    decoupled = hyper[DECOUPLED] != 0
    decays = kind == SGD or (kind == ADAM and decoupled)
    b1, b2 = hyper[BETA1], hyper[BETA2]
    return (dt(lr), dt(0.0) if decoupled and kind == ADAM else dt(hyper[WEIGHT_DECAY]), dt(hyper[MOMENTUM_COEF]),
            hyper[NESTEROV] != 0, dt(lr / (1.0 - _power(b1, step))) if kind == ADAM else dt(lr),
            dt(1.0 - lr * hyper[WEIGHT_DECAY]) if decays else dt(1.0), dt(b1), dt(1.0 - b1), dt(b2), dt(1.0 - b2),
            dt(1.0 / np.sqrt(1.0 - _power(b2, step))) if kind == ADAM else dt(1.0), dt(hyper[EPS]))


@jit_leaf
def apply_rule(kind, c, p, acc, scale, s0, s1):
    """Optimizer ``kind``'s rule with constants ``c`` (``step_constants``) on
    a value or a SIMD vector, with the gradient ``scale * acc`` (scale a
    scalar): returns the new (p, s0, s1) (the state values the rule does not
    use pass through)."""
    if kind == SGD:
        return _sgd(p, acc, scale, c[0], c[5]), s0, s1
    if kind == MOMENTUM:
        p2, v = _momentum(p, acc, scale, s0, c[0], c[1], c[2], c[3])
        return p2, v, s1
    return _adam(p, acc, scale, s0, s1, c[4], c[1], c[5], c[6], c[7], c[8], c[9], c[10], c[11])


@jit_leaf
def update_scaled(params, state, kind, c, lo, scale, x):
    """params[lo:lo + n] stepped by optimizer ``kind`` with the gradient
    ``scale * x`` (x (n,), e.g. one row of an outer product dz[o] * a),
    constants ``c`` from ``step_constants`` (state updated alongside)."""
    n = x.shape[0]
    p = params[lo:lo + n]  # indices from 0: loops that vectorise
    if kind == SGD:
        for j in range(n):
            p[j] = apply_rule(SGD, c, p[j], x[j], scale, p[j], p[j])[0]
    elif kind == MOMENTUM:
        v = state[0, lo:lo + n]
        for j in range(n):
            p[j], v[j], _ = apply_rule(MOMENTUM, c, p[j], x[j], scale, v[j], v[j])
    else:
        m, v = state[0, lo:lo + n], state[1, lo:lo + n]
        for j in range(n):
            p[j], m[j], v[j] = apply_rule(ADAM, c, p[j], x[j], scale, m[j], v[j])


# --------------------------------------------------- test recipe and kernel

VARIANTS = {  # verify rows: name -> (code, hyper)
    "sgd": (SGD, dict(weight_decay=1e-3)),
    "momentum": (MOMENTUM, dict(weight_decay=1e-3, momentum=0.9)),
    "nesterov": (MOMENTUM, dict(weight_decay=1e-3, momentum=0.9, nesterov=True)),
    "adam": (ADAM, dict(weight_decay=1e-3)),
    "adamw": (ADAM, dict(weight_decay=1e-2, decoupled=True)),
}


def variant_args(rng, name, p, dt):
    """(state, kind, hyper) for verify variant ``name`` over P parameters,
    with state as after a few earlier steps (v >= 0 for Adam)."""
    kind, kw = VARIANTS[name]
    state = rng.standard_normal((STATE_BUFFERS[kind], p))
    if kind == ADAM:
        state[1] = np.abs(state[1]) * 1e-2
    return state.astype(dt), kind, hyper_vector(**kw)


def _step_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    p = n_in * n_out
    state, kind, hyper = variant_args(rng, variant, p, dt)
    return (rng.standard_normal(p).astype(dt), rng.standard_normal(p).astype(dt), state, kind, hyper,
            0.01, int(rng.integers(1, 50)))


def _check_state(args, dims):
    kind = args["kind"]
    if args["state"].shape[0] != STATE_BUFFERS[kind]:
        raise ValueError(f"optimizer_step: state: optimizer {kind} needs {STATE_BUFFERS[kind]} buffers, "
                         f"got shape {args['state'].shape}")
    if args["step"] < 1:
        raise ValueError(f"optimizer_step: step: expected the 1-based number of this update, got {args['step']}")


@kernel(arrays={"params": "P", "grads": "P", "state": "S P", "hyper": "7"}, writes=("params", "state"),
        f64=("hyper",), codes={"kind": OPTIMIZERS}, inputs=_step_inputs, variants=tuple(VARIANTS),
        bench_shapes=((1, 784, 128),), check=_check_state)
def optimizer_step(params, grads, state, kind, hyper, lr, step):
    """One update of params (P,) with grads (P,), in place, no temporaries.

    state (S, P): the optimizer's buffers (S = STATE_BUFFERS[kind]), updated
    in place; hyper (7,) float64 laid out as HYPER; lr the learning rate;
    step the 1-based number of this update.
    """
    update_scaled(params, state, kind, step_constants(params, kind, hyper, lr, step), 0, params.dtype.type(1), grads)
