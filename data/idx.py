"""Reader (and writer, for tests and users) of the IDX format of the MNIST
files, plain or gzip-compressed, safe on crafted files.

The header is read first and the size it declares is computed with Python
integers and compared with what the file can hold before any data is read:
a plain file must hold exactly that many bytes; a gzip file is decompressed
with a cap of the declared size plus one byte, so a decompression bomb is
refused after at most that much.
"""
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from jitprop.data.errors import IDXError

# MD5 of the published MNIST .gz files (Fashion-MNIST's are in datasets.py).
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}
# DEFLATE expands at most about 1032:1, so a gzip file of S bytes holds at
# most about 1032 * S bytes; the margin covers the gzip header and trailer.
_GZIP_RATIO = 1032
_GZIP_SLACK = 1 << 16
_CHUNK = 1 << 20


def _size(n):
    """``n`` bytes, exact and rounded: '47,040,000 bytes (47 MB)'."""
    if n < 1000:
        return f"{n} bytes"
    value, unit = float(n), "bytes"
    for unit in ("KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"):
        value /= 1000
        if value < 1000:
            break
    return f"{n:,} bytes ({value:.3g} {unit})"


def _memory_limit():
    """Half the machine's memory: no IDX array may claim more."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 1 << 34


class _Header:
    """What the header of an IDX file declares."""

    def __init__(self, path, dtype, shape, offset, gz, file_size):
        self.path, self.dtype, self.shape = path, dtype, shape
        self.offset, self.gz, self.file_size = offset, gz, file_size
        self.nbytes = math.prod(shape) * dtype.itemsize  # Python ints: exact, never negative


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open(path, gz):
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _read_exact(f, n, path, what, short_ok=False):
    try:
        raw = f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{path}: corrupt gzip data while reading the {what} ({exc})") from exc
    if len(raw) < n and not short_ok:
        raise IDXError(f"{path}: truncated {what} ({len(raw)} of {n} bytes)")
    return raw


def read_header(path, expect_shape=None):
    """Check the header of an IDX file and what the file can hold; read no data.

    Returns an object with ``dtype``, ``shape``, ``nbytes`` (data bytes the
    header declares), ``offset``, ``gz``. Raises ``IDXError`` naming the file
    for a bad magic number, no dimensions, a zero dimension, a shape other
    than ``expect_shape`` (a tuple, None for a free dimension), or a declared
    size the file cannot hold.
    """
    path = Path(path)
    try:
        gz = _is_gzip(path)
        file_size = path.stat().st_size
        with _open(path, gz) as f:
            magic = _read_exact(f, 4, path, "magic number", short_ok=True)
            if len(magic) < 4 or magic[0] or magic[1] or magic[2] not in _TYPES:
                raise IDXError(f"{path}: not an IDX file (magic number {magic.hex() or 'missing'}; "
                               "expected 0000, a type code 08..0e, then the number of dimensions)")
            ndim = magic[3]
            if ndim == 0:
                raise IDXError(f"{path}: the header declares 0 dimensions (magic number {magic.hex()})")
            dims = _read_exact(f, 4 * ndim, path, f"header ({ndim} dimensions)")
    except OSError as exc:
        raise IDXError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))
    if 0 in shape:
        raise IDXError(f"{path}: the header declares shape {shape}, with a dimension of 0 (no data)")
    if expect_shape is not None:
        ok = len(shape) == len(expect_shape) and all(w is None or w == g for w, g in zip(expect_shape, shape))
        if not ok:
            want = "(" + ", ".join("N" if w is None else str(w) for w in expect_shape) + ")"
            raise IDXError(f"{path}: expected shape {want}, the header declares {shape}")
    h = _Header(path, np.dtype(_TYPES[magic[2]]), shape, 4 + 4 * ndim, gz, file_size)
    what = f"the header declares shape {shape} of {h.dtype.name}, {_size(h.nbytes)} of data"
    if h.nbytes > _memory_limit():
        raise IDXError(f"{path}: {what}, more than half this machine's memory")
    if not gz and file_size - h.offset != h.nbytes:
        raise IDXError(f"{path}: {what}, but the file holds {_size(file_size - h.offset)} "
                       "(truncated, corrupt, or not this shape)")
    if gz and h.nbytes + h.offset > _GZIP_RATIO * file_size + _GZIP_SLACK:
        raise IDXError(f"{path}: {what}, more than a gzip file of {_size(file_size)} can hold "
                       "(corrupt header)")
    return h


def read_idx(path, expect_shape=None):
    """Read an IDX file (``.gz`` or plain) into an array of its stored type
    (native byte order), shape as declared in its header.

    ``expect_shape`` (a tuple, None for a free dimension) is checked against
    the header before any data is read. Never allocates more than the
    declared size (itself capped by the file's size); raises ``IDXError``
    naming the file and what is wrong.
    """
    h = read_header(path, expect_shape)
    buf = np.empty(h.nbytes, np.uint8)  # pages are committed only as they are filled
    view = memoryview(buf)
    try:
        with _open(path, h.gz) as f:
            f.read(h.offset)
            got = 0
            while got < h.nbytes:
                n = f.readinto(view[got:got + _CHUNK])
                if not n:
                    break
                got += n
            extra = f.read(1) if got == h.nbytes else b""
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    if got < h.nbytes:
        raise IDXError(f"{path}: expected {h.nbytes} data bytes for shape {h.shape}, "
                       f"found {got} (truncated or corrupt)")
    if extra:
        raise IDXError(f"{path}: more data than the {h.nbytes} bytes the header declares for shape "
                       f"{h.shape} (stopped reading there: corrupt, or a decompression bomb)")
    return buf.view(h.dtype).reshape(h.shape).astype(h.dtype.newbyteorder("="), copy=False)


def write_idx(path, array, compress=None):
    """Write a uint8/int8 array as IDX; gzip it if ``compress`` (default: the
    name ends in ``.gz``)."""
    array = np.ascontiguousarray(array)
    if array.dtype not in _CODES:
        raise IDXError(f"array: expected uint8 or int8, got {array.dtype}")
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    compress = str(path).endswith(".gz") if compress is None else compress
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def find_idx(folder, stem):
    """``<folder>/<stem>.gz`` or ``<folder>/<stem>``, whichever exists."""
    for name in (stem + ".gz", stem):
        p = Path(folder) / name
        if p.is_file():
            return p
    raise IDXError(f"{folder}: expected {stem}.gz or {stem}, found neither")


_ROLES = {"x_train": ("train-images",), "y_train": ("train-labels",),
          "x_test": ("t10k-images", "test-images"), "y_test": ("t10k-labels", "test-labels")}


def _find_role(folder, key):
    """The one file in ``folder`` whose name contains one of the role's words."""
    found = sorted(p for p in Path(folder).iterdir()
                   if p.is_file() and any(w in p.name for w in _ROLES[key]))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise IDXError(f"{folder}: more than one file for {key} ({names}); keep one")
    return found[0] if found else None


def check_labels_file(path, labels, n_classes=None):
    """Labels of an IDX file: 1-D integers in 0..n_classes-1 (any
    non-negative integers when ``n_classes`` is None)."""
    if labels.ndim != 1:
        raise IDXError(f"{path}: expected 1-D labels, the header declares shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise IDXError(f"{path}: expected integer labels, got {labels.dtype}")
    top = None if n_classes is None else n_classes - 1
    bad = (labels < 0) if top is None else (labels < 0) | (labels > top)
    if bad.any():
        i = int(np.argmax(bad))
        want = "non-negative labels" if top is None else f"labels in 0..{top}"
        raise IDXError(f"{path}: expected {want}, got {int(labels[i])} at index {i}")
    return labels


def load_idx_folder(folder, dataset=None):
    """The images and labels in a folder of IDX files as
    ``(x_train, y_train, x_test, y_test)``, images flattened to (N, pixels).

    ``dataset=None`` reads any well-formed IDX files: the names must contain
    ``train-images`` and ``train-labels`` (and optionally ``t10k-``/``test-``
    ``images`` and ``labels``; x_test and y_test are None without them),
    any count and image size, labels 1-D non-negative integers; no checksum.
    ``dataset="mnist"`` or ``"fashion-mnist"`` reads the four published files
    of that set and enforces its MD5s, shapes and label range (see
    :func:`jitprop.data.datasets.read_named_idx`).
    """
    if dataset is not None:
        from jitprop.data.datasets import get, read_named_idx
        arrays = read_named_idx(get(dataset), folder)
        return tuple(arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    folder = Path(folder)
    if not folder.is_dir():
        raise IDXError(f"{folder}: not a folder")
    paths = {k: _find_role(folder, k) for k in _ROLES}
    for k in ("x_train", "y_train"):
        if paths[k] is None:
            raise IDXError(f"{folder}: no file named like *{_ROLES[k][0]}* for {k}")
    if (paths["x_test"] is None) != (paths["y_test"] is None):
        have, miss = ("x_test", "y_test") if paths["y_test"] is None else ("y_test", "x_test")
        raise IDXError(f"{folder}: found {paths[have].name} for {have} but no file for {miss}")
    out = {}
    for k, path in paths.items():
        if path is None:
            out[k] = None
        elif k.startswith("x"):
            a = read_idx(path)
            if a.ndim < 2:
                raise IDXError(f"{path}: expected images (N, ...) of 2 or more dimensions, "
                               f"the header declares {a.shape}")
            out[k] = a.reshape(a.shape[0], -1)
        else:
            out[k] = check_labels_file(path, read_idx(path))
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x is not None and x.shape[0] != y.shape[0]:
            raise IDXError(f"{folder}: {paths[f'x_{split}'].name} has {x.shape[0]} images but "
                           f"{paths[f'y_{split}'].name} has {y.shape[0]} labels")
    if out["x_test"] is not None and out["x_test"].shape[1] != out["x_train"].shape[1]:
        raise IDXError(f"{folder}: test images have {out['x_test'].shape[1]} pixels, "
                       f"training images {out['x_train'].shape[1]}")
    return out["x_train"], out["y_train"], out["x_test"], out["y_test"]
