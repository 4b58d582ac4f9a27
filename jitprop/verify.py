"""Every compiled kernel against its NumPy twin, as in llm.c's validation step.

``run_all`` calls each kernel and its twin on identical random inputs over a
grid of shapes, in float64 and float32, and reports, per kernel and dtype,
the largest normwise relative error ``max|kernel - twin| / max|twin|`` over
every output (arrays written in place and the returned value). Used by
``jitprop verify`` and by ``tests/test_kernels_vs_reference.py``.

Tolerances, and why:

* float64 1e-12: an inner product of n terms summed in another order (BLAS
  blocking, FMA contraction, reassociation allowed by our fastmath flags)
  differs by at most about n * 2.2e-16 = 6.7e-14 for n = 300.
* float32 5e-5: the same bound is n * 1.2e-7 = 3.6e-5 for n = 300.
* whole-network kernels compound that over several layers and SGD steps:
  float64 1e-10, float32 1e-4 (observed: 1e-15 and 1e-6).
"""
import sys

import numpy as np

import jitprop.kernels as compiled
import jitprop.kernels.reference as reference
from jitprop.kernels.layout import n_params

TOL = {np.float64: 1e-12, np.float32: 5e-5}
NETWORK_TOL = {np.float64: 1e-10, np.float32: 1e-4}
NETWORK_KERNELS = ("train_epoch", "train_epoch_per_sample", "network_forward")

BATCHES = (1, 2, 3, 5, 12, 32, 64)
WIDTHS = ((1, 1), (7, 3), (10, 10), (784, 32), (128, 300), (300, 128), (33, 10))
QUICK_BATCHES = (1, 3, 12, 64)
QUICK_WIDTHS = ((1, 1), (7, 3), (128, 300), (784, 32))


def _sigmoid(z):
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _one_hot(rng, b, k, dt, soft=False):
    if soft:
        t = rng.random((b, k))
        return (t / t.sum(axis=1, keepdims=True)).astype(dt)
    t = np.zeros((b, k), dt)
    t[np.arange(b), rng.integers(0, k, b)] = 1
    return t


