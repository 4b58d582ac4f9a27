"""One training case of the suite, shared by ``test_training.py`` (the
machine as it is) and ``test_shared.py`` (one core kept busy): the check
against the reference, the warm-up, and what pytest-benchmark times.

Each case is first checked against the reference (the ``batched`` NumPy
implementation, or ``per-sample`` NumPy for batch size 1) on 240 samples
(two minibatches when that is more); that first run compiles or loads the
kernels and its time is reported as the warm-up (a JAX case starts with
XLA's caches cleared, so its warm-up is all its compiling, whatever case
ran before it in the same worker). XLA compiles per shape, so
a JAX case then also compiles its functions for the full epoch's shapes
(the scan's length, the short last minibatch), ahead of time; those seconds
are added to the warm-up, and the worker counts compilations during the
timed rounds, which must be none. A second, warm run on the check samples
sets the number of rounds; each round then trains from the same initial
weights in the same sample order.
"""
import time

import numpy as np

from jitprop.bench import flops as F
from jitprop.bench import workloads as W
from jitprop.bench.jax_workloads import JAX_IMPLS
from jitprop.bench.rounds import rounds_for
from jitprop.threads import limit_threads

CHECK_ROWS = 240
# Same tolerances as tests/test_train.py: summation order only.
TOL = {"float64": 1e-9, "float32": 1e-3}


def _jax_epoch(worker, impl, arch, batch_size, x, y, order):
    """One epoch in the JAX worker on the arrays it holds as x, y, order."""
    a = W.ARCHS[arch]
    return worker.call("epoch", impl, x, y, order, batch_size, a["lr"], a["activation"], a["cost"])


def train(impl, arch, dtype, x, y, batch_size, jax_worker=None):
    """One epoch of ``impl`` on (x, y) from the suite's initial weights, in
    the suite's order; returns the parameters, flat in jitprop's layout."""
    net, cost = W.make_net(arch, dtype)
    lr = W.ARCHS[arch]["lr"]
    if impl == "torch":
        model = W.torch_model(net, W.ARCHS[arch]["activation"], W.ARCHS[arch]["cost"])
        W.run_torch(model, arch, x, y, W.epoch_order(len(x)), batch_size, lr)
        return W.torch_params(model)
    if impl in JAX_IMPLS:
        jax_worker.put("check-x", x)
        jax_worker.put("check-y", y)
        jax_worker.put("check-order", W.epoch_order(len(x)), on_device=False)
        jax_worker.call("set_params", net.params, W.ARCHS[arch]["sizes"])
        _jax_epoch(jax_worker, impl, arch, batch_size, "check-x", "check-y", "check-order")
        return jax_worker.call("get_params")
    W.run_jitprop(impl, net, cost, x, y, batch_size, lr)
    return net.params.copy()


def validate(impl, arch, dtype, x, y, batch_size, jax_worker=None):
    """Check ``impl`` against the reference on (x, y); returns the seconds
    its run took (the first of the case: compiling or loading included)."""
    ref_impl = "per-sample" if batch_size == 1 else "batched"
    ref = train(ref_impl, arch, dtype, x, y, batch_size)
    t0 = time.perf_counter()
    got = train(impl, arch, dtype, x, y, batch_size, jax_worker)
    first = time.perf_counter() - t0
    assert got.dtype == np.dtype(dtype), f"{impl} trained in {got.dtype}, not {dtype}"
    np.testing.assert_allclose(got, ref, rtol=TOL[dtype], atol=TOL[dtype],
                               err_msg=f"{impl} does not train like the reference {ref_impl}")
    return first


