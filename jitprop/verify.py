"""Every compiled kernel against its NumPy twin, as in llm.c's validation step.

``run_all`` walks the kernel registry (``jitprop.kernels.registry.KERNELS``):
for each kernel, each of its variants (an activation, an optimizer) and
each dtype, it calls the kernel and its twin on identical random inputs from
the kernel's own recipe over a grid of shapes and reports the largest
normwise relative error ``max|kernel - twin| / max|twin|`` over every output
(arrays written in place and the returned value). That is the quantity
compared with the tolerance. Used by ``jitprop verify`` and the tests.

Tolerances, and why:

* float64 1e-12: an inner product of n terms summed in another order (BLAS
  blocking, fused multiply-adds, reassociation allowed by our fastmath flags)
  differs by at most about n * 2.2e-16 = 6.7e-14 for n = 300.
* float32 5e-5: the same bound is n * 1.2e-7 = 3.6e-5 for n = 300.
* whole-network kernels compound that over several layers and optimizer
  steps: float64 1e-10, float32 1e-4 (observed: 1e-15 and 1e-6).
"""
import sys

import numpy as np

import jitprop.kernels.reference as reference
from jitprop.kernels.registry import KERNELS, compiled

TOL = {"element": {np.float64: 1e-12, np.float32: 5e-5}, "network": {np.float64: 1e-10, np.float32: 1e-4}}
EXTREME_SCALE = 1e4

BATCHES = (1, 2, 3, 5, 12, 32, 64)
WIDTHS = ((1, 1), (7, 3), (10, 10), (784, 32), (128, 300), (300, 128), (33, 10))
QUICK_BATCHES = (1, 3, 12, 64)
QUICK_WIDTHS = ((1, 1), (7, 3), (128, 300), (784, 32))


def tolerance(r, dt):
    return TOL[r.family][dt]


def compare(name, args, dt, kernel=None):
    """Run the kernel (default: the compiled one) and its twin on copies of
    ``args``; return (max abs error, normwise relative error)."""
    kernel = kernel or getattr(compiled, name)
    a1 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    a2 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    r1 = kernel(*a1)
    r2 = getattr(reference, name)(*a2)
    outs1 = [a for a in a1 if isinstance(a, np.ndarray) and a.dtype == dt] + ([np.asarray(r1)] if r1 is not None else [])
    outs2 = [a for a in a2 if isinstance(a, np.ndarray) and a.dtype == dt] + ([np.asarray(r2)] if r2 is not None else [])
    abs_err = rel_err = 0.0
    for p, q in zip(outs1, outs2):
        p = p.astype(np.float64)
        q = q.astype(np.float64)
        if p.shape != q.shape or (np.isnan(p) != np.isnan(q)).any():
            return np.inf, np.inf
        mask = ~np.isnan(q)
        if not mask.any():
            continue
        err = float(np.max(np.abs(p[mask] - q[mask]), initial=0.0))
        ref = float(np.max(np.abs(q[mask]), initial=0.0))
        abs_err = max(abs_err, err)
        rel_err = max(rel_err, err / ref if ref > 0 else err)
    return abs_err, rel_err


def jobs(names=None):
    """(recipe, variant, dtype) for every row of the report, in registry order."""
    out = []
    for r in KERNELS:
        if names is not None and r.name not in names:
            continue
        for variant in r.variants:
            for dt in (np.float64, np.float32):
                out.append((r, variant, dt))
    return out


def row_name(r, variant):
    return r.name if variant is None else f"{r.name}[{variant}]"


def run_all(seed=0, quick=False, progress=False, names=None):
    """One row per (kernel, variant, dtype): shapes tried, worst absolute and
    relative error, tolerance, passed."""
    from tqdm.auto import tqdm
    batches, widths = (QUICK_BATCHES, QUICK_WIDTHS) if quick else (BATCHES, WIDTHS)
    rng = np.random.default_rng(seed)
    rows = []
    todo = jobs(names)
    for r, variant, dt in tqdm(todo, desc="verify", unit="row", disable=not progress, file=sys.stderr):
        worst_abs = worst_rel = 0.0
        shapes = 0
        for b in batches:
            for n_in, n_out in widths:
                for scale in ((1.0, EXTREME_SCALE) if r.extreme else (1.0,)):
                    a, e = compare(r.name, r.inputs(rng, b, n_in, n_out, dt, variant, scale), dt)
                    worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, e)
                    shapes += 1
        tol = tolerance(r, dt)
        rows.append({"kernel": row_name(r, variant), "dtype": np.dtype(dt).name, "shapes": shapes,
                     "max_abs": worst_abs, "max_rel": worst_rel, "tolerance": tol, "passed": bool(worst_rel <= tol)})
    return rows


def format_table(rows):
    head = (f"{'kernel':<34} {'dtype':<8} {'shapes':>6} {'rel err':>10}  {'<= tol':>7}  result"
            f"   {'(abs err)':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['kernel']:<34} {r['dtype']:<8} {r['shapes']:>6} {r['max_rel']:>10.2e}  "
                     f"{r['tolerance']:>7.0e}  {'pass' if r['passed'] else 'FAIL':<6}   ({r['max_abs']:.2e})")
    lines.append("rel err: max |kernel - twin| / max |twin| over every output, the worst shape; "
                 "a row passes when rel err <= tol")
    return "\n".join(lines)
