"""Pure-NumPy twins of every kernel: the reference jitprop is checked against.

Each function here has the same name and signature as its compiled kernel in
``jitprop.kernels`` and is listed in the same order, so the two can be read
side by side. They are written to be checked by eye, not to be fast; the
``"numpy"`` backend of the model layer calls them, and ``bench/`` uses them as
the batched-NumPy baseline.

Conventions (shared with the kernels):

* argument order is ``(outputs, inputs, hyperparameters)``;
* ``x``: (B, n_in), ``w``: (n_out, n_in), ``b``: (1, n_out), all one float dtype;
* ``out``/``d_in``/``dz``/``d_pred`` are overwritten, ``dw``/``db`` are
  accumulated into (``+=``), as a layer accumulates until ``zero_gradients``;
* gradients of a cost are per-sample gradients summed over the batch (the
  seed convention: ``MeanSquareError.gradient`` is ``prediction - target``);
* flat networks store, for each layer ``l``, ``w_l`` (n_{l+1}, n_l) row-major
  then ``b_l`` (n_{l+1},) in one 1-D ``params`` buffer (see ``layout.py``).
"""
import numpy as np

from jitprop.kernels.layout import (
    ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, LOSS_MSE, LOSS_SOFTMAX_CE, CE_EPS,
    layer_views,
)


def _sigmoid(z):
    # Two branches so that exp never overflows: for z >= 0 use 1/(1+e^-z),
    # for z < 0 use e^z/(1+e^z). Both are exact to rounding for any |z|.
    e = np.exp(-np.abs(z))
    one = z.dtype.type(1)
    return np.where(z >= 0, one / (one + e), e / (one + e)).astype(z.dtype, copy=False)


# --------------------------------------------------------------- linear layer

def linear_forward(out, x, w, b):
    """out (B, n_out) = x (B, n_in) @ w.T + b; overwrites ``out``."""
    out[...] = x @ w.T + b


def linear_sigmoid_forward(out, x, w, b):
    """out (B, n_out) = sigmoid(x @ w.T + b); overwrites ``out``."""
    out[...] = _sigmoid(x @ w.T + b)


def linear_relu_forward(out, x, w, b):
    """out (B, n_out) = max(x @ w.T + b, 0); overwrites ``out``."""
    out[...] = np.maximum(x @ w.T + b, 0)


def linear_backward(d_in, dw, db, d_out, x, w, need_d_in):
    """Backward of ``x @ w.T + b`` for d_out (B, n_out).

    Accumulates ``dw += d_out.T @ x`` and ``db += sum(d_out, 0)``; overwrites
    ``d_in`` (B, n_in) with ``d_out @ w`` when ``need_d_in`` (the first layer
    of a network skips it).
    """
    dw += d_out.T @ x
    db += d_out.sum(axis=0, keepdims=True)
    if need_d_in:
        d_in[...] = d_out @ w


def linear_sigmoid_backward(d_in, dw, db, dz, d_out, a, x, w, need_d_in):
    """Backward of ``a = sigmoid(x @ w.T + b)`` given d_out = dL/da (B, n_out).

    Overwrites ``dz`` (may be ``d_out`` itself) with ``d_out * a * (1 - a)``,
    then as :func:`linear_backward`.
    """
    dz[...] = d_out * a * (1 - a)
    linear_backward(d_in, dw, db, dz, x, w, need_d_in)


def linear_relu_backward(d_in, dw, db, dz, d_out, a, x, w, need_d_in):
    """Backward of ``a = relu(x @ w.T + b)``; ``dz = d_out * (a > 0)``."""
    dz[...] = d_out * (a > 0)
    linear_backward(d_in, dw, db, dz, x, w, need_d_in)


# ---------------------------------------------------------------- activations

def sigmoid_forward(out, z):
    """out = sigmoid(z), stable for any |z|; overwrites ``out``."""
    out[...] = _sigmoid(z)


def sigmoid_backward(d_in, d_out, a):
    """d_in = d_out * a * (1 - a) with ``a`` the forward output."""
    d_in[...] = d_out * a * (1 - a)


def relu_forward(out, z):
    """out = max(z, 0)."""
    out[...] = np.maximum(z, 0)


def relu_backward(d_in, d_out, a):
    """d_in = d_out * (a > 0) with ``a`` the forward output."""
    d_in[...] = d_out * (a > 0)


