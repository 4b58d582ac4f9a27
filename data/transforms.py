"""Small helpers the seed notebooks use: shuffle, standardise, one-hot,
and a validation split taken from the training set."""
import numpy as np

from jitprop.model.checks import check_labels, check_positive_int


def shuffle(x, y, seed=None):
    """The same random permutation applied to the rows of x and y (copies)."""
    if len(x) != len(y):
        raise ValueError(f"x and y: expected the same number of rows, got {len(x)} and {len(y)}")
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order]


def standardize(x, mean=None, std=None, dtype=np.float64):
    """The seed's ``(x - mean) / std`` with one scalar mean and std (computed
    from ``x`` unless given, e.g. the training set's for the test set).
    Returns ``(x_standardized, mean, std)``."""
    x = np.asarray(x)
    mean = float(x.mean()) if mean is None else float(mean)
    std = float(x.std()) if std is None else float(std)
    if not std > 0:
        raise ValueError(f"std: expected a positive standard deviation, got {std}")
    return ((x - mean) / std).astype(dtype, copy=False), mean, std


def vectorize(labels, n_classes=10, dtype=np.float64):
    """One-hot (N, n_classes) of integer labels (N,)."""
    n_classes = check_positive_int("n_classes", n_classes)
    labels = check_labels("labels", labels, n_classes)
    out = np.zeros((labels.shape[0], n_classes), dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def validation_split(x, y, n_val=10000):
    """Last ``n_val`` rows of the training set as validation:
    ``(x_train, y_train, x_val, y_val)``; ``n_val=0`` keeps all for training."""
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or not 0 <= n_val < len(x):
        raise ValueError(f"n_val: expected an integer in 0..{len(x) - 1}, got {n_val!r}")
    cut = len(x) - n_val
    return x[:cut], y[:cut], x[cut:], y[cut:]
