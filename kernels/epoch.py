"""Whole-network kernels on the flat layout: an epoch of minibatch training,
an epoch of per-sample training, and a batched forward pass. Twins with the
same names and signatures are in ``reference.py``; the flat layout is in
``layout.py``. Each is a Python driver of a compiled worker: ``worker.py``
(a team of threads sharing fixed tasks, for minibatches and the forward
pass) and ``sample.py`` (one thread, one sample at a time).

A network is described by ``sizes`` (L+1,) int64 widths, ``acts`` (L,)
int64 activation codes (``activations.ACTIVATIONS``) and a loss code
(``losses.LOSSES``; with softmax-CE the last layer's output is the logits).
Training takes an optimizer as in ``optimizers.py``: its code, hyper vector,
state (S, P) and the number of updates done before this call, plus one
learning rate per step (``lrs``), so any schedule runs inside.
"""
import numpy as np

from jitprop.kernels.activations import IDENTITY
from jitprop.kernels.layout import n_params
from jitprop.kernels.losses import LOSSES, SOFTMAX_CE
from jitprop.kernels.optimizers import OPTIMIZERS, STATE_BUFFERS, VARIANTS, variant_args
from jitprop.kernels.registry import kernel
from jitprop.kernels.sample import run_per_sample
from jitprop.kernels.worker import run_team


# ------------------------------------------------------------ test recipes

def _network(rng, b, n_in, n_out, dt, variant, scale=1.0):
    """A 3-layer MLP n_in -> 16 -> 8 -> max(n_out, 2) with random activations
    and loss, random data and order, optimizer ``variant``."""
    from jitprop.kernels.activations import ACTIVATIONS
    sizes = np.array([n_in, 16, 8, max(n_out, 2)], np.int64)
    loss_kind = int(rng.integers(0, len(LOSSES)))
    acts = rng.integers(0, len(ACTIVATIONS), 3).astype(np.int64)
    if loss_kind == SOFTMAX_CE:
        acts[-1] = IDENTITY
    p = n_params(sizes)
    params = (rng.standard_normal(p) * 0.1 * scale).astype(dt)
    state, kind, hyper = variant_args(rng, variant, p, dt)
    n = 3 * b + 1
    x = rng.standard_normal((n, n_in)).astype(dt)
    y = np.zeros((n, int(sizes[-1])), dt)
    y[np.arange(n), rng.integers(0, int(sizes[-1]), n)] = 1
    order = rng.permutation(n).astype(np.int64)
    return sizes, acts, loss_kind, params, state, kind, hyper, x, y, order


