"""The training loop, with the seeds' semantics.

Per minibatch: zero the gradients, forward, estimate, gradient, backward,
update. Per epoch: the costs, the learning rate, and, if given, the
validation and test accuracy and loss. ``impl`` picks who does the
arithmetic (see ``impls.py``); all implementations train the same network to
the same weights from the same seed (within float rounding).
"""
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from jitprop.checks import check_array, check_finite, check_labels, check_positive_int, check_scalar
from jitprop.model.costs import Cost
from jitprop.model.impls import IMPLS, Plan, check_impl, default_impl
from jitprop.model.network import check_network
from jitprop.model.optim import SGD, check_optimizer
from jitprop.model.schedules import Constant, Exponential, check_schedule
from jitprop.progress import bar

# The epoch runs in slices of its order (the same result as one call), for
# the progress bar and the thread choice: the first is 1/_FIRST_SLICES of the
# epoch, later ones are sized from the speed so far to take about
# _SLICE_SECONDS (each call of a whole-epoch kernel also lays the weights out
# and back: fewer, longer calls when training is fast), shorter while the
# thread choice is unsettled (ThreadChoice.slice_seconds).
_FIRST_SLICES = 20
_SLICE_SECONDS = 0.25


class TrainingDiverged(FloatingPointError):
    """The cost became NaN or infinite; the parameters are those of the last
    good step."""


@dataclass
class History:
    """Per-epoch records: epoch, cost (mean of the minibatch costs), cost_sum
    (their sum, HaMLeT's report), learning_rate (of the epoch's first step),
    seconds, samples_per_second, val_accuracy/val_loss and
    test_accuracy/test_loss (None without those sets); threads: (threads,
    share of their time waited) per slice of the fused kernel."""
    impl: str
    epochs: list = field(default_factory=list)
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    threads: list = field(default_factory=list)

    def _col(self, key):
        return [e[key] for e in self.epochs]

    cost = property(lambda self: self._col("cost"))
    val_accuracy = property(lambda self: self._col("val_accuracy"))
    val_loss = property(lambda self: self._col("val_loss"))
    test_accuracy = property(lambda self: self._col("test_accuracy"))
    test_loss = property(lambda self: self._col("test_loss"))

    def as_dict(self):
        return asdict(self)


def labels_of(name, y, n_classes):
    """Class labels (N,) from labels (N,) or one-hot/score rows (N, n_classes)."""
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != n_classes:
            raise ValueError(f"{name}: expected labels (N,) or rows of {n_classes} class scores, got shape {y.shape}")
        if y.dtype.kind not in "fiu" or not np.isfinite(y).all():
            raise ValueError(f"{name}: expected finite class scores, got {y.dtype} with non-finite entries")
        return y.argmax(axis=1)
    return check_labels(name, y, n_classes)


def targets_of(name, y, n_out, dtype):
    """Targets (N, n_out) in ``dtype`` from labels (N,) or targets (N, n_out)."""
    y = np.asarray(y)
    if y.ndim == 1:
        y = check_labels(name, y, n_out)
        out = np.zeros((y.shape[0], n_out), dtype)
        out[np.arange(y.shape[0]), y] = 1
        return out
    if y.dtype.kind in "iu":
        y = y.astype(dtype)
    return check_array(name, y, dtype, shape=(None, n_out))


def evaluate(net, cost, x, labels, batch_size=1000):
    """(accuracy, mean cost) of ``net`` on x (N, n_in) and labels (N,);
    keeps no state (runs ``predict``)."""
    correct, total = 0, 0.0
    for s in range(0, x.shape[0], batch_size):
        out = net.predict(x[s:s + batch_size], batch_size)
        lab = labels[s:s + batch_size]
        correct += int((out.argmax(axis=1) == lab).sum())
        if cost is not None:
            t = np.zeros(out.shape, net.dtype)
            t[np.arange(lab.shape[0]), lab] = 1
            total += cost.evaluate(t, out) * lab.shape[0]
    return correct / x.shape[0], (total / x.shape[0] if cost is not None else None)


