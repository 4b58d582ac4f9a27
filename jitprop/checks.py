"""Argument checks for every public entry point.

Each failure is a ``ValueError`` or ``TypeError`` whose message names the
argument, what was expected and what was given, so a user never meets a Numba
typing error or a silent wrong answer.
"""
import numbers

import numpy as np

BACKENDS = ("numba", "numpy")
DTYPES = {"float64": np.float64, "float32": np.float32}


def check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return backend


def check_dtype(dtype):
    """Accept np.float64/np.float32, their names or dtypes; return the numpy type."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.type not in (np.float64, np.float32):
        raise ValueError(f"dtype: expected float64 or float32, got {dtype!r}")
    return dt.type


def check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def check_scalar(name, value, minimum=0.0, strict=False):
    """A finite real number >= minimum (> minimum if strict)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name}: expected a number {op} {minimum}, got {value!r}")
    return float(value)


def _describe(x):
    return f"{x.dtype} array of shape {x.shape}"


def _sum_is_finite(x):
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(x.sum()))


def check_array(name, x, dtype, ndim=2, shape=None, finite=True):
    """Return ``x`` as a C-contiguous array of ``dtype`` after checking it.

    ``shape`` may contain ``None`` for a free dimension. A non-contiguous array
    is copied (the kernels need C order); a wrong float width, an integer,
    bool or object dtype, a wrong rank or shape, an empty batch or a
    non-finite value is an error.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array of {np.dtype(dtype)}, got {type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name}: expected a plain numpy array, got a masked array (its masked-out values would be "
                        "used); pass x.filled(value) or drop the masked rows")
    if x.dtype != np.dtype(dtype):
        hint = ""
        if x.dtype.kind in "fiu":
            hint = f"; convert it with .astype(np.{np.dtype(dtype).name})"
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {x.dtype}{hint}")
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array (batch first), got {_describe(x)}")
    if shape is not None:
        for axis, (want, got) in enumerate(zip(shape, x.shape)):
            if want is not None and want != got:
                raise ValueError(f"{name}: expected shape {_shape_str(shape)}, got {x.shape} "
                                 f"(axis {axis} should be {want})")
    if x.ndim and x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one row, got an empty batch {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {x.shape}")
    if finite:
        check_finite(name, x)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x


def check_finite(name, x):
    """Raise ValueError naming ``name``, the first non-finite value of the
    array ``x`` and its index, if there is one."""
    # A finite sum means every value is finite (a NaN or an infinity makes the
    # sum NaN or infinite), in half the time of np.isfinite(x).all() and
    # without its temporary; a non-finite sum (or one that overflowed) is
    # looked at value by value.
    if x.dtype.kind in "fc" and not _sum_is_finite(x) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"{name}: expected finite values, got {x[tuple(bad)]} at index {tuple(int(i) for i in bad)}")


def _shape_str(shape):
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def check_same_shape(name_a, a, name_b, b):
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b}: expected the same shape, got {a.shape} and {b.shape}")


def check_labels(name, labels, n_classes=10):
    """Integer class labels in 0..n_classes-1, shape (N,)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class labels, got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise ValueError(f"{name}: expected labels in 0..{n_classes - 1}, got {int(bad)}")
    return labels


def allocate(name, shape, dtype):
    """``np.zeros(shape, dtype)``, or a MemoryError saying how much ``name``
    needs, instead of NumPy's bare one."""
    n = 1
    for s in shape:
        n *= int(s)
    need = n * np.dtype(dtype).itemsize
    try:
        return np.zeros(shape, dtype)
    except (MemoryError, ValueError) as exc:
        raise MemoryError(f"{name}: needs {_bytes(need)} for {n:,} {np.dtype(dtype).name} values, "
                          f"more than this machine can give ({type(exc).__name__})") from None


def _bytes(n):
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:,.1f} {unit}" if unit != "bytes" else f"{n} bytes"
        n /= 1024