def make_inputs(name, rng, b, n_in, n_out, dt, scale=1.0):
    """Arguments for kernel ``name`` with batch b, widths n_in -> n_out.

    ``scale`` multiplies pre-activations (use 1e4 for the extreme-value cases).
    """
    def normal(*shape, s=1.0):
        return (rng.standard_normal(shape) * s).astype(dt)

    x = normal(b, n_in)
    w = normal(n_out, n_in, s=scale / np.sqrt(n_in))
    bias = normal(1, n_out, s=scale)
    if scale != 1.0:
        # Extreme pre-activations from small integers, so x @ w.T + b is exact
        # in any summation order and only the activation itself is compared
        # (a rounded |z| ~ 1e4 would otherwise dominate the float32 error).
        x = rng.integers(-3, 4, (b, n_in)).astype(dt)
        w = (rng.integers(-3, 4, (n_out, n_in)) * max(1, int(scale) // n_in)).astype(dt)
        bias = (rng.integers(-3, 4, (1, n_out)) * scale).astype(dt)
    z = normal(b, n_out, s=scale)
    d_out = normal(b, n_out)
    if name in ("linear_forward", "linear_sigmoid_forward", "linear_relu_forward"):
        return (np.empty((b, n_out), dt), x, w, bias)
    if name == "linear_backward":
        return (np.empty((b, n_in), dt), normal(n_out, n_in), normal(1, n_out), d_out, x, w, True)
    if name == "linear_sigmoid_backward":
        return (np.empty((b, n_in), dt), normal(n_out, n_in), normal(1, n_out), np.empty((b, n_out), dt),
                d_out, _sigmoid(z).astype(dt), x, w, True)
    if name == "linear_relu_backward":
        return (np.empty((b, n_in), dt), normal(n_out, n_in), normal(1, n_out), np.empty((b, n_out), dt),
                d_out, np.maximum(z, 0), x, w, True)
    if name in ("sigmoid_forward", "relu_forward", "softmax_forward"):
        return (np.empty((b, n_out), dt), z)
    if name == "sigmoid_backward":
        return (np.empty((b, n_out), dt), d_out, _sigmoid(z).astype(dt))
    if name == "relu_backward":
        return (np.empty((b, n_out), dt), d_out, np.maximum(z, 0))
    if name == "softmax_backward":
        return (np.empty((b, n_out), dt), d_out, _softmax(z.astype(np.float64)).astype(dt))
    if name == "softmax_cross_entropy":
        return (np.empty((b, n_out), dt), z, _one_hot(rng, b, n_out, dt, soft=n_in % 2 == 1))
    if name == "mse":
        return (np.empty((b, n_out), dt), _sigmoid(z).astype(dt), _one_hot(rng, b, n_out, dt))
    if name == "cross_entropy":
        return (np.empty((b, n_out), dt), _softmax(z.astype(np.float64)).astype(dt), _one_hot(rng, b, n_out, dt))
    if name == "hinge":
        return (np.empty((b, n_out), dt), z, np.where(rng.random((b, n_out)) < 0.5, -1, 1).astype(dt))
    if name == "sgd_update":
        return (normal(n_out, n_in), normal(n_out, n_in), dt(0.01), dt(1e-3))
    raise KeyError(name)


def make_network_inputs(name, rng, b, n_in, n_out, dt, scale=1.0):
    """A 3-layer MLP n_in -> 16 -> 8 -> n_out with random activations and loss."""
    sizes = np.array([n_in, 16, 8, max(n_out, 2)], np.int64)
    loss_kind = int(rng.integers(0, 2))
    acts = rng.integers(1, 3, 3).astype(np.int64)
    if loss_kind == 1:
        acts[-1] = 0
    params = (rng.standard_normal(n_params(sizes)) * 0.1 * scale).astype(dt)
    n = 3 * b + 1
    x = rng.standard_normal((n, n_in)).astype(dt)
    y = _one_hot(rng, n, int(sizes[-1]), dt)
    order = rng.permutation(n).astype(np.int64)
    if name == "train_epoch":
        return (params, sizes, acts, loss_kind, x, y, order, b, dt(0.01), dt(1e-3))
    if name == "train_epoch_per_sample":
        return (params, sizes, acts, loss_kind, x, y, order[:8], dt(0.01), dt(1e-3))
    return (np.empty((n, int(sizes[-1])), dt), params, sizes, acts, x, b)


def compare(name, args, dt):
    """Run kernel and twin on copies of ``args``; return (abs error, rel error)."""
    a1 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    a2 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    r1 = getattr(compiled, name)(*a1)
    r2 = getattr(reference, name)(*a2)
    outs1 = [a for a in a1 if isinstance(a, np.ndarray) and a.dtype == dt] + ([np.asarray(r1)] if r1 is not None else [])
    outs2 = [a for a in a2 if isinstance(a, np.ndarray) and a.dtype == dt] + ([np.asarray(r2)] if r2 is not None else [])
    abs_err = rel_err = 0.0
    for p, q in zip(outs1, outs2):
        p = p.astype(np.float64)
        q = q.astype(np.float64)
        if p.shape != q.shape or np.isnan(p).any() != np.isnan(q).any():
            return np.inf, np.inf
        mask = ~np.isnan(q)
        if not mask.any():
            continue
        err = float(np.max(np.abs(p[mask] - q[mask])))
        ref = float(np.max(np.abs(q[mask])))
        abs_err = max(abs_err, err)
        rel_err = max(rel_err, err / ref if ref > 0 else err)
    return abs_err, rel_err


def run_all(seed=0, quick=False, progress=False, names=None):
    """One row per (kernel, dtype): shapes tried, max abs/rel error, tolerance, passed."""
    from tqdm.auto import tqdm
    names = names or compiled.KERNEL_NAMES
    batches, widths = (QUICK_BATCHES, QUICK_WIDTHS) if quick else (BATCHES, WIDTHS)
    rng = np.random.default_rng(seed)
    rows = []
    jobs = [(n, dt) for n in names for dt in (np.float64, np.float32)]
    for name, dt in tqdm(jobs, desc="verify", unit="kernel", disable=not progress, file=sys.stderr):
        network = name in NETWORK_KERNELS
        make = make_network_inputs if network else make_inputs
        tol = (NETWORK_TOL if network else TOL)[dt]
        worst_abs = worst_rel = 0.0
        shapes = 0
        scales = (1.0, 1e4) if name in ("linear_sigmoid_forward", "sigmoid_forward", "softmax_forward",
                                        "softmax_cross_entropy", "linear_relu_forward") else (1.0,)
        for b in batches:
            for n_in, n_out in widths:
                for scale in scales:
                    a, r = compare(name, make(name, rng, b, n_in, n_out, dt, scale), dt)
                    worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, r)
                    shapes += 1
        rows.append({"kernel": name, "dtype": np.dtype(dt).name, "shapes": shapes, "max_abs": worst_abs,
                     "max_rel": worst_rel, "tolerance": tol, "passed": bool(worst_rel <= tol)})
    return rows


def format_table(rows):
    head = f"{'kernel':<24} {'dtype':<8} {'shapes':>6} {'max abs err':>12} {'max rel err':>12} {'tolerance':>10}  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['kernel']:<24} {r['dtype']:<8} {r['shapes']:>6} {r['max_abs']:>12.3e} "
                     f"{r['max_rel']:>12.3e} {r['tolerance']:>10.0e}  {'pass' if r['passed'] else 'FAIL'}")
    return "\n".join(lines)
