"""Pure-NumPy twins of every kernel: the reference jitprop is checked against.

Each public function here has the same name and signature as its compiled
kernel in ``jitprop.kernels`` and is listed in the same order, so the two can
be read side by side. They are written to be checked by eye, not to be fast;
the ``"numpy"`` backend of the model layer calls them, and ``bench/`` uses
them as the batched-NumPy baseline.

Conventions (shared with the kernels):

* argument order is ``(outputs, inputs, hyperparameters)``;
* ``x``: (B, n_in), ``w``: (n_out, n_in), ``b``: (1, n_out), all one float dtype;
* ``out``/``d_in``/``dz``/``d_pred`` are overwritten, ``dw``/``db`` are
  accumulated into (``+=``), as a layer accumulates until ``zero_gradients``;
* ``act`` is a code of ``activations.ACTIVATIONS``, ``loss_kind`` of
  ``losses.LOSSES``, ``kind``/``opt_kind`` of ``optimizers.OPTIMIZERS``;
* gradients of a cost are per-sample gradients summed over the batch (the
  seed convention: ``MeanSquareError.gradient`` is ``prediction - target``);
* flat networks store, for each layer ``l``, ``w_l`` (n_{l+1}, n_l) row-major
  then ``b_l`` (n_{l+1},) in one 1-D ``params`` buffer (see ``layout.py``).
"""
import numpy as np

from jitprop.kernels.activations import IDENTITY, LEAKY_RELU, LEAKY_SLOPE, RELU, SIGMOID, TANH
from jitprop.kernels.layout import layer_views
from jitprop.kernels.losses import CE_EPS, SOFTMAX_CE
from jitprop.kernels.optimizers import ADAM, BETA1, BETA2, DECOUPLED, EPS, MOMENTUM, MOMENTUM_COEF, NESTEROV, SGD, WEIGHT_DECAY


def _sigmoid(z):
    # Two branches so that exp never overflows: for z >= 0 use 1/(1+e^-z),
    # for z < 0 use e^z/(1+e^z). Both are exact to rounding for any |z|.
    e = np.exp(-np.abs(z))
    one = z.dtype.type(1)
    return np.where(z >= 0, one / (one + e), e / (one + e)).astype(z.dtype, copy=False)


