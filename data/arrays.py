"""Your own data: arrays from a ``.npz`` or ``.csv`` file, any number of
features and classes, checked with messages that name the file, the array
or column, and what is wrong.

``.npz``: ``x_train`` (N, ...) numbers, ``y_train`` (N,) integer labels,
optionally ``x_test`` and ``y_test`` (both or neither). Read without pickle;
each member's header is checked against its size before it is read.

``.csv``: one row per sample, the label in the first column and the
features after it, as in the MNIST CSV files; a first line that is not all
numbers is taken as a header.

A folder: IDX files named like ``*train-images*``, ``*train-labels*`` and
optionally ``*t10k-*``/``*test-*`` (see :func:`jitprop.data.load_idx_folder`).

Labels must be integers 0..K-1 with every class present in the training
set (K is then the number of classes); features finite numbers.
"""
import math
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from jitprop.data.errors import DataFileError

_DEFLATE_RATIO = 1032  # DEFLATE expands at most about 1032:1


@dataclass
class ArrayData:
    """A data set ready for the trainer's checks.

    x_train (N, n_features) and x_test (M, n_features): uint8 when every
    value is an integer 0..255 (the standardise fast path), else the stored
    integer or float dtype (CSV: float64); y_train (N,), y_test (M,): int64
    labels in 0..n_classes-1. x_test and y_test are None when the file has
    no test set. ``source`` is the data set's name or the file's path.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: Optional[np.ndarray]
    y_test: Optional[np.ndarray]
    n_features: int
    n_classes: int
    source: str

    def arrays(self):
        """``(x_train, y_train, x_test, y_test)``."""
        return self.x_train, self.y_train, self.x_test, self.y_test


def load_arrays(path, test_path=None):
    """Read and check ``path`` (``.npz``, ``.csv`` or a folder of IDX files);
    returns ``ArrayData``.

    ``test_path`` (a second file of the same kind) gives the test set when
    ``path`` has none, e.g. ``train.csv`` and ``test.csv``. Raises
    ``DataFileError`` naming the file, the array or column, and what is wrong.
    """
    path = Path(path)
    train = _read(path)
    x_test, y_test = train.get("x_test"), train.get("y_test")
    if test_path is not None:
        if x_test is not None:
            raise DataFileError(f"{path}: already holds x_test and y_test; give no test_path")
        test = _read(Path(test_path))
        if "x_test" in test:
            raise DataFileError(f"{test_path}: expected one set (x_train, y_train) to use as the test set, "
                                "found x_test and y_test as well")
        x_test, y_test, test_where = test["x_train"], test["y_train"], Path(test_path)
    else:
        test_where = path
    x_train = _features(path, "x_train", train["x_train"])
    y_train = _labels(path, "y_train", train["y_train"], x_train.shape[0], "x_train")
    n_classes = _classes(path, y_train)
    if x_test is not None:
        x_test = _features(test_where, "x_test", x_test)
        if x_test.shape[1] != x_train.shape[1]:
            raise DataFileError(f"{test_where}: x_test: expected {x_train.shape[1]} features per row "
                                f"(as x_train), got {x_test.shape[1]}")
        y_test = _labels(test_where, "y_test", y_test, x_test.shape[0], "x_test")
        if y_test.max() >= n_classes:
            i = int(np.argmax(y_test >= n_classes))
            raise DataFileError(f"{test_where}: y_test: expected labels in 0..{n_classes - 1} "
                                f"(the classes of y_train), got {int(y_test[i])} at row {i}")
    return ArrayData(x_train, y_train, x_test, y_test, int(x_train.shape[1]), n_classes, str(path))


def _read(path):
    if path.is_dir():  # a folder of IDX files, any count and size
        from jitprop.data.idx import load_idx_folder
        arrays = dict(zip(("x_train", "y_train", "x_test", "y_test"), load_idx_folder(path)))
        return {k: v for k, v in arrays.items() if v is not None}
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise DataFileError(f"{path}: expected a .npz or .csv file, got {suffix or 'no extension'}")


# --- .npz -----------------------------------------------------------------

def _npy_header(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def _read_member(path, z, info, key):
    """One array of an npz, its header checked against the member's size."""
    where = f"{path}: {key}"
    try:
        with z.open(info) as f:
            shape, _, dtype = _npy_header(f)
            header = f.tell() if hasattr(f, "tell") else None
        if dtype.hasobject:
            raise DataFileError(f"{where}: holds Python objects ({dtype}); only numeric arrays are read "
                                "(no pickle)")
        nbytes = math.prod(shape) * dtype.itemsize
        if header is not None and info.file_size - header != nbytes:
            raise DataFileError(f"{where}: the header declares shape {shape} of {dtype} ({nbytes} bytes) but "
                                f"the member holds {info.file_size - header} bytes")
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > _DEFLATE_RATIO * info.compress_size + 4096:
            raise DataFileError(f"{where}: claims {info.file_size} bytes from {info.compress_size} compressed "
                                "(more than compression allows: corrupt)")
        with z.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except DataFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise DataFileError(f"{where}: cannot read it ({type(exc).__name__}: {exc})") from exc