def softmax_forward(out, z):
    """Row-wise softmax of z (B, K), shifted by the row max so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)


def softmax_backward(d_in, d_out, p):
    """Through the softmax Jacobian: d_in = p * (d_out - sum(d_out * p, 1))."""
    d_in[...] = p * (d_out - (d_out * p).sum(axis=1, keepdims=True))


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


# ------------------------------------------------------------------ optimiser

def sgd_update(param, grad, lr, weight_decay):
    """In place: ``param -= lr * (grad + weight_decay * param)``."""
    param -= lr * (grad + weight_decay * param)


# ------------------------------------------------------------ whole networks

def _activate(z, act):
    if act == ACT_SIGMOID:
        return _sigmoid(z)
    if act == ACT_RELU:
        return np.maximum(z, 0)
    return z


def _activation_grad(d, a, act):
    if act == ACT_SIGMOID:
        return d * a * (1 - a)
    if act == ACT_RELU:
        return d * (a > 0)
    return d


def _network_step(params, grad, sizes, activations, loss_kind, xb, yb, lr, weight_decay):
    """One minibatch: forward, cost, backward, SGD update. Returns the cost.

    Leaves ``params`` untouched when the cost is not finite.
    """
    views = layer_views(params, sizes)
    grads = layer_views(grad, sizes)
    acts = [xb]
    for (w, b), act in zip(views, activations):
        acts.append(_activate(acts[-1] @ w.T + b, act))
    d = np.empty_like(acts[-1])
    if loss_kind == LOSS_SOFTMAX_CE:
        cost = softmax_cross_entropy(d, acts[-1], yb)
    else:
        cost = mse(d, acts[-1], yb)
    if not np.isfinite(cost):
        return cost
    for l in range(len(views) - 1, -1, -1):
        w, _ = views[l]
        dw, db = grads[l]
        dz = _activation_grad(d, acts[l + 1], activations[l])
        dw[...] = dz.T @ acts[l]
        db[...] = dz.sum(axis=0)
        if l > 0:
            d = dz @ w
    sgd_update(params, grad, lr, weight_decay)
    return cost


def train_epoch(params, sizes, activations, loss_kind, x, y, order, batch_size, lr, weight_decay):
    """One epoch of minibatch SGD on a flat MLP, in the order given.

    params: (P,) flat weights, updated in place; sizes: (L+1,) int64 widths;
    activations: (L,) int64 codes per layer; loss_kind: LOSS_MSE or
    LOSS_SOFTMAX_CE (the last activation is then identity: logits);
    x: (N, n_0), y: (N, n_L) one-hot, same dtype as params; order: (N,) int64
    sample order. Returns costs (n_batches,) in float64; a step whose cost is
    not finite stops the epoch before updating, and it and the later entries
    are NaN/inf (``costs[k]`` holds the offending value, the rest NaN).
    """
    n = order.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    costs = np.full(n_batches, np.nan)
    grad = np.zeros_like(params)
    for k in range(n_batches):
        idx = order[k * batch_size:(k + 1) * batch_size]
        costs[k] = _network_step(params, grad, sizes, activations, loss_kind,
                                 x[idx], y[idx], lr, weight_decay)
        if not np.isfinite(costs[k]):
            break
    return costs


def train_epoch_per_sample(params, sizes, activations, loss_kind, x, y, order, lr, weight_decay):
    """One epoch of per-sample SGD (batch size 1), as Homework 1 trains.

    Same arguments and result as :func:`train_epoch` with ``batch_size=1``.
    """
    costs = np.full(order.shape[0], np.nan)
    grad = np.zeros_like(params)
    for k in range(order.shape[0]):
        i = order[k]
        costs[k] = _network_step(params, grad, sizes, activations, loss_kind,
                                 x[i:i + 1], y[i:i + 1], lr, weight_decay)
        if not np.isfinite(costs[k]):
            break
    return costs


def network_forward(out, params, sizes, activations, x, batch_size):
    """Forward pass of a flat MLP over x (N, n_0) in chunks of ``batch_size``.

    Overwrites ``out`` (N, n_L) with the last layer's activation (logits for a
    softmax-cross-entropy network).
    """
    views = layer_views(params, sizes)
    for s in range(0, x.shape[0], batch_size):
        a = x[s:s + batch_size]
        for (w, b), act in zip(views, activations):
            a = _activate(a @ w.T + b, act)
        out[s:s + batch_size] = a
