"""The JAX peer of the training workloads: the same networks, initial
weights, sample order, summed loss and learning rate as jitprop, in two
styles.

* ``jax-jit``: everyday JAX. One ``jax.jit``-compiled step (forward, loss,
  ``jax.grad``, SGD update) per minibatch, called from a Python loop; the
  step gathers its rows (``x[idx]``) from the whole training set, which stays
  on the device.
* ``jax-scan``: the epoch's full minibatches as one compiled
  ``jax.lax.scan``; step k slices its indices out of the epoch's order with
  ``jax.lax.dynamic_slice`` and gathers the rows inside the scan. When the
  batch size does not divide N, the final short minibatch is one more call
  of the jitted step, as jitprop trains on it too.

Parameters are a tuple of ``(w (n_out, n_in), b (n_out,))`` per layer in the
dtype of the flat jitprop buffer they are copied from; ``flat_params`` gives
them back in jitprop's layout (w then b per layer). The loss that
``jax.grad`` differentiates is the minibatch SUM of per-sample costs:
``0.5 * sum((sigmoid(z) - onehot)**2)`` for MSE, the summed softmax
cross-entropy otherwise. Its gradient is jitprop's (per-sample gradients
summed over the minibatch), so the learning rates are the same numbers.

Only ``jax_available`` runs without JAX; the rest runs in the worker
process (``jax_worker.py``), which enables float64 (``jax_enable_x64``)
before making any array. Every array made here gets an explicit dtype, so a
float32 case computes in float32 all the same (a test checks the compiled
float32 epoch has no f64 in it).
"""
import functools
import importlib.util
import time

import numpy as np

JAX_IMPLS = ("jax-jit", "jax-scan")
# XLA reports each backend compilation as this event (jax._src.dispatch).
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def jax_available():
    """Whether JAX and jaxlib are installed. Only looked up, not imported:
    the pytest process never imports JAX (the worker processes do)."""
    for name in ("jax", "jaxlib"):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def params_from_flat(flat, sizes):
    """Flat jitprop parameters (P,) -> ((w (n_out, n_in), b (n_out,)), ...) on the device, same dtype."""
    import jax
    flat = np.asarray(flat)
    params, o = [], 0
    for n_in, n_out in zip(sizes, sizes[1:]):
        k = n_out * n_in
        w = flat[o:o + k].reshape(n_out, n_in)
        b = flat[o + k:o + k + n_out]
        params.append((jax.device_put(w.copy()), jax.device_put(b.copy())))
        o += k + n_out
    if o != flat.shape[0]:
        raise ValueError(f"flat: expected {o} parameters for layers {sizes}, got {flat.shape[0]}")
    return tuple(params)


def flat_params(params):
    """The inverse of ``params_from_flat``: one NumPy array (P,), w then b per layer."""
    return np.concatenate([np.asarray(a).ravel() for wb in params for a in wb])


def forward(params, x, activation, cost):
    """x (B, n_in) -> (B, n_out): sigmoid outputs for ``cost="mse"``, logits
    for the softmax cross-entropy. ``activation`` is between the layers."""
    import jax
    act = jax.nn.sigmoid if activation == "sigmoid" else jax.nn.relu
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = act(h)
    return jax.nn.sigmoid(h) if cost == "mse" else h


def summed_loss(params, x, labels, activation, cost):
    """The minibatch sum of per-sample costs; x (B, n_in), labels (B,) int."""
    import jax
    import jax.numpy as jnp
    out = forward(params, x, activation, cost)
    onehot = jax.nn.one_hot(labels, out.shape[1], dtype=out.dtype)
    if cost == "mse":
        return 0.5 * jnp.sum((out - onehot) ** 2)
    return -jnp.sum(onehot * jax.nn.log_softmax(out))


def _sgd_step(activation, cost):
    """step(params, x (N, n_in), labels (N,), idx (B,), lr ()) -> params after
    one SGD step on the rows ``idx``; not compiled (the scan body uses it)."""
    import jax
    grad = jax.grad(functools.partial(summed_loss, activation=activation, cost=cost))

    def step(params, x, labels, idx, lr):
        g = grad(params, x[idx], labels[idx])
        return jax.tree.map(lambda p, d: p - lr * d, params, g)
    return step


