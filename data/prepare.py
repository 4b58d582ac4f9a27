"""From a data set to arrays ready to train on: which rows train and
validate, and how pixels are scaled.

Two splits: ``"holdout"`` (the last ``n_val`` training rows validate; the
official test set stays the test set) and ``"hamlet"`` (HaMLeT's
``load_data``: all training and test rows shuffled together, the first rows
train and the last ``n_val`` (20000) validate; no separate test set). Two
scalings: ``"standardize"`` (the seeds' ``(x - mean) / std`` with one scalar
mean and std) and ``"raw"`` (pixel values as floats, as Homework 1 Q5 feeds
them; mean 0 and std 1 are returned so the same formula applies).
"""
from pathlib import Path

import numpy as np

from jitprop.checks import check_dtype
from jitprop.data.transforms import check_seed, standardize, validation_split

SPLITS = ("holdout", "hamlet")
SCALES = ("standardize", "raw")
NAMED = ("mnist", "fashion-mnist")


def load_dataset(name_or_path, cache_dir=None, idx_dir=None, test_path=None):
    """The front door: ``"mnist"``, ``"fashion-mnist"`` or the path of a
    ``.npz``/``.csv`` file or a folder of IDX files (see
    :func:`jitprop.data.load_arrays`). Returns
    ``ArrayData`` (x_train, y_train, x_test, y_test, n_features, n_classes,
    source). ``cache_dir`` and ``idx_dir`` apply to the named sets,
    ``test_path`` to files."""
    from jitprop.data.arrays import ArrayData, load_arrays
    if isinstance(name_or_path, str) and name_or_path.lower().replace("_", "-") in NAMED:
        name = name_or_path.lower().replace("_", "-")
        if test_path is not None:
            raise ValueError(f"test_path: only for a data file, not for {name}")
        if name == "mnist":
            from jitprop.data.mnist import load_mnist as load
        else:
            from jitprop.data.fashion import load_fashion_mnist as load
        x_train, y_train, x_test, y_test = load(cache_dir, idx_dir)
        return ArrayData(x_train, y_train, x_test, y_test, x_train.shape[1], 10, name)
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"dataset: expected a name {NAMED} or a file path, got {type(name_or_path).__name__}")
    if not Path(name_or_path).exists():
        raise ValueError(f"dataset: expected one of {NAMED} or the path of a .npz or .csv file, "
                         f"got {str(name_or_path)!r} (no such file)")
    if idx_dir is not None:
        raise ValueError("idx_dir: only for mnist or fashion-mnist, not for a data file")
    return load_arrays(name_or_path, test_path)


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def _scale(x, scale, dtype, mean=None, std=None):
    """``(x_scaled, mean, std)``; for raw, mean 0 and std 1."""
    if scale == "raw":
        return np.asarray(x).astype(dtype), 0.0, 1.0
    return standardize(x, mean, std, dtype)


def hamlet_split(x_all, y_all, seed=0, *, n_val=20000, scale="standardize", dtype=np.float64):
    """HaMLeT's ``load_data`` and split: shuffle all rows with
    ``np.random.RandomState(seed).permutation`` (what the seed's
    ``np.random.permutation`` gives after ``np.random.seed(seed)``),
    standardise with the scalar mean and std of ALL rows (as the seed does
    before splitting), then the first rows train and the last ``n_val``
    validate. With MNIST's 70000 rows: 50000 and 20000.

    x_all (N, F), y_all (N,). Returns a dict with x_train, y_train, x_val,
    y_val (None when ``n_val`` is 0), mean, std (0 and 1 for ``scale="raw"``).
    """
    dtype = check_dtype(dtype)
    seed = check_seed(seed)
    _choice("scale", scale, SCALES)
    x_all, y_all = np.asarray(x_all), np.asarray(y_all)
    if len(x_all) != len(y_all):
        raise ValueError(f"x_all and y_all: expected the same number of rows, got {len(x_all)} and {len(y_all)}")
    n = len(x_all)
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or not 0 <= n_val < n:
        raise ValueError(f"n_val: expected an integer in 0..{n - 1}, got {n_val!r}")
    order = np.random.RandomState(seed).permutation(n)
    x, mean, std = _scale(x_all[order], scale, dtype)
    y = y_all[order]
    cut = n - n_val
    return {"x_train": x[:cut], "y_train": y[:cut],
            "x_val": x[cut:] if n_val else None, "y_val": y[cut:] if n_val else None,
            "mean": mean, "std": std}


def dataset_arrays(dataset="mnist", dtype=np.float64, n_val=None, *, split="holdout",
                   scale="standardize", seed=0, cache_dir=None, test_path=None):
    """A data set (see :func:`load_dataset`) ready to train on: features
    scaled and cast to ``dtype``, labels as stored.

    ``split="holdout"``: the last ``n_val`` training rows validate (default
    10000 for the named sets, 0 for files), statistics from the remaining
    training rows, the test set as published (None if the file has none).
    ``split="hamlet"``: see :func:`hamlet_split` (default ``n_val`` 20000;
    needs a test set to pool; x_test and y_test are None). Returns a dict:
    x_train, y_train, x_val, y_val, x_test, y_test, mean, std, n_features,
    n_classes, dataset, split, scale.
    """
    dtype = check_dtype(dtype)
    _choice("split", split, SPLITS)
    _choice("scale", scale, SCALES)
    data = load_dataset(dataset, cache_dir=cache_dir, test_path=test_path)
    named = data.source in NAMED
    if split == "hamlet":
        if data.x_test is None:
            raise ValueError(f"split: 'hamlet' pools the training and test rows; {data.source} has no test set")
        out = hamlet_split(np.concatenate([data.x_train, data.x_test]),
                           np.concatenate([data.y_train, data.y_test]), seed,
                           n_val=20000 if n_val is None else n_val, scale=scale, dtype=dtype)
        out.update(x_test=None, y_test=None)
    else:
        if n_val is None:
            n_val = 10000 if named else 0
        x_tr, y_tr, x_val, y_val = validation_split(data.x_train, data.y_train, n_val)
        x_tr, mean, std = _scale(x_tr, scale, dtype)
        out = {"x_train": x_tr, "y_train": y_tr,
               "x_val": _scale(x_val, scale, dtype, mean, std)[0] if n_val else None,
               "y_val": y_val if n_val else None,
               "x_test": None if data.x_test is None else _scale(data.x_test, scale, dtype, mean, std)[0],
               "y_test": data.y_test, "mean": mean, "std": std}
    out.update(n_features=data.n_features, n_classes=data.n_classes, dataset=data.source,
               split=split, scale=scale)
    return out


def mnist_arrays(dtype=np.float64, n_val=None, cache_dir=None, *, dataset="mnist", split="holdout",
                 scale="standardize", seed=0):
    """MNIST (or ``dataset``) ready to train on: images standardised with
    the seed's ``(x - mean) / std`` (scalar mean and std of the training
    rows), cast to ``dtype`` (float32 or float64); labels uint8. The
    validation set is the last ``n_val`` training rows (default 10000; 0:
    none). Returns a dict with x_train, y_train, x_val, y_val, x_test,
    y_test (x_val/y_val are None when n_val is 0), mean, std and more; see
    :func:`dataset_arrays` for ``split``, ``scale`` and ``seed``."""
    return dataset_arrays(dataset, dtype, n_val, split=split, scale=scale, seed=seed, cache_dir=cache_dir)
