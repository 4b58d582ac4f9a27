"""Optimizers over the flat parameter buffer: SGD (with weight decay),
momentum (heavy ball or Nesterov) and Adam (L2 or decoupled weight decay,
AdamW). Twin in ``reference.py``.

An optimizer is a code from :data:`OPTIMIZERS`, a vector of hyperparameters
laid out as :data:`HYPER` (float64), and ``STATE_BUFFERS[kind]`` state
buffers of the parameters' size, stacked as ``state`` (S, P) in the flat
parameter layout (llm.c keeps AdamW's m and v the same way). The learning
rate comes per call, so schedules stay outside; ``step`` is the 1-based
number of this update (Adam's bias correction). Each rule is one scalar
function below; :func:`update_range` applies it to a slice of the buffer
and is what the whole-epoch kernels call.

The rules follow PyTorch's ``torch.optim``:

* sgd:       g = grad + wd * p;  p -= lr * g
* momentum:  g = grad + wd * p;  v = mu * v + g;  p -= lr * (g + mu * v if nesterov else v)
* adam:      g = grad + wd * p (or, decoupled, p *= 1 - lr * wd first);
             m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
             p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
"""
import numpy as np

from jitprop.kernels.config import jit
from jitprop.kernels.registry import kernel

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

@jit
def _sgd(p, g, lr, wd):
    return p - lr * (g + wd * p)


@jit
def _momentum(p, g, v, lr, wd, mu, nesterov):
    g = g + wd * p
    v = mu * v + g
    return p - lr * (g + mu * v if nesterov else v), v


@jit
def _adam(p, g, m, v, step_size, wd, decay, b1, one_b1, b2, one_b2, inv_sqrt_c2, eps):
    # decay = 1 - lr * wd for AdamW (wd is then 0), else 1
    p = p * decay
    g = g + wd * p
    m = b1 * m + one_b1 * g
    v = b2 * v + one_b2 * g * g
    return p - step_size * m / (np.sqrt(v) * inv_sqrt_c2 + eps), m, v


@jit
def update_range(params, grads, state, kind, hyper, lr, step, lo, hi, grad_scale):
    """params[lo:hi] updated with grads[lo:hi] * grad_scale by optimizer
    ``kind`` (state updated alongside). One loop per rule, the branch
    outside it, so each loop vectorises."""
    dt = params.dtype.type
    lr_ = dt(lr)
    s = dt(grad_scale)
    if kind == SGD:
        wd = dt(hyper[WEIGHT_DECAY])
        for i in range(lo, hi):
            params[i] = _sgd(params[i], grads[i] * s, lr_, wd)
    elif kind == MOMENTUM:
        wd = dt(hyper[WEIGHT_DECAY])
        mu = dt(hyper[MOMENTUM_COEF])
        nesterov = hyper[NESTEROV] != 0
        v = state[0]
        for i in range(lo, hi):
            params[i], v[i] = _momentum(params[i], grads[i] * s, v[i], lr_, wd, mu, nesterov)
    else:
        b1, b2 = hyper[BETA1], hyper[BETA2]
        decoupled = hyper[DECOUPLED] != 0
        wd = dt(0.0) if decoupled else dt(hyper[WEIGHT_DECAY])
        decay = dt(1.0 - lr * hyper[WEIGHT_DECAY]) if decoupled else dt(1.0)
        step_size = dt(lr / (1.0 - b1 ** step))
        inv_sqrt_c2 = dt(1.0 / np.sqrt(1.0 - b2 ** step))
        m, v = state[0], state[1]
        for i in range(lo, hi):
            params[i], m[i], v[i] = _adam(params[i], grads[i] * s, m[i], v[i], step_size, wd, decay, dt(b1),
                                          dt(1.0 - b1), dt(b2), dt(1.0 - b2), inv_sqrt_c2, dt(hyper[EPS]))


@jit
def update_and_clear(params, grads, state, kind, hyper, lr, step):
    """``update_range`` over the whole buffer, then grads = 0 (the fused
    epoch accumulates the next step into it); one pass per buffer."""
    update_range(params, grads, state, kind, hyper, lr, step, 0, params.shape[0], 1.0)
    grads[:] = 0


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
    update_range(params, grads, state, kind, hyper, lr, step, 0, params.shape[0], 1.0)
