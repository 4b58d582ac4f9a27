"""The training loop, with the seed's semantics, and the implementations the
benchmarks compare.

Per minibatch: zero the gradients, forward, estimate, gradient, backward,
update. Per epoch: the mean minibatch cost and the validation accuracy.
``impl`` picks who does the arithmetic; all of them train the same network to
the same weights from the same seed (within float rounding):

* ``batched``        the model layer on the NumPy twins (``backend="numpy"``);
* ``jit``            the model layer on the compiled kernels (``backend="numba"``);
* ``fused``          ``kernels.train_epoch``: the whole epoch in one compiled call;
* ``per-sample-jit`` ``kernels.train_epoch_per_sample``: batch size 1, compiled;
* ``per-sample``     its NumPy twin: one sample at a time, as Homework 1 does.
"""
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from jitprop.kernels.layout import LOSS_MSE, LOSS_SOFTMAX_CE
from jitprop.checks import (
    check_array, check_labels, check_positive_int, check_scalar,
)
from jitprop.model.costs import Cost, CrossEntropy, MeanSquareError

IMPLS = ("per-sample", "batched", "jit", "fused", "per-sample-jit")
PER_SAMPLE = ("per-sample", "per-sample-jit")
# Progress-bar updates per epoch for the whole-epoch kernels, which are
# called on consecutive slices of the epoch's order (same result as one call).
_CHUNKS = 20


class TrainingDiverged(FloatingPointError):
    """The cost became NaN or infinite; the parameters are those of the last
    good step."""


@dataclass
class History:
    impl: str
    epochs: list = field(default_factory=list)
    compile_seconds: float = 0.0
    train_seconds: float = 0.0

    @property
    def cost(self):
        return [e["cost"] for e in self.epochs]

    @property
    def val_accuracy(self):
        return [e["val_accuracy"] for e in self.epochs]

    def as_dict(self):
        return asdict(self)


def _labels_of(name, y, n_classes):
    y = np.asarray(y)
    if y.ndim == 2:
        return y.argmax(axis=1)
    return check_labels(name, y, n_classes)


def _targets(name, y, net):
    """One-hot targets in the net's dtype from labels (N,) or targets (N, K)."""
    k = net.sizes[-1]
    y = np.asarray(y)
    if y.ndim == 1:
        y = check_labels(name, y, k)
        out = np.zeros((y.shape[0], k), net.dtype)
        out[np.arange(y.shape[0]), y] = 1
        return out
    return check_array(name, y, net.dtype, shape=(None, k))


def accuracy(net, x, labels, batch_size=1000, progress=False):
    """Fraction of rows of x whose argmax output equals ``labels``."""
    x = check_array("x", x, net.dtype, shape=(None, net.n_in))
    labels = _labels_of("labels", labels, net.sizes[-1])
    if labels.shape[0] != x.shape[0]:
        raise ValueError(f"labels: expected {x.shape[0]} labels (one per row of x), got {labels.shape[0]}")
    correct = 0
    starts = range(0, x.shape[0], batch_size)
    for s in tqdm(starts, desc="validate", unit="batch", leave=False, disable=not progress, file=sys.stderr):
        correct += int((net.predict(x[s:s + batch_size], batch_size).argmax(axis=1) == labels[s:s + batch_size]).sum())
    return correct / x.shape[0]


def _epoch_kernel_args(net, cost):
    spec = net.mlp_spec()
    if spec is None:
        raise ValueError("impl: the fused and per-sample implementations train plain MLPs "
                         f"(Linear, Sigmoid/ReLU, ..., optional final SoftMax); got {net!r}")
    sizes, acts, softmax = spec
    if softmax and isinstance(cost, CrossEntropy):
        return sizes, acts, LOSS_SOFTMAX_CE
    if not softmax and type(cost) is MeanSquareError:
        return sizes, acts, LOSS_MSE
    raise ValueError("cost: the fused and per-sample implementations support MeanSquareError "
                     f"(no final SoftMax) or CrossEntropy after a final SoftMax; got {cost!r} with {net!r}")


