"""A `jitprop train` run done by a JAX script: the same network, initial
weights, data, sample order, optimizer (Adam or SGD, written out as jitprop
and PyTorch define them), per-step learning rates and epochs, from the same
flags (default: the default run, 784-128-10 ReLU, Adam lr 0.002 on the
batch-mean loss, cosine schedule, batch 64, 6 epochs). Each epoch's full
minibatches are one compiled ``jax.lax.scan`` (the step's rows gathered
inside it, the learning rates scanned over), plus one jitted step for a
short last minibatch. Prints the compile time, per-epoch seconds, then the
wall time (command start to exit, imports included) and the test accuracy:

    python -m jitprop.bench.jax_train [jitprop train flags]

Threads: XLA uses every core the process may run on (``taskset`` limits it).
"""
import functools
import os
import sys
import time


def _loss(params, x, labels, activation, cost, mean):
    from jitprop.bench.jax_workloads import summed_loss
    total = summed_loss(params, x, labels, activation, cost)
    return total / x.shape[0] if mean else total


def make_step(cfg, opt):
    """step((params, state), x, labels, idx (B,), lr ()) -> (params, state):
    one optimizer step on the rows ``idx``. ``state``: (t, m, v) for Adam
    (t an int32 step count, m and v shaped like params), () for SGD."""
    import jax
    import jax.numpy as jnp
    grad = jax.grad(functools.partial(_loss, activation=cfg.activation, cost=cfg.cost, mean=cfg.mean_loss))

    def sgd(carry, x, labels, idx, lr):
        params, state = carry
        g = grad(params, x[idx], labels[idx])
        return jax.tree.map(lambda p, d: p - lr * d, params, g), state

    def adam(carry, x, labels, idx, lr):
        params, (t, m, v) = carry
        g = grad(params, x[idx], labels[idx])
        t = t + 1
        b1, b2 = opt.beta1, opt.beta2
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        tf = t.astype(lr.dtype)
        step_size = lr / (1 - b1 ** tf)
        inv_sqrt_c2 = 1 / jnp.sqrt(1 - b2 ** tf)
        params = jax.tree.map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v) * inv_sqrt_c2 + opt.eps), params, m, v)
        return params, (t, m, v)
    return adam if cfg.optimizer == "adam" else sgd


def initial_state(cfg, params):
    import jax
    import jax.numpy as jnp
    if cfg.optimizer != "adam":
        return ()
    zeros = jax.tree.map(jnp.zeros_like, params)
    return (jnp.zeros((), jnp.int32), zeros, jax.tree.map(jnp.zeros_like, params))


def make_epoch(step, batch_size):
    """epoch(carry, x, labels, order (K * batch_size,) int32, lrs (K,)) -> carry after K steps."""
    import jax
    import jax.numpy as jnp

    def epoch(carry, x, labels, order, lrs):
        def body(c, k_lr):
            k, lr = k_lr
            idx = jax.lax.dynamic_slice(order, (k * batch_size,), (batch_size,))
            return step(c, x, labels, idx, lr), None
        ks = jnp.arange(lrs.shape[0], dtype=order.dtype)
        carry, _ = jax.lax.scan(body, carry, (ks, lrs))
        return carry
    return epoch


def main(argv=None):
    t_start = time.perf_counter()
    from jitprop.bench.peers import require
    jax = require("jax", "python -m jitprop.bench.jax_train")
    import numpy as np

    from jitprop.bench import jax_workloads as JW
    from jitprop.bench import peer_run

    cfg, args = peer_run.parse("python -m jitprop.bench.jax_train", argv, __doc__)
    if cfg.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    run = peer_run.prepare(cfg)
    peer_run.describe(run)
    d, batch = run.data, cfg.batch_size
    dtype = np.dtype(cfg.dtype)
    step = make_step(cfg, run.optimizer)
    scan = jax.jit(make_epoch(step, batch), donate_argnums=0)
    last = jax.jit(step, donate_argnums=0)
    params = JW.params_from_flat(run.net.params, run.sizes)  # the initial weights of `jitprop train`
    carry = (params, initial_state(cfg, params))
    x = jax.device_put(d["x_train"])
    labels = jax.device_put(d["y_train"].astype(np.int32))
    n = x.shape[0]
    full = n // batch * batch
    compile_s = None
    for epoch, order, lrs in peer_run.epochs(run):
        order, lrs = order.astype(np.int32), lrs.astype(dtype)
        calls = []
        if full:
            calls.append((scan, order[:full], lrs[:full // batch]))
        if full < n:
            calls.append((last, order[full:], lrs[-1]))
        if compile_s is None:  # every epoch has the same shapes: compile once, outside the epoch's time
            t0 = time.perf_counter()
            compiled = [fn.lower(carry, x, labels, o, r).compile() for fn, o, r in calls]
            compile_s = time.perf_counter() - t0
            print(f"compile {compile_s:.2f} s", flush=True)
        t0 = time.perf_counter()
        for fn, (_, o, r) in zip(compiled, calls):
            carry = fn(carry, x, labels, o, r)
        carry = jax.block_until_ready(carry)
        print(f"epoch {epoch}/{cfg.epochs}  {time.perf_counter() - t0:.2f} s", flush=True)
    params = carry[0]
    acc = float((JW.predict(params, d["x_test"], cfg.activation, cfg.cost) == d["y_test"]).mean())
    if args.save_params:
        np.save(args.save_params, JW.flat_params(params))
    print(f"jax {jax.__version__}, XLA CPU on {len(os.sched_getaffinity(0))} core(s); compile {compile_s:.2f} s, "
          f"total {time.perf_counter() - t_start:.2f} s", file=sys.stderr)
    print(f"test accuracy: {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