@functools.lru_cache(maxsize=None)
def train_step(activation, cost):
    """The jitted step of ``jax-jit`` (and the short last minibatch of
    ``jax-scan``). The parameters are donated: their buffers are reused."""
    import jax
    return jax.jit(_sgd_step(activation, cost), donate_argnums=0)


@functools.lru_cache(maxsize=None)
def scan_epoch(activation, cost, batch_size):
    """The jitted ``jax-scan`` epoch: epoch(params, x (N, n_in), labels (N,),
    order (K * batch_size,) int32, lr ()) -> params after K steps, step k on
    the rows ``order[k * batch_size:(k + 1) * batch_size]``."""
    import jax
    import jax.numpy as jnp
    step = _sgd_step(activation, cost)

    def epoch(params, x, labels, order, lr):
        def body(p, k):
            idx = jax.lax.dynamic_slice(order, (k * batch_size,), (batch_size,))
            return step(p, x, labels, idx, lr), None
        steps = jnp.arange(order.shape[0] // batch_size, dtype=order.dtype)
        params, _ = jax.lax.scan(body, params, steps)
        return params
    return jax.jit(epoch, donate_argnums=0)


def _calls(impl, activation, cost, order, batch_size):
    """The compiled calls of one epoch, in order: (function, index argument)
    pairs, the index argument a NumPy int32 slice of ``order``."""
    n = order.shape[0]
    step = train_step(activation, cost)
    if impl == "jax-jit":
        for s in range(0, n, batch_size):
            yield step, order[s:s + batch_size]
        return
    if impl != "jax-scan":
        raise ValueError(f"impl: expected one of {JAX_IMPLS}, got {impl!r}")
    full = n // batch_size * batch_size
    if full:
        yield scan_epoch(activation, cost, batch_size), order[:full]
    if full < n:
        yield step, order[full:]


def run_epoch(impl, params, x, labels, order, batch_size, lr, activation, cost):
    """One epoch; returns the new parameters, computed (blocked on).

    x (N, n_in) and labels (N,) int32 device arrays; order (N,) the epoch's
    sample order (NumPy, sent to the device with each call as int32: the
    whole full-batch part for the scan, one minibatch per step); lr a Python
    float. ``params`` are donated: use only the returned ones.
    """
    import jax
    lr = np.asarray(lr, dtype=x.dtype)  # a NumPy scalar: converting with jnp would compile
    for fn, idx in _calls(impl, activation, cost, np.asarray(order, np.int32), batch_size):
        params = fn(params, x, labels, idx, lr)
    return jax.block_until_ready(params)


def _distinct(impl, activation, cost, order, batch_size):
    """The calls of one epoch with distinct (function, shape)."""
    seen, out = set(), []
    for fn, idx in _calls(impl, activation, cost, np.asarray(order, np.int32), batch_size):
        if (fn, idx.shape) not in seen:
            seen.add((fn, idx.shape))
            out.append((fn, idx))
    return out


def compile_epoch(impl, params, x, labels, order, batch_size, lr, activation, cost):
    """Compile (ahead of time) every function ``run_epoch`` calls at these
    shapes, so the next ``run_epoch`` compiles nothing; returns the seconds."""
    t0 = time.perf_counter()
    lr = np.asarray(lr, dtype=x.dtype)  # a NumPy scalar: converting with jnp would compile
    for fn, idx in _distinct(impl, activation, cost, order, batch_size):
        fn.lower(params, x, labels, idx, lr).compile()
    return time.perf_counter() - t0


def lowered_text(impl, params, x, labels, order, batch_size, lr, activation, cost):
    """The StableHLO text of every function of the epoch (to check dtypes)."""
    lr = np.asarray(lr, dtype=x.dtype)  # a NumPy scalar: converting with jnp would compile
    return "\n".join(fn.lower(params, x, labels, idx, lr).as_text()
                     for fn, idx in _distinct(impl, activation, cost, order, batch_size))


def predict(params, x, activation, cost, batch_size=10000):
    """Class of each row of x (N, n_in): the argmax output, as NumPy (N,)."""
    fn = _predict_fn(activation, cost)
    return np.concatenate([np.asarray(fn(params, x[s:s + batch_size]))
                           for s in range(0, x.shape[0], batch_size)])


@functools.lru_cache(maxsize=None)
def _predict_fn(activation, cost):
    import jax
    return jax.jit(lambda params, x: forward(params, x, activation, cost).argmax(axis=1))