def train(net, cost, x_train, y_train, x_val=None, y_val=None, *, epochs=1, batch_size=32,
          learning_rate=0.01, weight_decay=0.0, lr_decay=1.0, seed=0, impl=None,
          progress=True, on_epoch=None, start_epoch=1, rng_state=None):
    """Train ``net`` on (x_train, y_train) with minibatch SGD; returns a ``History``.

    x_train (N, n_in) in the net's dtype; y_train class labels (N,) or
    targets (N, K); x_val/y_val likewise (optional) for the per-epoch
    validation accuracy. The sample order of epoch e is the e-th permutation
    drawn from ``numpy.random.default_rng(seed)``. ``learning_rate`` is
    multiplied by ``lr_decay`` after each epoch. ``on_epoch(record, state)``
    is called after each epoch, where ``state`` holds what a checkpoint needs
    to resume: ``rng_state`` (of the sample-order generator) and
    ``next_learning_rate``. To resume, pass ``start_epoch`` (the first epoch
    still to run), that ``rng_state`` and that learning rate. Raises
    ``TrainingDiverged`` (naming the epoch and step) as soon as a cost is not
    finite, before that step's update.
    """
    from jitprop.model.network import Network
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a jitprop Network, got {type(net).__name__}")
    if not isinstance(cost, Cost):
        raise TypeError(f"cost: expected a jitprop Cost (MeanSquareError, CrossEntropy, Hinge), got {type(cost).__name__}")
    impl = impl or ("jit" if net.backend == "numba" else "batched")
    if impl not in IMPLS:
        raise ValueError(f"impl: expected one of {IMPLS}, got {impl!r}")
    epochs = check_positive_int("epochs", epochs)
    start_epoch = check_positive_int("start_epoch", start_epoch)
    batch_size = check_positive_int("batch_size", batch_size)
    lr = check_scalar("learning_rate", learning_rate, strict=True)
    weight_decay = check_scalar("weight_decay", weight_decay)
    lr_decay = check_scalar("lr_decay", lr_decay, strict=True)
    x_train = check_array("x_train", x_train, net.dtype, shape=(None, net.n_in))
    y_train = _targets("y_train", y_train, net)
    n = x_train.shape[0]
    if y_train.shape[0] != n:
        raise ValueError(f"y_train: expected {n} rows (one per row of x_train), got {y_train.shape[0]}")
    if impl in PER_SAMPLE and batch_size != 1:
        raise ValueError(f"batch_size: the {impl} implementation trains one sample at a time; expected 1, got {batch_size}")
    if batch_size > n:
        raise ValueError(f"batch_size: expected at most the number of training rows ({n}), got {batch_size}")
    validate = x_val is not None
    if validate:
        x_val = check_array("x_val", x_val, net.dtype, shape=(None, net.n_in))
        y_val = _labels_of("y_val", y_val, net.sizes[-1])
    kernel_args = _epoch_kernel_args(net, cost) if impl in ("fused", "per-sample", "per-sample-jit") else None

    history = History(impl=impl)
    rng = np.random.default_rng(seed)
    if rng_state is not None:
        rng.bit_generator.state = rng_state
    saved = net.backend, cost.backend, cost.dtype
    net.backend = cost.backend = "numpy" if impl in ("batched", "per-sample") else "numba"
    cost.dtype = net.dtype
    try:
        if impl in ("fused", "per-sample-jit"):
            history.compile_seconds = _warm_up(net, kernel_args, x_train, y_train, impl, progress)
        for epoch in range(start_epoch, epochs + 1):
            order = rng.permutation(n).astype(np.int64)
            net.set_training(True)
            t0 = time.perf_counter()
            if kernel_args is None:
                batch_costs = _epoch_model_layer(net, cost, x_train, y_train, order, batch_size, lr,
                                                 weight_decay, epoch, epochs, progress)
            else:
                batch_costs = _epoch_kernel(net, kernel_args, x_train, y_train, order, batch_size, lr,
                                            weight_decay, epoch, epochs, progress, impl)
            seconds = time.perf_counter() - t0
            bad = np.flatnonzero(~np.isfinite(batch_costs))
            if bad.size:
                raise TrainingDiverged(
                    f"training diverged: the cost became {batch_costs[bad[0]]} at epoch {epoch}, step "
                    f"{bad[0] + 1} of {len(batch_costs)} (learning rate {lr:g}); the parameters are those "
                    "before that step. Try a lower learning rate.")
            history.train_seconds += seconds
            net.set_training(False)
            record = {"epoch": epoch, "cost": float(np.mean(batch_costs)), "learning_rate": lr,
                      "seconds": seconds, "samples_per_second": n / seconds if seconds > 0 else float("inf"),
                      "val_accuracy": accuracy(net, x_val, y_val, progress=progress) if validate else None}
            history.epochs.append(record)
            lr *= lr_decay
            if on_epoch is not None:
                on_epoch(record, {"rng_state": rng.bit_generator.state, "next_learning_rate": lr})
    finally:
        net.backend, cost.backend, cost.dtype = saved
        net.set_training(False)
    return history


