"""The two small sets of Assignment 1."""
import numpy as np

from jitprop.checks import check_positive_int, check_scalar
from jitprop.data.transforms import check_seed


def two_circles(n=200, noise=0.1, factor=0.4, seed=0):
    """Two concentric noisy circles: x (n, 2) float64, y (n, 1) in {-1, +1}
    (+1 on the inner circle, of radius ``factor``; the outer has radius 1),
    as for Assignment 1's hinge-loss task."""
    n = check_positive_int("n", n, minimum=2)
    noise = check_scalar("noise", noise, 0.0)
    factor = check_scalar("factor", factor, 0.0, strict=True)
    if factor >= 1:
        raise ValueError(f"factor: expected a number in (0, 1) (inner radius over outer), got {factor!r}")
    rng = np.random.default_rng(check_seed(seed))
    n_outer = n // 2
    n_inner = n - n_outer
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.concatenate([np.ones(n_outer), np.full(n_inner, factor)])
    x = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([-np.ones(n_outer), np.ones(n_inner)])[:, None]
    order = rng.permutation(n)
    return x[order], y[order]


def load_digits():
    """scikit-learn's 8x8 digits: x (1797, 64) float64 in 0..16, y (1797,) int.
    Needs scikit-learn (optional)."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as exc:
        raise ImportError("the 8x8 digits set needs scikit-learn: pip install scikit-learn") from exc
    d = sk_load_digits()
    return d.data.astype(np.float64), d.target.astype(np.int64)
