"""The implementations ``train`` can run, in one table.

Each entry knows its backend, what it can train, how to warm up (compile)
and how to run a slice of an epoch. All of them train the same network to
the same weights from the same seed (within float rounding); the net and the
cost are never changed to switch backend: each implementation passes its
kernels (compiled or the NumPy twins) down explicitly.

* ``per-sample``     the NumPy twin of the per-sample epoch kernel: one sample
                     at a time, as Homework 1 does (slow; the baseline);
* ``per-sample-jit`` the compiled per-sample epoch kernel;
* ``batched``        the model layer (forward, cost, backward, step) on the twins;
* ``jit``            the model layer on the compiled kernels;
* ``fused``          the compiled whole-epoch kernel: a slice of an epoch per call.
"""
import time
from dataclasses import dataclass

import numpy as np

from jitprop.model.backend import ops


@dataclass
class Plan:
    """What one training run gives an implementation: the network, cost and
    optimizer, the data (x (N, n_in), y (N, n_out) targets in the net's
    dtype), the minibatch size and whether the loss is the batch mean."""
    net: object
    cost: object
    optimizer: object
    x: np.ndarray
    y: np.ndarray
    batch_size: int
    mean_loss: bool = False
    threads: object = None  # a jitprop.threads.ThreadChoice for the fused kernel, or None: team.threads() as set

    def snapshot(self):
        """The parameters, the optimizer's state (None before its first
        use) and step count, copied."""
        state = self.optimizer.state
        return self.net.params.copy(), None if state is None else state.copy(), self.optimizer.t

    def restore(self, snapshot):
        params, state, t = snapshot
        self.net.params[:] = params
        if state is None:
            self.optimizer.state = None
        else:
            self.optimizer.state[...] = state
        self.optimizer.t = t

    def kernel_spec(self):
        """(sizes, acts, loss_kind) for the epoch kernels, or a reason why not."""
        spec = self.net.mlp_spec()
        if spec is None:
            return ("the net is not a plain MLP (Linear, activation, ..., optional final SoftMax; no Dropout, "
                    f"no user-defined layers): {self.net!r}")
        sizes, acts, softmax = spec
        from jitprop.model.costs import CrossEntropy, MeanSquareError
        if softmax and isinstance(self.cost, CrossEntropy):
            return sizes, acts, self.cost.loss_kind
        if not softmax and type(self.cost) is MeanSquareError:
            return sizes, acts, self.cost.loss_kind
        return (f"the cost must be MeanSquareError (no final SoftMax) or CrossEntropy after a final SoftMax; "
                f"got {self.cost!r} with {self.net!r}")


class Impl:
    name = None
    backend = None
    per_sample = False
    checks_rows = False  # True: stops before the update of a step with a row of x that is not all finite
    help = ""

    def check(self, plan):
        """Raise ValueError naming ``impl`` when this cannot train ``plan``."""
        if self.per_sample and plan.batch_size != 1:
            raise ValueError(f"batch_size: the {self.name} implementation trains one sample at a time; "
                             f"expected 1, got {plan.batch_size}")

    def warm_up(self, plan):
        """Compile (or load from the cache) what ``run`` needs; returns seconds."""
        return 0.0

    def run(self, plan, order, lrs, mean_loss=False):
        """Train on rows ``order`` with one learning rate per step; returns the
        costs (n_steps,) float64 (NaN after a step whose cost is not finite,
        which stops before its update)."""
        raise NotImplementedError


class LayerImpl(Impl):
    """The model layer: zero gradients, forward, cost, backward, step."""

    def __init__(self, name, backend, help):
        self.name, self.backend, self.help = name, backend, help

    def run(self, plan, order, lrs, mean_loss=False):
        k = ops(self.backend)
        net, b = plan.net, plan.batch_size
        costs = np.full(len(lrs), np.nan)
        for s in range(len(lrs)):
            idx = order[s * b:(s + 1) * b]
            net.zero_gradients()
            value = net.loss_and_backward(plan.cost, plan.x[idx], plan.y[idx], k,
                                          1.0 / idx.shape[0] if plan.mean_loss else 1.0)
            costs[s] = value
            if not np.isfinite(value):
                break
            plan.optimizer.step(net, lrs[s], k)
        return costs


class EpochImpl(Impl):
    """A whole-epoch kernel (compiled, or its twin) on the flat buffer."""
    checks_rows = True

    def __init__(self, name, backend, per_sample, help):
        self.name, self.backend, self.per_sample, self.help = name, backend, per_sample, help

    def check(self, plan):
        super().check(plan)
        spec = plan.kernel_spec()
        if isinstance(spec, str):
            raise ValueError(f"impl: {self.name} trains plain MLPs only; {spec}. Use impl='jit' (or 'batched').")

    def _call(self, plan, order, lrs, spec):
        k = ops(self.backend)
        sizes, acts, loss_kind = spec
        opt, net = plan.optimizer, plan.net
        state = opt.bind(net.params)
        if self.per_sample:
            return k.train_epoch_per_sample(net.params, state, sizes, acts, loss_kind, opt.kind, opt.hyper, opt.t,
                                            plan.x, plan.y, order, lrs)
        return k.train_epoch(net.params, state, sizes, acts, loss_kind, opt.kind, opt.hyper, opt.t,
                             plan.mean_loss, plan.x, plan.y, order, plan.batch_size, lrs)

    def warm_up(self, plan):
        if self.backend != "numba":
            return 0.0
        t0 = time.perf_counter()
        before = plan.snapshot()
        try:
            self._call(plan, np.zeros(1, np.int64), np.zeros(1), plan.kernel_spec())
        finally:
            plan.restore(before)
        return time.perf_counter() - t0

    def run(self, plan, order, lrs, mean_loss=False):
        lrs = np.ascontiguousarray(lrs, np.float64)
        if plan.threads is None or self.per_sample or self.backend != "numba":
            costs = self._call(plan, order, lrs, plan.kernel_spec())
        else:  # the same bits at any thread count: one thread while the threads keep waiting on each other
            from jitprop.kernels import team
            threads = plan.threads.threads()
            t0 = time.perf_counter()
            with team.using(threads):
                costs = self._call(plan, order, lrs, plan.kernel_spec())
            plan.threads.record(threads, team.last_run()[1], time.perf_counter() - t0)
        bad = np.flatnonzero(~np.isfinite(costs))
        plan.optimizer.t += int(bad[0]) if bad.size else costs.shape[0]
        return costs


IMPLS = {i.name: i for i in (
    EpochImpl("per-sample", "numpy", True, "batch size 1, NumPy, one sample at a time as in Homework 1 (slow)"),
    EpochImpl("per-sample-jit", "numba", True, "batch size 1, the compiled per-sample epoch kernel"),
    LayerImpl("batched", "numpy", "the model layer (forward, cost, backward, step) on the NumPy twins"),
    LayerImpl("jit", "numba", "the model layer on the compiled kernels (any network, user layers too)"),
    EpochImpl("fused", "numba", False, "the whole epoch in one compiled call (plain MLPs; the fastest)"),
)}


def check_impl(name):
    if name not in IMPLS:
        raise ValueError(f"impl: expected one of {', '.join(IMPLS)}, got {name!r}")
    return IMPLS[name]


def default_impl(plan):
    """The fastest implementation that can train ``plan`` on the net's backend."""
    if plan.net.backend == "numba" and not isinstance(plan.kernel_spec(), str):
        return IMPLS["per-sample-jit" if plan.batch_size == 1 else "fused"]
    return IMPLS["jit" if plan.net.backend == "numba" else "batched"]