class Case:
    """A checked, warmed-up case: ``setup`` and ``fn`` for
    ``benchmark.pedantic``, ``rounds()``, and ``info`` for extra_info
    (completed by ``finish()`` after timing). Run it inside
    ``limit_threads(case.threads)``."""

    def __init__(self, arch, impl, dtype, batch_size, x, y, jax_worker=None, threads=None):
        self.arch, self.impl, self.dtype, self.batch_size = arch, impl, dtype, batch_size
        self.x, self.y, self.worker = x, y, jax_worker
        self.threads = W.threads_for(arch, batch_size) if threads is None else threads
        self.lr = W.ARCHS[arch]["lr"]
        self.order = W.epoch_order(len(x))
        rows = max(CHECK_ROWS, 2 * batch_size)
        self.check = (x[:rows], y[:rows])  # the same objects every time: the JAX worker gets them once
        if impl in JAX_IMPLS:
            jax_worker.call("forget")  # the warm-up compiles all this case needs, whatever ran before
        warmup = validate(impl, arch, dtype, *self.check, batch_size, jax_worker)
        self.epochs = []
        if impl in JAX_IMPLS:
            warmup += self._jax_prepare()
        self.info = dict(kind="training", arch=arch, impl=impl, dtype=dtype, batch_size=batch_size,
                         threads=self.threads, samples=len(x),
                         flops=F.training_flops(W.ARCHS[arch]["sizes"], len(x), batch_size),
                         warmup_seconds=warmup)

    def _jax_prepare(self):
        w = self.worker
        w.put("x", self.x)
        w.put("y", self.y)
        w.put("order", self.order, on_device=False)
        self.setup()
        a = W.ARCHS[self.arch]
        return w.call("compile", self.impl, "x", "y", "order", self.batch_size, self.lr, a["activation"], a["cost"])

    def rounds(self):
        """Timed rounds, from a warm run on the check samples."""
        t0 = time.perf_counter()
        train(self.impl, self.arch, self.dtype, *self.check, self.batch_size, self.worker)
        return rounds_for((time.perf_counter() - t0) * len(self.x) / len(self.check[0]))

    def setup(self):
        net, cost = W.make_net(self.arch, self.dtype)
        if self.impl == "torch":
            return (W.torch_model(net, W.ARCHS[self.arch]["activation"], W.ARCHS[self.arch]["cost"]),), {}
        if self.impl in JAX_IMPLS:
            self.worker.call("set_params", net.params, W.ARCHS[self.arch]["sizes"])
            return (), {}
        return (net, cost), {}

    def fn(self, *args):
        if self.impl == "torch":
            return W.run_torch(args[0], self.arch, self.x, self.y, self.order, self.batch_size, self.lr)
        if self.impl in JAX_IMPLS:
            self.epochs.append(_jax_epoch(self.worker, self.impl, self.arch, self.batch_size, "x", "y", "order"))
            return None
        net, cost = args
        return W.run_jitprop(self.impl, net, cost, self.x, self.y, self.batch_size, self.lr)

    def finish(self):
        """After timing: the JAX worker's CPU seconds per wall second, and no compilation timed."""
        if self.epochs:
            wall = sum(e["wall"] for e in self.epochs)
            self.info["cpu_per_wall"] = sum(e["cpu"] for e in self.epochs) / wall
            compiles = sum(e["compiles"] for e in self.epochs)
            assert compiles == 0, f"{self.impl}: XLA compiled {compiles} time(s) during the timed rounds"
        return self.info


class Alternating:
    """Two checked cases timed by turns, for ``benchmark.pedantic``: each
    round runs both epochs, ``first`` then ``second`` in even rounds and the
    other way round in odd ones, from fresh initial weights (``setup``, not
    timed). ``seconds[i]`` holds case i's epoch time of every round; the
    ratio to quote is of the fastest of each (``best``).

    On this shared machine two-thread work runs at one of two speeds for
    seconds to minutes at a time, and cases timed minutes apart can meet
    different ones. Taking turns, both meet the same states of the machine.

    Each epoch runs at its own case's thread count (``case.threads``), so
    the sides may differ: ``test_shared.py`` pairs jitprop's two-thread and
    one-thread epochs with a neighbour running (``load``, for the report)."""

    def __init__(self, first, second, load=""):
        self.cases = (first, second)
        self.load = load
        self.seconds = ([], [])
        self._round = 0

    def rounds(self):
        counts = []
        for case in self.cases:
            with limit_threads(case.threads):
                counts.append(case.rounds())
        return max(counts)

    def setup(self):
        return tuple(case.setup() for case in self.cases), {}

    def fn(self, *prepared):
        turn = (0, 1) if self._round % 2 == 0 else (1, 0)
        self._round += 1
        for i in turn:
            args, kwargs = prepared[i]
            with limit_threads(self.cases[i].threads):  # each side at its own count (set outside the timing)
                t0 = time.perf_counter()
                self.cases[i].fn(*args, **kwargs)
                self.seconds[i].append(time.perf_counter() - t0)

    def best(self):
        """The fastest epoch of each case, seconds: (first, second)."""
        return tuple(min(s) for s in self.seconds)

    def finish(self):
        """extra_info for the report (``kind`` "alternating")."""
        first, second = (case.finish() for case in self.cases)
        return {"kind": "alternating", "arch": first["arch"], "dtype": first["dtype"],
                "batch_size": first["batch_size"], "threads": first["threads"], "samples": first["samples"],
                "impls": [first["impl"], second["impl"]], "threads_each": [first["threads"], second["threads"]],
                "load": self.load, "best_seconds": list(self.best()), "seconds": [list(s) for s in self.seconds]}