# Each activation: its value of z and its slope written through its output a.
_ACTIVATIONS = {
    IDENTITY: (lambda z: z, lambda a: np.ones_like(a)),
    SIGMOID: (_sigmoid, lambda a: a * (1 - a)),
    RELU: (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
    TANH: (np.tanh, lambda a: 1 - a * a),
    LEAKY_RELU: (lambda z: np.where(z > 0, z, z.dtype.type(LEAKY_SLOPE) * z),
                 lambda a: np.where(a > 0, a.dtype.type(1), a.dtype.type(LEAKY_SLOPE))),
}


def _activate(z, act):
    return _ACTIVATIONS[act][0](z)


def _slope(a, act):
    return _ACTIVATIONS[act][1](a)


# ---------------------------------------------------------------- activations

def activation_forward(out, z, act):
    """out (B, N) = act(z) elementwise; overwrites ``out``."""
    out[...] = _activate(z, act)


def activation_backward(d_in, d_out, a, act):
    """d_in (B, N) = d_out * act'(z), with ``a`` = act(z) the forward output."""
    d_in[...] = d_out * _slope(a, act)


def softmax_forward(out, z):
    """Row-wise softmax of z (B, K), shifted by the row max so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)


def softmax_backward(d_in, d_out, p):
    """Through the softmax Jacobian: d_in = p * (d_out - sum(d_out * p, 1))."""
    d_in[...] = p * (d_out - (d_out * p).sum(axis=1, keepdims=True))


# --------------------------------------------------------------- linear layer

def linear_forward(out, x, w, b, act):
    """out (B, O) = act(x (B, I) @ w.T + b); overwrites ``out``."""
    out[...] = _activate(x @ w.T + b, act)


def linear_backward(d_in, dw, db, dz, d_out, a, x, w, act, need_d_in):
    """Backward of ``a = act(x @ w.T + b)`` given d_out = dL/da (B, O).

    Overwrites ``dz`` (may be ``d_out`` itself) with ``d_out * act'(z)``,
    accumulates ``dw += dz.T @ x`` and ``db += sum(dz, 0)``, and overwrites
    ``d_in`` (B, I) with ``dz @ w`` when ``need_d_in`` (the first layer of a
    network skips it).
    """
    dz[...] = d_out * _slope(a, act)
    dw += dz.T @ x
    db += dz.sum(axis=0, keepdims=True)
    if need_d_in:
        d_in[...] = dz @ w


# ---------------------------------------------------------------------- costs

def softmax_cross_entropy(d_logits, logits, target):
    """Fused softmax + cross-entropy on logits (B, K) and target (B, K).

    Returns the batch mean of ``-sum(target * log_softmax(logits))`` and
    overwrites ``d_logits`` with ``softmax(logits) - target`` (per sample,
    summed over the batch like every cost gradient here). Uses
    ``log_softmax = z - max - log(sum(exp(z - max)))``, finite for any finite z.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    d_logits[...] = e / s - target
    log_p = shifted - np.log(s)
    return float(-(target * log_p).sum() / logits.shape[0])


def mse(d_pred, pred, target):
    """Seed MSE: returns ``0.5 * mean((target - pred)**2)``; d_pred = pred - target."""
    diff = pred - target
    d_pred[...] = diff
    return float(0.5 * np.mean(diff * diff))


def cross_entropy(d_pred, pred, target):
    """Seed cross-entropy on probabilities (eps = 1e-12).

    Returns the batch mean of ``-sum(target * log(pred + eps))``;
    d_pred = ``-target / (pred + eps)``.
    """
    eps = pred.dtype.type(CE_EPS)
    d_pred[...] = -target / (pred + eps)
    return float(-(target * np.log(pred + eps)).sum() / pred.shape[0])


def hinge(d_pred, pred, target):
    """Hinge cost for targets in {-1, +1}.

    Returns the batch mean of ``sum(max(0, 1 - target * pred))``;
    d_pred = ``-target * (1 - target * pred > 0)``.
    """
    margin = 1 - target * pred
    d_pred[...] = -target * (margin > 0)
    return float(np.maximum(margin, 0).sum() / pred.shape[0])


# ----------------------------------------------------------------- optimizers

def optimizer_step(params, grads, state, kind, hyper, lr, step):
    """One in-place update of params (P,) with grads (P,) and state (S, P);
    the rules are written out in ``optimizers.py`` (PyTorch's)."""
    dt = params.dtype.type
    wd = dt(hyper[WEIGHT_DECAY])
    if kind == SGD:
        params -= dt(lr) * (grads + wd * params)
    elif kind == MOMENTUM:
        mu = dt(hyper[MOMENTUM_COEF])
        g = grads + wd * params
        state[0] = mu * state[0] + g
        params -= dt(lr) * (g + mu * state[0] if hyper[NESTEROV] else state[0])
    elif kind == ADAM:
        b1, b2 = hyper[BETA1], hyper[BETA2]
        if hyper[DECOUPLED]:
            params *= dt(1.0 - lr * hyper[WEIGHT_DECAY])
            g = grads
        else:
            g = grads + wd * params
        state[0] = dt(b1) * state[0] + dt(1.0 - b1) * g
        state[1] = dt(b2) * state[1] + dt(1.0 - b2) * g * g
        step_size = dt(lr / (1.0 - b1 ** step))
        inv_sqrt_c2 = dt(1.0 / np.sqrt(1.0 - b2 ** step))
        params -= step_size * state[0] / (np.sqrt(state[1]) * inv_sqrt_c2 + dt(hyper[EPS]))


# ------------------------------------------------------------ whole networks

def _network_step(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, xb, yb, lr):
    """One minibatch: forward, cost, backward, update. Returns the cost.

    Leaves ``params`` untouched when the cost is not finite.
    """
    views = layer_views(params, sizes)
    grad = np.zeros_like(params)
    grads = layer_views(grad, sizes)
    a = [xb]
    for (w, b), act in zip(views, acts):
        a.append(_activate(a[-1] @ w.T + b, act))
    d = np.empty_like(a[-1])
    cost = (softmax_cross_entropy if loss_kind == SOFTMAX_CE else mse)(d, a[-1], yb)
    if not np.isfinite(cost):
        return cost
    for l in range(len(views) - 1, -1, -1):
        dz = d * _slope(a[l + 1], acts[l])
        grads[l][0][...] = dz.T @ a[l]
        grads[l][1][...] = dz.sum(axis=0)
        if l > 0:
            d = dz @ views[l][0]
    if mean_loss:
        grad /= xb.shape[0]
    optimizer_step(params, grad, state, opt_kind, hyper, lr, step)
    return cost


def train_epoch(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order,
                batch_size, lrs):
    """One epoch of minibatch training on a flat MLP, in the order given.

    params (P,) and the optimizer's state (S, P) are updated in place; step
    is the number of updates done before (the first here is step + 1);
    mean_loss divides each summed gradient by the minibatch's rows; x (N,
    n_0), y (N, n_L) in params' dtype; order (M,) int64; lrs one float64
    learning rate per step. Returns the costs (n_steps,) float64; a step
    whose cost is not finite stops the epoch before updating (``costs[k]``
    holds the offending value, the rest NaN); so does a step with a row of
    x that is not all finite (its cost NaN).
    """
    n_batches = -(-order.shape[0] // batch_size)
    costs = np.full(n_batches, np.nan)
    for k in range(n_batches):
        idx = order[k * batch_size:(k + 1) * batch_size]
        if not np.isfinite(x[idx]).all():
            break
        costs[k] = _network_step(params, state, sizes, acts, loss_kind, opt_kind, hyper, step + k + 1,
                                 mean_loss, x[idx], y[idx], lrs[k])
        if not np.isfinite(costs[k]):
            break
    return costs


def train_epoch_per_sample(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, x, y, order, lrs):
    """One epoch of per-sample training (batch size 1), as Homework 1 trains.

    Same arguments and result as :func:`train_epoch` with ``batch_size=1``.
    """
    return train_epoch(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, False, x, y, order, 1, lrs)


def network_forward(out, params, sizes, acts, x, batch_size):
    """Forward pass of a flat MLP over x (N, n_0) in chunks of ``batch_size``.

    Overwrites ``out`` (N, n_L) with the last layer's activation (the logits
    for a softmax-cross-entropy network).
    """
    views = layer_views(params, sizes)
    for s in range(0, x.shape[0], batch_size):
        a = x[s:s + batch_size]
        for (w, b), act in zip(views, acts):
            a = _activate(a @ w.T + b, act)
        out[s:s + batch_size] = a
