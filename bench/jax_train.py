"""The default ``jitprop train`` run done by a JAX script: same network
(784-512-10 ReLU, softmax + cross-entropy, float32), initial weights
(copied from the jitprop net), data (all 60000 training rows), per-epoch
sample order (``numpy.random.default_rng(0).permutation``), learning-rate
schedule (0.004, x0.8 per epoch), batch 64 and 6 epochs, with the summed
minibatch loss. Each epoch is one compiled ``jax.lax.scan`` over its full
minibatches plus a jitted step for the last short one (``jax_workloads.py``,
``jax-scan``). Prints the compile time, per-epoch time, the test accuracy
and the wall time (command start to exit, imports included), so the
end-to-end comparison in issue 14 can be reproduced:

    python -m jitprop.bench.jax_train

Threads: XLA uses every core the process may run on; the default run's
batch-64 products are two-thread work by jitprop's own rule too.
"""
import os
import sys
import time


def main():
    t_start = time.perf_counter()
    from jitprop.bench.peers import require
    jax = require("jax", "python -m jitprop.bench.jax_train")
    import numpy as np

    import jitprop
    from jitprop.bench import jax_workloads as JW
    from jitprop.data import mnist_arrays
    from jitprop.presets import PRESETS

    cfg = PRESETS["default"]
    dtype = np.dtype(cfg["dtype"]).type
    sizes = jitprop.parse_layers(cfg["layers"])
    act, cost, batch = cfg["activation"], "cross-entropy", cfg["batch_size"]
    net = jitprop.mlp(sizes, act, "softmax", cfg["init_sigma"], 0, "numba", dtype)
    d = mnist_arrays(dtype, cfg["val_size"])
    params = JW.params_from_flat(net.params, sizes)  # the initial weights of `jitprop train`
    x = jax.device_put(d["x_train"])
    labels = jax.device_put(d["y_train"].astype(np.int32))
    rng = np.random.default_rng(0)
    lr = cfg["lr"]
    compile_s = None
    for epoch in range(1, cfg["epochs"] + 1):
        order = rng.permutation(len(d["x_train"])).astype(np.int32)
        if compile_s is None:  # every epoch has the same shapes: compile once, not timed in the epoch
            compile_s = JW.compile_epoch("jax-scan", params, x, labels, order, batch, lr, act, cost)
            print(f"compile {compile_s:.2f} s", flush=True)
        t0 = time.perf_counter()
        params = JW.run_epoch("jax-scan", params, x, labels, order, batch, lr, act, cost)
        print(f"epoch {epoch}/{cfg['epochs']}  {time.perf_counter() - t0:.2f} s", flush=True)
        lr *= cfg["lr_decay"]
    acc = float((JW.predict(params, d["x_test"], act, cost) == d["y_test"]).mean())
    print(f"jax {jax.__version__}, XLA CPU on {len(os.sched_getaffinity(0))} core(s); compile {compile_s:.2f} s, "
          f"total {time.perf_counter() - t_start:.2f} s", file=sys.stderr)
    print(f"test accuracy: {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