def _epoch_model_layer(net, cost, x, y, order, batch_size, lr, weight_decay, epoch, epochs, progress):
    n_batches = -(-order.shape[0] // batch_size)
    costs = np.full(n_batches, np.nan)
    bar = tqdm(total=order.shape[0], desc=f"epoch {epoch}/{epochs}", unit="sample", unit_scale=True,
               leave=False, disable=not progress, file=sys.stderr)
    for k in range(n_batches):
        idx = order[k * batch_size:(k + 1) * batch_size]
        net.zero_gradients()
        value = net.loss_and_backward(cost, x[idx], y[idx])
        costs[k] = value
        if not np.isfinite(value):
            break
        net.update_parameters(lr, weight_decay)
        bar.update(idx.shape[0])
    bar.close()
    return costs


def _epoch_kernel(net, kernel_args, x, y, order, batch_size, lr, weight_decay, epoch, epochs, progress, impl):
    import jitprop.kernels as compiled
    import jitprop.kernels.reference as reference
    sizes, acts, loss_kind = kernel_args
    dt = net.dtype
    n = order.shape[0]
    chunk = batch_size * max(1, -(-n // (batch_size * _CHUNKS)))
    bar = tqdm(total=n, desc=f"epoch {epoch}/{epochs}", unit="sample", unit_scale=True,
               leave=False, disable=not progress, file=sys.stderr)
    parts = []
    for s in range(0, n, chunk):
        part = order[s:s + chunk]
        if impl == "fused":
            c = compiled.train_epoch(net.params, sizes, acts, loss_kind, x, y, part, batch_size, dt(lr), dt(weight_decay))
        elif impl == "per-sample-jit":
            c = compiled.train_epoch_per_sample(net.params, sizes, acts, loss_kind, x, y, part, dt(lr), dt(weight_decay))
        else:
            c = reference.train_epoch_per_sample(net.params, sizes, acts, loss_kind, x, y, part, dt(lr), dt(weight_decay))
        parts.append(c)
        bar.update(part.shape[0])
        if not np.isfinite(c).all():
            break
    bar.close()
    costs = np.concatenate(parts)
    return np.concatenate([costs, np.full(-(-n // batch_size) - costs.shape[0], np.nan)])


def _warm_up(net, kernel_args, x, y, impl, progress):
    """Compile (or load from the cache) the epoch kernel on a copy of the
    parameters, so compile time is reported apart from training time."""
    import jitprop.kernels as compiled
    sizes, acts, loss_kind = kernel_args
    if progress:
        print("jitprop: preparing the compiled kernels (compiled on first use, cached after) ...",
              file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    params = net.params.copy()
    order = np.zeros(1, np.int64)
    dt = net.dtype
    if impl == "fused":
        compiled.train_epoch(params, sizes, acts, loss_kind, x, y, order, 1, dt(0), dt(0))
    else:
        compiled.train_epoch_per_sample(params, sizes, acts, loss_kind, x, y, order, dt(0), dt(0))
    return time.perf_counter() - t0