def accuracy(net, x, labels, batch_size=1000, progress=False):
    """Fraction of rows of x (N, n_in) whose argmax output equals ``labels``
    (N,) (or the argmax of one-hot rows (N, n_out))."""
    check_network(net)
    x = check_array("x", x, net.dtype, shape=(None, net.n_in))
    batch_size = check_positive_int("batch_size", batch_size)
    labels = labels_of("labels", labels, net.output_width(x))
    if labels.shape[0] != x.shape[0]:
        raise ValueError(f"labels: expected {x.shape[0]} labels (one per row of x), got {labels.shape[0]}")
    correct = 0
    starts = range(0, x.shape[0], batch_size)
    for s in bar(progress, iterable=starts, desc="validate", unit="batch", leave=False):
        correct += int((net.predict(x[s:s + batch_size], batch_size).argmax(axis=1) == labels[s:s + batch_size]).sum())
    return correct / x.shape[0]


def _optimizer_and_schedule(optimizer, schedule, learning_rate, lr_decay, weight_decay):
    if optimizer is None:
        optimizer = SGD(0.01 if learning_rate is None else learning_rate,
                        weight_decay=0.0 if weight_decay is None else weight_decay)
    else:
        check_optimizer(optimizer)
        for name, v in (("learning_rate", learning_rate), ("weight_decay", weight_decay)):
            if v is not None:
                raise ValueError(f"{name}: give it to the optimizer ({type(optimizer).__name__}(...)), "
                                 "not to train, when you pass an optimizer")
    if schedule is None:
        schedule = Constant() if lr_decay is None else Exponential(check_scalar("lr_decay", lr_decay, strict=True))
    else:
        check_schedule(schedule)
        if lr_decay is not None:
            raise ValueError("lr_decay: give either lr_decay or a schedule, not both")
    return optimizer, schedule


def _eval_set(name_x, x, name_y, y, net, n_out):
    if x is None and y is None:
        return None
    if x is None or y is None:
        missing = name_x if x is None else name_y
        raise ValueError(f"{missing}: {name_y if x is None else name_x} was given without it; pass both or neither")
    x = check_array(name_x, x, net.dtype, shape=(None, net.n_in))
    y = labels_of(name_y, y, n_out)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{name_y}: expected {x.shape[0]} labels (one per row of {name_x}), got {y.shape[0]}")
    return x, y


