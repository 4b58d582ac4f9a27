"""One epoch of training, per implementation, batch size, dtype and network.

Each case is first checked against the reference (the ``batched`` NumPy
implementation, or ``per-sample`` NumPy for batch size 1) on 240 samples
(two minibatches when that is more); that first run compiles or loads the
kernels and its time is reported as the warm-up. A second, warm run on the
same samples sets the number of rounds, then the case is timed on the full
workload from the same initial weights and sample order.
"""
import time

import numpy as np
import pytest

from jitprop.bench import flops as F
from jitprop.bench import workloads as W
from jitprop.bench.rounds import rounds_for
from jitprop.threads import limit_threads

CHECK_ROWS = 240
# Same tolerances as tests/test_train.py: summation order only.
TOL = {"float64": 1e-9, "float32": 1e-3}


def _train(impl, arch, dtype, x, y, batch_size):
    net, cost = W.make_net(arch, dtype)
    lr = W.ARCHS[arch]["lr"]
    if impl == "torch":
        model = W.torch_model(net, arch)
        W.run_torch(model, arch, x, y, W.epoch_order(len(x)), batch_size, lr)
        return W.torch_params(model)
    W.run_jitprop(impl, net, cost, x, y, batch_size, lr)
    return net.params.copy()


def _validate(impl, arch, dtype, x, y, batch_size):
    """Check ``impl`` against the reference on (x, y); returns the seconds
    its run took (the first of the case: compiling or loading included)."""
    ref_impl = "per-sample" if batch_size == 1 else "batched"
    ref = _train(ref_impl, arch, dtype, x, y, batch_size)
    t0 = time.perf_counter()
    got = _train(impl, arch, dtype, x, y, batch_size)
    first = time.perf_counter() - t0
    np.testing.assert_allclose(got, ref, rtol=TOL[dtype], atol=TOL[dtype],
                               err_msg=f"{impl} does not train like the reference {ref_impl}")
    return first


def test_training_epoch(benchmark, workload, mnist_by_dtype, n_samples):
    arch, impl, dtype, batch_size = workload
    x, y = mnist_by_dtype[dtype]
    threads = W.threads_for(arch, batch_size)
    with limit_threads(threads):
        if impl == "torch":
            import torch
            torch.set_num_threads(threads)
        rows = max(CHECK_ROWS, 2 * batch_size)
        warmup = _validate(impl, arch, dtype, x[:rows], y[:rows], batch_size)
        t0 = time.perf_counter()
        _train(impl, arch, dtype, x[:rows], y[:rows], batch_size)  # warm: sets the rounds
        rounds = rounds_for((time.perf_counter() - t0) * len(x) / rows)

        def setup():
            net, cost = W.make_net(arch, dtype)
            if impl == "torch":
                return (W.torch_model(net, arch),), {}
            return (net, cost), {}

        lr = W.ARCHS[arch]["lr"]
        order = W.epoch_order(len(x))
        if impl == "torch":
            fn = lambda model: W.run_torch(model, arch, x, y, order, batch_size, lr)
        else:
            fn = lambda net, cost: W.run_jitprop(impl, net, cost, x, y, batch_size, lr)
        benchmark.group = f"{arch} {dtype} batch {batch_size}"
        benchmark.extra_info.update(
            kind="training", arch=arch, impl=impl, dtype=dtype, batch_size=batch_size, threads=threads,
            samples=len(x), flops=F.training_flops(W.ARCHS[arch]["sizes"], len(x), batch_size),
            warmup_seconds=warmup)
        benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