def _train_epoch_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    sizes, acts, loss_kind, params, state, kind, hyper, x, y, order = _network(rng, b, n_in, n_out, dt, variant)
    steps = -(-order.shape[0] // b)
    lrs = np.linspace(0.01, 0.005, steps)
    return (params, state, sizes, acts, loss_kind, kind, hyper, int(rng.integers(0, 5)), bool(b % 2),
            x, y, order, b, lrs)


def _per_sample_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    sizes, acts, loss_kind, params, state, kind, hyper, x, y, order = _network(rng, b, n_in, n_out, dt, variant)
    order = order[:8]
    return (params, state, sizes, acts, loss_kind, kind, hyper, int(rng.integers(0, 5)), x, y, order,
            np.linspace(0.01, 0.005, order.shape[0]))


def _forward_inputs(rng, b, n_in, n_out, dt, variant, scale=1.0):
    sizes, acts, loss_kind, params, _, _, _, x, _, _ = _network(rng, b, n_in, n_out, dt, "sgd")
    return (np.empty((x.shape[0], int(sizes[-1])), dt), params, sizes, acts, x, b)


def _network_check(name):
    return lambda args, dims: _check_network(name, args)


def _check_network(name, args):
    """What dimensions cannot say: the widths match the parameters, the data
    and the codes; every index of ``order`` is a row of x."""
    from jitprop.kernels.activations import ACTIVATIONS
    sizes, acts = args["sizes"], args["acts"]
    if sizes.shape[0] < 2 or (sizes < 1).any():
        raise ValueError(f"{name}: sizes: expected at least two positive widths, got {sizes.tolist()}")
    if acts.shape[0] != sizes.shape[0] - 1:
        raise ValueError(f"{name}: acts: expected one code per layer ({sizes.shape[0] - 1}), got {acts.shape[0]}")
    if ((acts < 0) | (acts >= len(ACTIVATIONS))).any():
        raise ValueError(f"{name}: acts: expected codes in 0..{len(ACTIVATIONS) - 1}, got {acts.tolist()}")
    if args["params"].shape[0] != n_params(sizes):
        raise ValueError(f"{name}: params: widths {sizes.tolist()} need {n_params(sizes)} parameters, "
                         f"got {args['params'].shape[0]}")
    x = args["x"]
    if x.shape[1] != sizes[0]:
        raise ValueError(f"{name}: x: expected {sizes[0]} columns (sizes[0]), got {x.shape[1]}")
    if "y" in args and args["y"].shape[1] != sizes[-1]:
        raise ValueError(f"{name}: y: expected {sizes[-1]} columns (sizes[-1]), got {args['y'].shape[1]}")
    if "out" in args and args["out"].shape[1] != sizes[-1]:
        raise ValueError(f"{name}: out: expected {sizes[-1]} columns (sizes[-1]), got {args['out'].shape[1]}")
    if args.get("loss_kind") == SOFTMAX_CE and acts[-1] != IDENTITY:
        raise ValueError(f"{name}: acts: softmax-CE takes the last layer's output as logits; "
                         f"expected identity (0) last, got {acts[-1]}")
    if "batch_size" in args and args["batch_size"] < 1:
        raise ValueError(f"{name}: batch_size: expected an integer >= 1, got {args['batch_size']}")
    if "order" in args:
        order = args["order"]
        if order.size and (order.min() < 0 or order.max() >= x.shape[0]):
            raise ValueError(f"{name}: order: expected row indices in 0..{x.shape[0] - 1}, "
                             f"got {int(order.min())}..{int(order.max())}")
        steps = -(-order.shape[0] // args.get("batch_size", 1))
        if args["lrs"].shape[0] != steps:
            raise ValueError(f"{name}: lrs: expected one learning rate per step ({steps}), got {args['lrs'].shape[0]}")
    if "state" in args:
        kind = args["opt_kind"]
        if args["state"].shape != (STATE_BUFFERS[kind], args["params"].shape[0]):
            raise ValueError(f"{name}: state: optimizer {kind} needs shape "
                             f"{(STATE_BUFFERS[kind], args['params'].shape[0])}, got {args['state'].shape}")
        if args["step"] < 0:
            raise ValueError(f"{name}: step: expected the number of updates done so far (>= 0), got {args['step']}")


_TRAIN_ARRAYS = {"params": "P", "state": "S P", "sizes": "L1", "acts": "L", "hyper": "7", "x": "N I", "y": "N K",
                 "order": "M", "lrs": "T"}
_CODES = {"loss_kind": LOSSES, "opt_kind": OPTIMIZERS}


# ---------------------------------------------------------------- kernels

@kernel(arrays=_TRAIN_ARRAYS, writes=("params", "state"), ints=("sizes", "acts", "order"),
        f64=("hyper", "lrs"), codes=_CODES, inputs=_train_epoch_inputs, variants=tuple(VARIANTS), family="network",
        check=_network_check("train_epoch"), driver=True)
def train_epoch(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order,
                batch_size, lrs):
    """One epoch of minibatch training.

    params (P,) flat, and state (S, P) of the optimizer, updated in place;
    step: updates done before this call (the first here is step + 1);
    mean_loss: divide each minibatch's summed gradient by its rows (the
    batch-mean loss) instead of using the sum (the seeds' convention);
    x (N, n_0), y (N, n_L) in the dtype of params; order (M,) int64 rows of
    x in training order; lrs (ceil(M / batch_size),) float64, one learning
    rate per step. Returns the costs (n_steps,) float64; stops before the
    update of the first step whose cost is not finite (that entry holds it,
    later entries are NaN), or that has a row of x not all finite (its cost
    NaN: the rows are checked as the step reads them, no pass of its own).

    Runs on ``jitprop.threads.limit_threads``'s count of threads (default:
    all cores), which share fixed tasks (``worker.py``): the same bits at
    any thread count. Every weight's update is fused into the product that
    makes its gradient (``gemm.update_tile``), after the layer's input
    gradient is taken with the old weights; the rows of x are read where
    they are.
    """
    n_batches = -(-order.shape[0] // batch_size)
    costs = np.full(n_batches, np.nan)
    run_team(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, mean_loss, x, y, order, batch_size, lrs,
             costs, np.empty((0, int(sizes[-1])), params.dtype), True)
    return costs


@kernel(arrays=_TRAIN_ARRAYS, writes=("params", "state"),
        ints=("sizes", "acts", "order"), f64=("hyper", "lrs"), codes=_CODES, inputs=_per_sample_inputs,
        variants=tuple(VARIANTS), family="network", check=_network_check("train_epoch_per_sample"), driver=True)
def train_epoch_per_sample(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, x, y, order, lrs):
    """One epoch of per-sample training (Homework 1's algorithm), compiled.

    Same arguments and result as ``train_epoch`` with batch size 1. One
    thread; works on the transposed weights of the whole-epoch kernel, and
    each layer's update is fused with its input gradient (taken with the old
    weights, so it equals computing every gradient, then updating) and, for
    the first layer, with the next sample's product.
    """
    costs = np.full(order.shape[0], np.nan)
    run_per_sample(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, x, y, order, lrs, costs)
    return costs


@kernel(arrays={"out": "N K", "params": "P", "sizes": "L1", "acts": "L", "x": "N I"}, writes=("out",),
        ints=("sizes", "acts"), inputs=_forward_inputs, family="network", check=_network_check("network_forward"),
        driver=True)
def network_forward(out, params, sizes, acts, x, batch_size):
    """Forward pass of a flat MLP over x (N, n_0) in chunks of ``batch_size``
    rows; overwrites out (N, n_L) with the last activation (the logits for a
    softmax-CE network). The whole-epoch kernel's forward phases (the same
    threads and tiles, no training state), so any number of threads may
    call it at once and the result does not depend on the thread count."""
    n = x.shape[0]
    if not params.flags.writeable:  # the worker's type has writable parameters (training writes them)
        params = params.copy()
    run_team(params, np.zeros((0, params.shape[0]), params.dtype), sizes, acts, 0, 0, np.zeros(7), 0, False, x,
             np.zeros((1, int(sizes[-1])), params.dtype), np.arange(n, dtype=np.int64), batch_size,
             np.zeros(1), np.zeros(1), out, False)