def train(net, cost, x_train, y_train, x_val=None, y_val=None, *, epochs=1, batch_size=32, optimizer=None,
          schedule=None, learning_rate=None, lr_decay=None, weight_decay=None, seed=0, shuffle=True,
          mean_loss=False, impl=None, x_test=None, y_test=None, progress=True, verbose=False, on_epoch=None,
          start_epoch=1, rng_state=None, sample_order=None):
    """Train ``net`` on (x_train, y_train); returns a ``History``.

    x_train (N, n_in) in the net's dtype; y_train class labels (N,) or
    targets (N, n_out). x_val/y_val and x_test/y_test (optional) are scored
    after every epoch (accuracy and loss). The update rule is ``optimizer``
    (default ``SGD(learning_rate or 0.01, weight_decay=weight_decay or 0)``);
    its rate follows ``schedule`` (default constant, or
    ``Exponential(lr_decay)`` when lr_decay is given). Learning rates apply to
    per-sample gradients summed over the minibatch (the seeds' convention)
    unless ``mean_loss`` (the batch mean, as scikit-learn and PyTorch).

    The sample order of epoch e is the e-th permutation drawn from
    ``numpy.random.default_rng(seed)`` (the file order with
    ``shuffle=False``), or ``sample_order(epoch)`` when given: (N,) row
    indices of x_train for that epoch (the scikit-learn estimators pass
    scikit-learn's own shuffle). ``on_epoch(record, state)`` runs after
    each epoch with what a checkpoint needs to resume:
    ``state["rng_state"]`` of the order generator, ``state["epoch"]``,
    ``state["optimizer"]``. To resume,
    pass the same optimizer (with its state loaded), ``start_epoch`` (the
    first epoch still to run) and that ``rng_state``. Raises
    ``TrainingDiverged`` (naming the epoch and step) as soon as a cost is not
    finite, before that step's update; ValueError for a value of x_train
    that is not finite, the parameters and optimizer as they were before
    the call (the epoch kernels find it when a step reads its row, in the
    first epoch). Ctrl-C (``KeyboardInterrupt``) ends
    the call between two slices of an epoch, the weights those of the last
    finished slice (never half a step), but the optimizer's step count and
    the schedule may lag them by that slice: continue from an ``on_epoch``
    state, as ``jitprop.Session`` and ``jitprop train --resume`` do.

    Threads: ``fused`` runs on ``jitprop.threads.limit_threads(n)``'s count
    (default: all cores) and gives the same bits at any count; it drops to
    one thread for a while when its threads keep waiting on each other (a
    neighbour has taken a core: ``jitprop.threads.ThreadChoice``; a call
    made while an earlier call's spell on one thread lasts starts on one;
    ``History.threads`` records the choices). ``per-sample-jit`` runs on one
    thread; ``jit`` and the NumPy implementations on BLAS's threads.
    """
    check_network(net)
    if not isinstance(cost, Cost):
        raise TypeError(f"cost: expected a jitprop Cost (MeanSquareError, CrossEntropy, Hinge), got {type(cost).__name__}")
    epochs = check_positive_int("epochs", epochs)
    start_epoch = check_positive_int("start_epoch", start_epoch)
    batch_size = check_positive_int("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if sample_order is not None and not callable(sample_order):
        raise TypeError(f"sample_order: expected a function of the epoch returning row indices, "
                        f"got {type(sample_order).__name__}")
    optimizer, schedule = _optimizer_and_schedule(optimizer, schedule, learning_rate, lr_decay, weight_decay)
    x_train = check_array("x_train", x_train, net.dtype, shape=(None, net.n_in), finite=False)
    if net.n_out is None:  # output_width predicts the first row
        check_finite("x_train", x_train[:1])
    n_out = net.output_width(x_train)
    y_train = targets_of("y_train", y_train, n_out, net.dtype)
    n = x_train.shape[0]
    if y_train.shape[0] != n:
        raise ValueError(f"y_train: expected {n} rows (one per row of x_train), got {y_train.shape[0]}")
    if batch_size > n:
        raise ValueError(f"batch_size: expected at most the number of training rows ({n}), got {batch_size}")
    val = _eval_set("x_val", x_val, "y_val", y_val, net, n_out)
    test = _eval_set("x_test", x_test, "y_test", y_test, net, n_out)
    plan = Plan(net, cost, optimizer, x_train, y_train, batch_size, bool(mean_loss))
    from jitprop.kernels import team
    from jitprop.threads import ThreadChoice
    plan.threads = ThreadChoice(team.threads())
    runner = default_impl(plan) if impl is None else check_impl(impl)
    runner.check(plan)
    # The epoch kernels check each row of x_train as a step reads it (no pass
    # over x_train of their own: ~5% of a batch-600 epoch); the weights are
    # put back if a row is not finite, so the call changes nothing, as when
    # the check comes first. Every row is read in the first epoch unless
    # sample_order picks the rows (or no epoch runs): then the check comes first.
    rows_checked = runner.checks_rows and sample_order is None and start_epoch <= epochs
    if not rows_checked:
        check_finite("x_train", x_train)
    if runner.per_sample and len(net.custom):
        raise ValueError("impl: the per-sample kernels cannot run user-defined layers")
    rng = np.random.default_rng(seed)
    if rng_state is not None:
        try:
            rng.bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"rng_state: expected the state of a numpy PCG64 generator (as on_epoch gives it), "
                             f"got {type(rng_state).__name__} ({exc})") from None
    history = History(impl=runner.name)
    history.threads = plan.threads.history
    steps = -(-n // batch_size)
    with net.training_session():
        before = plan.snapshot() if rows_checked else None
        try:
            history.compile_seconds = _warm_up(runner, plan, progress)
            for epoch in range(start_epoch, epochs + 1):
                if sample_order is not None:
                    order = _checked_order(sample_order(epoch), n, epoch)
                else:
                    order = rng.permutation(n).astype(np.int64) if shuffle else np.arange(n, dtype=np.int64)
                lrs = schedule.rates(optimizer.lr, epoch, steps, epochs)
                net.set_training(True)
                t0 = time.perf_counter()
                costs = _run_epoch(runner, plan, order, lrs, epoch, epochs, progress)
                seconds = time.perf_counter() - t0
                bad = np.flatnonzero(~np.isfinite(costs))
                if bad.size and before is not None and not np.isfinite(x_train).all():
                    plan.restore(before)  # a bad row stopped the epoch, or a step before it diverged
                    check_finite("x_train", x_train)
                if bad.size:
                    raise TrainingDiverged(
                        f"training diverged: the cost became {costs[bad[0]]} at epoch {epoch}, step {bad[0] + 1} "
                        f"of {len(costs)} (learning rate {lrs[bad[0]]:g}); the parameters are those before that "
                        "step. Try a lower learning rate.")
                history.train_seconds += seconds
                net.set_training(False)
                record = {"epoch": epoch, "cost": float(np.mean(costs)), "cost_sum": float(np.sum(costs)),
                          "learning_rate": float(lrs[0]), "seconds": seconds,
                          "samples_per_second": n / seconds if seconds > 0 else float("inf"),
                          "val_accuracy": None, "val_loss": None, "test_accuracy": None, "test_loss": None}
                for key, data in (("val", val), ("test", test)):
                    if data is not None:
                        record[f"{key}_accuracy"], record[f"{key}_loss"] = evaluate(net, cost, *data)
                history.epochs.append(record)
                if verbose:
                    print(format_record(record, epochs), file=sys.stderr, flush=True)
                if on_epoch is not None:
                    on_epoch(record, {"epoch": epoch, "rng_state": rng.bit_generator.state, "optimizer": optimizer})
        finally:
            net.set_training(False)
    return history


def _checked_order(order, n, epoch):
    """sample_order's answer as (n,) int64 row indices in 0..n-1."""
    order = np.asarray(order)
    if order.shape != (n,) or order.dtype.kind not in "iu":
        raise ValueError(f"sample_order: expected {n} integer row indices for epoch {epoch}, got "
                         f"{order.dtype} array of shape {order.shape}")
    if order.min() < 0 or order.max() >= n:
        bad = order[(order < 0) | (order >= n)][0]
        raise ValueError(f"sample_order: expected row indices in 0..{n - 1} for epoch {epoch}, got {int(bad)}")
    return np.ascontiguousarray(order, np.int64)


def format_record(r, epochs):
    """One line for an epoch record: the cost, accuracies and losses, speed."""
    parts = [f"epoch {r['epoch']:>3}/{epochs}", f"cost {r['cost']:.5f}"]
    for key, label in (("val", "val"), ("test", "test")):
        if r.get(f"{key}_accuracy") is not None:
            parts.append(f"{label} {100 * r[f'{key}_accuracy']:.2f}% (loss {r[f'{key}_loss']:.4f})")
    parts.append(f"lr {r['learning_rate']:.3g}")
    parts.append(f"{r['seconds']:.2f} s ({r['samples_per_second']:,.0f} samples/s)")
    return "  ".join(parts)


def _warm_up(runner, plan, progress):
    if runner.backend == "numba" and progress:
        print("jitprop: preparing the compiled kernels (compiled on first use, cached after) ...",
              file=sys.stderr, flush=True)
    return runner.warm_up(plan)


def _run_epoch(runner, plan, order, lrs, epoch, epochs, progress):
    """The epoch in slices (see _SLICE_SECONDS), a whole number of steps each."""
    n, b = order.shape[0], plan.batch_size
    steps = lrs.shape[0]
    per_slice = max(1, -(-steps // _FIRST_SLICES))
    shown = bar(progress, total=n, desc=f"epoch {epoch}/{epochs}", unit="sample", unit_scale=True, leave=False)
    parts = []
    s = 0
    while s < steps:
        part = order[s * b:(s + per_slice) * b]
        t0 = time.perf_counter()
        c = runner.run(plan, part, lrs[s:s + per_slice])
        seconds = time.perf_counter() - t0
        parts.append(c)
        shown.update(part.shape[0])
        if not np.isfinite(c).all():
            break
        s += c.shape[0]
        per_slice = max(1, int(c.shape[0] * plan.threads.slice_seconds(_SLICE_SECONDS) / max(seconds, 1e-6)))
    shown.close()
    costs = np.concatenate(parts)
    return np.concatenate([costs, np.full(steps - costs.shape[0], np.nan)])


__all__ = ["IMPLS", "History", "TrainingDiverged", "accuracy", "evaluate", "train"]