def _read_npz(path):
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFileError(f"{path}: not a readable .npz file ({exc})") from exc
    with z:
        members = {i.filename[:-4]: i for i in z.infolist() if i.filename.endswith(".npy")}
        for key in ("x_train", "y_train"):
            if key not in members:
                raise DataFileError(f"{path}: no array {key}; expected x_train, y_train and optionally "
                                    f"x_test, y_test, found {sorted(members) or 'none'}")
        if ("x_test" in members) != ("y_test" in members):
            have = "x_test" if "x_test" in members else "y_test"
            raise DataFileError(f"{path}: has {have} but not {'y_test' if have == 'x_test' else 'x_test'}; "
                                "give both or neither")
        return {k: _read_member(path, z, members[k], k)
                for k in ("x_train", "y_train", "x_test", "y_test") if k in members}


# --- .csv -----------------------------------------------------------------

def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_bad_line(path, skip):
    """Where a CSV stops being a table of numbers: a message, or None."""
    width = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if number <= skip or not line.strip():
                continue
            fields = line.rstrip("\r\n").split(",")
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                return f"line {number} has {len(fields)} fields, the first data line has {width}"
            for col, text in enumerate(fields, 1):
                if not _is_number(text):
                    return f"line {number}, column {col}: {text.strip()!r} is not a number"
    return None


def _read_csv(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if not first.strip():
        raise DataFileError(f"{path}: empty (expected rows of label,feature,feature,...)")
    header = not all(_is_number(v) for v in first.rstrip("\r\n").split(","))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
            table = np.loadtxt(path, delimiter=",", dtype=np.float64, skiprows=int(header), ndmin=2,
                               encoding="utf-8")
    except ValueError as exc:
        where = _first_bad_line(path, int(header)) or str(exc)
        raise DataFileError(f"{path}: not a table of numbers: {where}") from exc
    if table.shape[0] == 0:
        raise DataFileError(f"{path}: no data rows" + (" after the header line" if header else ""))
    if table.shape[1] < 2:
        raise DataFileError(f"{path}: expected a label column and at least one feature column, "
                            f"got {table.shape[1]} column")
    offset = 1 + int(header)  # file line of table row 0
    bad = ~np.isfinite(table)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        what = "y_train (column 1, the labels)" if c == 0 else "x_train"
        raise DataFileError(f"{path}: {what}: expected finite numbers, got {table[r, c]} at line "
                            f"{r + offset}, column {c + 1}")
    frac = table[:, 0] != np.round(table[:, 0])
    if frac.any():
        r = int(np.argmax(frac))
        raise DataFileError(f"{path}: y_train (column 1, the labels): expected integer labels, got "
                            f"{table[r, 0]} at line {r + offset}")
    return {"x_train": table[:, 1:], "y_train": table[:, 0]}


# --- checks -----------------------------------------------------------------

def _features(where, name, x):
    if x.dtype.kind not in "iuf":
        raise DataFileError(f"{where}: {name}: expected numbers (integer or float), got dtype {x.dtype}")
    if x.ndim < 2:
        raise DataFileError(f"{where}: {name}: expected (rows, features) of 2 or more dimensions, "
                            f"got shape {x.shape}")
    if x.shape[0] == 0 or x.size == 0:
        raise DataFileError(f"{where}: {name}: expected at least one row and one feature, got shape {x.shape}")
    x = x.reshape(x.shape[0], -1)
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            raise DataFileError(f"{where}: {name}: expected finite values, got {x[r, c]} at row {r}, "
                                f"column {c}")
    if x.dtype != np.uint8 and x.min() >= 0 and x.max() <= 255 and (x.dtype.kind in "iu" or (x == np.round(x)).all()):
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x)


def _labels(where, name, y, n_rows, rows_name):
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = " (one-hot? give the class numbers, e.g. y.argmax(axis=1))" if y.ndim == 2 else ""
        raise DataFileError(f"{where}: {name}: expected 1-D class labels, got shape {y.shape}{hint}")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(f"{where}: {name}: expected integer labels, got {y[i]} at row {i}")
    elif y.dtype.kind not in "iu":
        raise DataFileError(f"{where}: {name}: expected integer labels, got dtype {y.dtype}")
    if y.shape[0] != n_rows:
        raise DataFileError(f"{where}: {name} has {y.shape[0]} labels but {rows_name} has {n_rows} rows")
    if (y < 0).any():
        i = int(np.argmax(y < 0))
        raise DataFileError(f"{where}: {name}: expected labels 0..K-1, got {y[i]} at row {i}")
    return y.astype(np.int64)


def _classes(where, y):
    """K = max + 1, after checking that every class 0..K-1 has a row."""
    k = int(y.max()) + 1
    if k < 2:
        raise DataFileError(f"{where}: y_train: expected at least 2 classes, every label is 0")
    if k > max(y.shape[0], 1 << 20):  # bincount would allocate k counters
        raise DataFileError(f"{where}: y_train: expected labels 0..K-1 with every class present; labels run "
                            f"up to {k - 1} but there are only {y.shape[0]} rows")
    counts = np.bincount(y, minlength=k)
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        shown = ", ".join(str(int(c)) for c in missing[:5]) + (", ..." if missing.size > 5 else "")
        raise DataFileError(f"{where}: y_train: expected labels 0..K-1 with every class present; labels run "
                            f"{int(y.min())}..{k - 1} but class {shown} has no rows"
                            + (" (labels must count from 0)" if counts[0] == 0 else ""))
    return k
